// Bundles the notifications example's web page into dist/ (index.html + app.js)
// with esbuild. The output depends only on the sources: run it again and
// the bytes are the same. Run from anywhere: node examples/notifications/web/build.mjs
import { copyFileSync, mkdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, "dist");

rmSync(dist, { recursive: true, force: true });
mkdirSync(dist, { recursive: true });
await build({
  absWorkingDir: here,
  entryPoints: ["src/main.tsx"],
  outfile: join(dist, "app.js"),
  bundle: true,
  format: "iife",
  platform: "browser",
  target: ["es2022"],
  jsx: "automatic",
  minify: true,
  sourcemap: false,
  legalComments: "none",
  charset: "utf8",
  define: { "process.env.NODE_ENV": '"production"' },
  tsconfig: join(here, "tsconfig.json"),
  // @ssot-ws/runtime from its sources in the workspace, as tsc checks it.
  conditions: ["@ssot-ws/source"],
  logLevel: "warning",
});
copyFileSync(join(here, "index.html"), join(dist, "index.html"));
console.log(`notifications web: built ${dist}`);
