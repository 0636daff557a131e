import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// The panel is built into web/dist and served by the service itself at "/".
export default defineConfig({
  root: import.meta.dirname,
  plugins: [react()],
  build: { outDir: "dist", emptyOutDir: true, chunkSizeWarningLimit: 1024 },
  server: { fs: { allow: [".."] } },
});
