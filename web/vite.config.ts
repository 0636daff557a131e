import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// The panel is built into dist/web and served by the service itself at "/".
export default defineConfig({
  root: import.meta.dirname,
  plugins: [react()],
  build: { outDir: "../dist/web", emptyOutDir: true, chunkSizeWarningLimit: 1024 },
  server: { fs: { allow: [".."] } },
});
