import { defineConfig } from 'vite';

// Relative asset paths: the server serves dist/ at `/`, and nothing ties the build to a
// host. `npm run dev` proxies the API to a local `bulkhead server`.
export default defineConfig({
  base: './',
  build: { outDir: 'dist', emptyOutDir: true, chunkSizeWarningLimit: 1500 },
  server: { proxy: { '/api': process.env.BULKHEAD_SERVER ?? 'http://127.0.0.1:7410' } },
});
