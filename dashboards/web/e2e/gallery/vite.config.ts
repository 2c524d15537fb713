// Builds the visualization gallery used by the e2e run (not shipped).
import { defineConfig } from "vite";

export default defineConfig({
  root: __dirname,
  base: "./",
  logLevel: "warn",
  esbuild: { jsx: "automatic" },
  build: { outDir: process.env.GALLERY_OUT ?? "../../node_modules/.cache/puod-gallery", emptyOutDir: true, target: "es2022", chunkSizeWarningLimit: 1000 },
});
