// Authentication against the real gateway and Connect interceptor:
// ts/test/authserver (the chat service behind a toy Authenticator whose
// tokens are "<subject>.<expires Unix ms>"), over a real WebSocket and HTTP.
import { spawn, execFileSync } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Code } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createAuthInterceptor } from "../runtime/src/auth.js";
import type { TokenProvider, TokenReason } from "../runtime/src/auth.js";
import { createHybridClient } from "../runtime/src/hybrid.js";
import { createConnection } from "../runtime/src/conn.js";
import type { Connection, ConnectionState, WebSocketCtor } from "../runtime/src/conn.js";
import { MessageModel } from "./fake.js";

const root = resolve(__dirname, "../..");
let server: ChildProcess | undefined;
let base = "";
const conns: Connection[] = [];

beforeAll(async () => {
  const bin = join(mkdtempSync(join(tmpdir(), "ssotws-auth-")), "authserver");
  execFileSync("go", ["build", "-o", bin, "./ts/test/authserver"], { cwd: root, stdio: "inherit" });
  const proc = spawn(bin, [], { cwd: root, stdio: ["ignore", "ignore", "pipe"] });
  server = proc;
  base = await new Promise<string>((ok, fail) => {
    let log = "";
    proc.stderr!.on("data", (b: Buffer) => {
      log += b.toString();
      const m = /listening (127\.0\.0\.1:\d+)/.exec(log);
      if (m) ok(`http://${m[1]}`);
    });
    proc.on("exit", (code) => fail(new Error(`authserver exited with ${code}: ${log}`)));
  });
}, 180_000);

afterAll(() => {
  for (const c of conns) c.close();
  server?.kill();
});

const token = (sub: string, lifetimeMs: number) => `${sub}.${Date.now() + lifetimeMs}`;

/** counting wraps the native WebSocket to count dials. */
function counting() {
  const Native = globalThis.WebSocket as unknown as WebSocketCtor;
  const dials: string[][] = [];
  const Ctor = function (url: string, protocols?: string | string[]) {
    dials.push([protocols ?? []].flat());
    return new Native(url, protocols);
  } as unknown as WebSocketCtor;
  return { Ctor, dials };
}

function setup(getToken: TokenProvider) {
  const { Ctor, dials } = counting();
  const conn = createConnection({
    url: base.replace(/^http/, "ws") + "/ws",
    getToken,
    WebSocket: Ctor,
    backoff: { baseMs: 50, capMs: 100 },
  });
  conns.push(conn);
  const states: ConnectionState[] = [];
  conn.onState((s) => states.push(s));
  const transport = createConnectTransport({ baseUrl: base, interceptors: [createAuthInterceptor(getToken)] });
  const client = createHybridClient(MessageModel, { transport, connection: conn });
  return { conn, client, dials, states };
}

describe("authentication against the Go gateway", () => {
  it("HTTP: Bearer from the provider; a refused token is replaced once", async () => {
    const reasons: TokenReason[] = [];
    const answers = ["bad.0", token("ann", 60_000)];
    const { client } = setup(({ reason }) => (reasons.push(reason), answers.shift() ?? token("ann", 60_000)));
    const m = await client.create({ roomId: "auth-http", author: "ann", text: "hi" });
    expect(m.text).toBe("hi");
    expect(reasons).toEqual(["current", "rejected"]);

    const anon = createHybridClient(MessageModel, { transport: createConnectTransport({ baseUrl: base }) });
    await expect(anon.list({ filter: { roomId: "auth-http" } })).rejects.toMatchObject({ code: Code.Unauthenticated });
  });

  it("refreshes with an Auth frame before the expiry: one socket, still live", async () => {
    const reasons: TokenReason[] = [];
    const { conn, client, dials } = setup(({ reason }) => {
      reasons.push(reason);
      return { token: token("bob", 1500), expiresAt: Date.now() + 1500 }; // refreshed 150 ms before
    });
    const room = `auth-refresh-${Date.now()}`;
    const channel = `Message?room_id=${room}`;
    const seen: string[] = [];
    client.subscribe(channel, (c) => seen.push(c.value.text));
    await vi.waitFor(() => expect(client.isLive(channel)).toBe(true), { timeout: 5000 });
    await new Promise((r) => setTimeout(r, 4000)); // past two lifetimes
    expect(conn.state).toBe("open");
    expect(dials).toHaveLength(1);
    expect(reasons.filter((r) => r === "refresh").length).toBeGreaterThanOrEqual(2);
    await client.create({ roomId: room, author: "bob", text: "still here" });
    await vi.waitFor(() => expect(seen).toEqual(["still here"]), { timeout: 5000 });
  }, 20_000);

  it("4408 (a token without a known expiry runs out): a fresh token, reconnected at once, resumed", async () => {
    const reasons: TokenReason[] = [];
    const { conn, client, dials } = setup(({ reason }) => (reasons.push(reason), token("cy", 1000)));
    const room = `auth-expiry-${Date.now()}`;
    const channel = `Message?room_id=${room}`;
    const seen: string[] = [];
    client.subscribe(channel, (c) => seen.push(c.value.text));
    await vi.waitFor(() => expect(client.isLive(channel)).toBe(true), { timeout: 5000 });
    await vi.waitFor(() => expect(conn.lastDrop?.code).toBe(4408), { timeout: 5000 });
    await vi.waitFor(() => expect(conn.state).toBe("open"), { timeout: 2000 });
    expect(conn.lastError).toBeUndefined();
    expect(dials.length).toBeGreaterThanOrEqual(2);
    // (The hydration's HTTP reads ask the same provider: "current".)
    expect(reasons.filter((r) => r !== "current")).toEqual(["expired"]);
    await client.create({ roomId: room, author: "cy", text: "after expiry" });
    await vi.waitFor(() => expect(seen).toContain("after expiry"), { timeout: 5000 });
  }, 20_000);

  it("4401 on revocation, refused again: unauthenticated, no more dials", async () => {
    const reasons: TokenReason[] = [];
    const { conn, client, dials, states } = setup(({ reason }) => (reasons.push(reason), token("eve", 60_000)));
    const channel = `Message?room_id=auth-revoke`;
    client.subscribe(channel, () => {});
    await vi.waitFor(() => expect(client.isLive(channel)).toBe(true), { timeout: 5000 });
    const res = await fetch(`${base}/revoke?sub=eve`, { method: "POST" });
    expect((await res.text()).trim()).toBe("1");
    await vi.waitFor(() => expect(conn.state).toBe("unauthenticated"), { timeout: 5000 });
    expect(conn.lastError?.code).toBe(4401);
    await new Promise((r) => setTimeout(r, 500));
    expect(dials).toHaveLength(2);
    expect(reasons.filter((r) => r !== "current")).toEqual(["rejected"]);
    expect(states.at(-1)).toBe("unauthenticated");
    expect(states.filter((s) => s === "open")).toHaveLength(1); // the refused socket never counted as open
  }, 20_000);
});
