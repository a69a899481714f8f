import { defineConfig } from 'vite';

// Everything is bundled: the app runs with no network at all.
export default defineConfig({
  clearScreen: false,
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2021', assetsInlineLimit: 0, sourcemap: false },
  test: { environment: 'node', include: ['tests/**/*.test.ts'] },
});
