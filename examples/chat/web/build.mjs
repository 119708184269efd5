// Bundles the chat example's web page into dist/ (index.html + app.js)
// with esbuild, and its connect-query version (src/query) into dist/query/,
// which the example's server then serves at /query/. The output depends only on the sources: run it again and
// the bytes are the same. Run from anywhere: node examples/chat/web/build.mjs
import { copyFileSync, mkdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, "dist");

rmSync(dist, { recursive: true, force: true });
for (const [entry, out] of [
  ["src/main.tsx", dist],
  ["src/query/main.tsx", join(dist, "query")],
]) {
  mkdirSync(out, { recursive: true });
  await build({
    absWorkingDir: here,
    entryPoints: [entry],
    outfile: join(out, "app.js"),
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
  copyFileSync(join(here, "index.html"), join(out, "index.html"));
}
console.log(`chat web: built ${dist}`);
