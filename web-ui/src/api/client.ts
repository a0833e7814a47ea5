// The API client: every call carries the bearer token; errors become ApiError with the
// server's one-line message (and the `file:line:col` details of invalid policies).

import type {
  ApplyRequest, BaselineRequest, BaselineResult, ChangeResult, ErrorBody, FlowPage, Graph, Mode, PolicyInfo, ReplayRequest,
  ReplayResult, Revision, SelectingPolicy, Session, WorkloadInfo,
} from './types';

export class ApiError extends Error {
  constructor(public status: number, message: string, public details: string[] = []) {
    super(message);
  }
}

export class Client {
  constructor(public readonly token: string, private readonly base = '/api/v1') {}

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { Authorization: `Bearer ${this.token}` };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let resp: Response;
    try {
      resp = await fetch(this.base + path, {
        method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (e) {
      throw new ApiError(0, `the server cannot be reached (${(e as Error).message})`);
    }
    const text = await resp.text();
    if (!resp.ok) {
      let err: ErrorBody = { error: text || resp.statusText };
      try { err = JSON.parse(text) as ErrorBody; } catch { /* not JSON: keep the text */ }
      throw new ApiError(resp.status, err.error, err.details ?? []);
    }
    return (text ? JSON.parse(text) : undefined) as T;
  }

  session(): Promise<Session> { return this.call('GET', '/session'); }
  graph(): Promise<Graph> { return this.call('GET', '/graph'); }
  workload(id: string): Promise<WorkloadInfo> { return this.call('GET', `/workloads/${id}`); }
  workloads(): Promise<WorkloadInfo[]> { return this.call('GET', '/workloads'); }
  selecting(id: string): Promise<SelectingPolicy[]> { return this.call('GET', `/workloads/${id}/policies`); }
  setMode(id: string, mode: Mode): Promise<Revision> {
    return this.call('PUT', `/workloads/${id}/mode`, { mode });
  }
  flows(params: Record<string, string>): Promise<FlowPage> {
    const q = new URLSearchParams(params).toString();
    return this.call('GET', `/flows${q ? '?' + q : ''}`);
  }
  policies(): Promise<PolicyInfo[]> { return this.call('GET', '/policies'); }
  apply(req: ApplyRequest): Promise<ChangeResult> { return this.call('PUT', '/policies', req); }
  deletePolicy(name: string): Promise<ChangeResult> {
    return this.call('DELETE', `/policies/${name.split('/').map(encodeURIComponent).join('/')}`);
  }
  replay(req: ReplayRequest): Promise<ReplayResult> { return this.call('POST', '/replay', req); }
  baseline(req: BaselineRequest): Promise<BaselineResult> { return this.call('POST', '/baseline', req); }
}
