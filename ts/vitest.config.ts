import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    root: "ts",
    include: ["test/**/*.test.ts"],
    // React tests opt into jsdom with a `@vitest-environment jsdom` comment.
    environment: "node",
  },
});
