// The reconnect policy against the table the Go client's tests read too
// (ssotws/client/policy_test.go): testdata/reconnect-policy.json.

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { TokenReason } from "../runtime/src/auth.js";
import { backoffDelay } from "../runtime/src/backoff.js";
import { policy } from "../runtime/src/policy.js";
import type { Drop, Verdict } from "../runtime/src/policy.js";

interface Table {
  backoff: { bounds: { attempt: number; minMs: number; maxMs: number }[] };
  cases: {
    name: string;
    drop: Drop;
    state: { attempt: number; authRetried?: boolean; reason?: TokenReason; provider: boolean };
    want: {
      do: Verdict;
      backoff?: number;
      reason: TokenReason;
      report?: boolean;
      resume: boolean;
      next: { attempt: number; authRetried?: boolean };
    };
  }[];
}

const table = JSON.parse(
  readFileSync(new URL("../../testdata/reconnect-policy.json", import.meta.url), "utf8"),
) as Table;

describe("reconnect policy (testdata/reconnect-policy.json)", () => {
  it("has cases", () => {
    expect(table.cases.length).toBeGreaterThan(0);
  });
  for (const c of table.cases) {
    it(c.name, () => {
      const got = policy(c.drop, {
        attempt: c.state.attempt,
        authRetried: c.state.authRetried ?? false,
        reason: c.state.reason ?? "current",
        provider: c.state.provider,
      });
      expect(got.do).toBe(c.want.do);
      if (got.do === "reconnect-after-backoff") expect(got.backoff).toBe(c.want.backoff ?? 0);
      expect(got.reason).toBe(c.want.reason);
      expect(got.report).toBe(c.want.report ?? false);
      expect(got.resume).toBe(c.want.resume);
      expect(got.next).toEqual({
        attempt: c.want.next.attempt,
        authRetried: c.want.next.authRetried ?? false,
        reason: got.reason,
        provider: c.state.provider,
      });
    });
  }
});

describe("backoff bounds (testdata/reconnect-policy.json)", () => {
  for (const b of table.backoff.bounds) {
    it(`attempt ${b.attempt}: ${b.minMs}–${b.maxMs} ms`, () => {
      expect(backoffDelay(b.attempt, { random: () => 0 })).toBe(b.minMs);
      expect(backoffDelay(b.attempt, { random: () => 1 - Number.EPSILON })).toBe(b.maxMs);
      for (let i = 0; i < 50; i++) {
        const d = backoffDelay(b.attempt);
        expect(d).toBeGreaterThanOrEqual(b.minMs);
        expect(d).toBeLessThanOrEqual(b.maxMs);
      }
    });
  }
});
