// What a connection tells a person: the close meanings against the table
// the Go client's tests read too (ssotws/client/conn_log_test.go), and the
// records a logger receives over a connection's life (Go: conn_log.go).

import { readFileSync } from "node:fs";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createConnection } from "../runtime/src/conn.js";
import { closeMeaning, dropReason } from "../runtime/src/conn_log.js";
import { FakeWebSocket } from "./fake.js";

const table = JSON.parse(
  readFileSync(new URL("../../testdata/close-meanings.json", import.meta.url), "utf8"),
) as { closes: { code: number; meaning: string }[] };

describe("close meanings (testdata/close-meanings.json)", () => {
  it("has cases", () => expect(table.closes.length).toBeGreaterThan(0));
  for (const c of table.closes) {
    it(`${c.code}`, () => {
      expect(closeMeaning(c.code)).toBe(c.meaning);
      expect(dropReason({ code: c.code, reason: "server words" })).toBe(c.meaning);
    });
  }
  it("an attempt that opened no socket keeps what failed", () => {
    expect(dropReason({ code: 0, reason: "the token provider failed" })).toBe("the token provider failed");
  });
});

describe("the connection's log", () => {
  beforeEach(() => FakeWebSocket.reset());
  afterEach(() => FakeWebSocket.reset());

  it("records each change of state with its reason in words", async () => {
    const records: string[] = [];
    const rec = (level: string) => (message: string, attrs: Record<string, unknown>) =>
      records.push(`${level} ${message}${attrs["reason"] ? ` (${String(attrs["reason"])})` : ""}`);
    const logger = { info: rec("info"), warn: rec("warn"), debug: rec("debug") };
    let refuse = 0;
    FakeWebSocket.onCreate = (ws) =>
      queueMicrotask(() => {
        if (refuse-- > 0) ws.serverClose(1006);
        else ws.serverOpen();
      });
    const conn = createConnection({ url: "ws://a", WebSocket: FakeWebSocket, backoff: { baseMs: 1, capMs: 1 }, logger });
    conn.subscribe("Message", {
      since: () => undefined,
      onAck() {},
      onReset() {},
      onEvents() {},
      onError() {},
      onDisconnect() {},
    });
    await vi.waitFor(() => expect(records).toContain("info ssotws: connected"));

    refuse = 2; // the next two attempts fail
    FakeWebSocket.last().serverClose(4429, "too slow");
    await vi.waitFor(() => expect(records).toContain("info ssotws: connected again; the channels resume"));
    expect(records).toEqual([
      "info ssotws: connected",
      "info ssotws: connection lost; reconnecting (a limit was exceeded (too many connections, frames too fast, or too slow to read))",
      "debug ssotws: connection attempt failed; retrying (the connection broke, or the server could not be reached)",
      "debug ssotws: connection attempt failed; retrying (the connection broke, or the server could not be reached)",
      "info ssotws: connected again; the channels resume",
    ]);

    records.length = 0;
    FakeWebSocket.last().serverClose(4401, "unauthenticated");
    await vi.waitFor(() => expect(conn.state).toBe("unauthenticated"));
    expect(records).toEqual([
      "warn ssotws: signed out; not reconnecting until reconnect() (after a new sign-in) (the server refused the token)",
    ]);
    conn.close();
  });
});
