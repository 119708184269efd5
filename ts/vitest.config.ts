import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    root: "ts",
    include: ["test/**/*.test.ts"],
    // React tests opt into jsdom with a `@vitest-environment jsdom` comment.
    environment: "node",
    // Node 20's own WebSocket (the integration test's) is behind a flag.
    pool: "forks",
    poolOptions: { forks: { execArgv: typeof WebSocket === "undefined" ? ["--experimental-websocket"] : [] } },
    testTimeout: 10_000,
  },
});
