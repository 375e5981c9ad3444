import { defineConfig } from "vite";
import { svelte } from "@sveltejs/vite-plugin-svelte";
import tailwindcss from "@tailwindcss/vite";

// The UI lives in ui/; Tauri loads the build from dist/ (tauri.conf.json frontendDist).
export default defineConfig({
  root: "ui",
  plugins: [svelte(), tailwindcss()],
  clearScreen: false,
  build: { outDir: "../dist", emptyOutDir: true, target: "safari15" },
  server: { port: 1420, strictPort: true, watch: { ignored: ["**/src-tauri/**", "**/target/**"] } },
});
