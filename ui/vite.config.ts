import { defineConfig } from 'vite';

// Everything is bundled: the app runs with no network at all.
export default defineConfig({
  clearScreen: false,
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2021',
    assetsInlineLimit: 0,
    sourcemap: false,
    // The camera's QR reader is its own chunk with its exports named, so that the browser test
    // (tests/web) can load it as shipped and feed it a fake camera.
    rollupOptions: { output: { minifyInternalExports: false } },
  },
  test: { environment: 'node', include: ['tests/**/*.test.ts'] },
});
