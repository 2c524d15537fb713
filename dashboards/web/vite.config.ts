/// <reference types="vitest/config" />
import { defineConfig } from "vite";

// No @vitejs/plugin-react: esbuild compiles TSX with the automatic JSX
// runtime, which is all a production build needs, and it keeps the install
// small (no Babel).
export default defineConfig({
  esbuild: { jsx: "automatic" },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    sourcemap: false,
    // The initial JavaScript budget is 300 KB gzipped; warn well before.
    chunkSizeWarningLimit: 400,
  },
  server: {
    // `npm run dev` against a local `puod serve`.
    proxy: { "/api": "http://127.0.0.1:8080" },
  },
  test: {
    environment: "jsdom",
    globals: true,
    setupFiles: ["src/test/setup.ts"],
    include: ["src/**/*.test.{ts,tsx}"],
    css: false,
    // Generous: on a loaded 2-core machine jsdom renders of the larger
    // forms can pass the 5 s default without anything being wrong.
    testTimeout: 30_000,
  },
});
