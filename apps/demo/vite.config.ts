import { defineConfig } from 'vite';

// Built into dist/, which `fonana-realtime demo` serves at GET / (assets under /assets/).
export default defineConfig({
  root: import.meta.dirname,
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022' },
  logLevel: 'warn',
});
