// Sign-in. The demo opens the UI with `#token=...` in the URL: the fragment never
// reaches a server or its logs. The token is kept for this tab only (sessionStorage)
// and removed from the address bar at once.

import { h } from './dom';

const KEY = 'bulkhead.token';

export function takeToken(): string | null {
  const params = new URLSearchParams(location.hash.replace(/^#/, ''));
  const fromUrl = params.get('token');
  if (fromUrl) {
    sessionStorage.setItem(KEY, fromUrl);
    history.replaceState(null, '', location.pathname + location.search);
    return fromUrl;
  }
  return sessionStorage.getItem(KEY);
}

export function forget(): void {
  sessionStorage.removeItem(KEY);
}

/** Shows the sign-in form; resolves with the token typed in. */
export function signIn(root: HTMLElement, message?: string): Promise<string> {
  return new Promise((resolve) => {
    const input = h('input', { id: 'token-input', type: 'password', placeholder: 'bh_…', autocomplete: 'off', size: 70 }) as HTMLInputElement;
    const form = h('form', { id: 'signin', class: 'signin' },
      h('h1', {}, 'Bulkhead'),
      h('p', {}, 'Sign in with an API token (the admin token file, or one from `bulkhead token create`).'),
      message ? h('p', { class: 'error', id: 'signin-error' }, message) : null,
      input,
      h('button', { type: 'submit', class: 'primary' }, 'Sign in'));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const t = input.value.trim();
      if (!t) return;
      sessionStorage.setItem(KEY, t);
      form.remove();
      resolve(t);
    });
    root.append(form);
    input.focus();
  });
}
