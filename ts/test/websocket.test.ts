// The WebSocket client on its own (Go: NewWebSocket) against the fake
// backend: reads only from its caches, refuses mutations, and tells when a
// channel is hydrated or why it was refused.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ErrorCode } from "../runtime/gen/ssot/ws/v1/frame_pb.js";
import { SubscribeError, SubscriptionError } from "../runtime/src/channel.js";
import { createConnection } from "../runtime/src/conn.js";
import type { Connection } from "../runtime/src/conn.js";
import { ErrNotCached, ErrUnsupported, createWebSocketClient } from "../runtime/src/websocket.js";
import { FakeBackend, FakeWebSocket, MessageModel, flush } from "./fake.js";

const R1 = "Message?room_id=r1";
const REFUSED = "Message?room_id=secret";

let backend: FakeBackend;
let conn: Connection | undefined;

beforeEach(() => {
  FakeWebSocket.reset();
  backend = new FakeBackend();
  FakeWebSocket.onCreate = (ws) => {
    backend.attach(ws);
    queueMicrotask(() => ws.serverOpen());
  };
});
afterEach(() => conn?.close());

function client() {
  conn = createConnection({ url: "ws://test/ws", WebSocket: FakeWebSocket, backoff: { baseMs: 5, maxMs: 5 } });
  return createWebSocketClient(MessageModel, { transport: backend.transport, connection: conn, backoff: { baseMs: 5, maxMs: 5 } });
}

describe("the WebSocket client", () => {
  it("answers list and get from its caches only, ErrNotCached otherwise; mutations are ErrUnsupported", async () => {
    backend.put({ id: "a", roomId: "r1", text: "a" });
    const ws = client();
    await expect(ws.list({ filter: { roomId: "r1" } })).rejects.toBeInstanceOf(ErrNotCached);
    await expect(ws.waitHydrated(R1)).rejects.toThrow(/not subscribed/);
    ws.subscribe(R1, () => {});
    ws.subscribe("Message", () => {});
    await ws.waitHydrated(R1);
    await ws.waitHydrated("Message");
    expect(ws.hydrated(R1)).toBe(true);
    expect(ws.isLive(R1)).toBe(true);
    expect((await ws.list({ filter: { roomId: "r1" } })).items.map((m) => m.text)).toEqual(["a"]);
    expect((await ws.get("a"))?.text).toBe("a");
    expect(await ws.get("gone")).toBeUndefined(); // the model channel knows it is absent
    await expect(ws.list({ filter: { roomId: "r2" } })).rejects.toBeInstanceOf(ErrNotCached);
    const calls = backend.calls["listMessages"];
    await expect(ws.create({ roomId: "r1", text: "b" })).rejects.toBeInstanceOf(ErrUnsupported);
    await expect(ws.update("a", { text: "b" }, ["text"])).rejects.toBeInstanceOf(ErrUnsupported);
    await expect(ws.delete("a")).rejects.toBeInstanceOf(ErrUnsupported);
    expect(backend.calls["listMessages"]).toBe(calls);
    expect(backend.calls["createMessage"] ?? 0).toBe(0);
  });

  it("is unavailable without a connection: nothing cached, subscribe a no-op", async () => {
    const ws = createWebSocketClient(MessageModel, { transport: backend.transport });
    expect(ws.state).toBe("unavailable");
    ws.subscribe(R1, () => {})();
    await expect(ws.get("a")).rejects.toBeInstanceOf(ErrNotCached);
    expect(FakeWebSocket.instances).toHaveLength(0);
  });

  it("reports a refused subscription: subscriptionError, waitHydrated rejects", async () => {
    const ws = client();
    backend.autoGateway = false; // the test answers the Subscribe itself
    ws.subscribe(REFUSED, () => {});
    const waiting = ws.waitHydrated(REFUSED);
    await flush();
    const sock = FakeWebSocket.instances[0]!;
    const id = sock.subscribes().find((s) => s.channel === REFUSED)?.id;
    expect(id).toBeDefined();
    sock.serverSend({ frame: { case: "error", value: { id: id!, code: ErrorCode.FORBIDDEN, message: "no" } } });
    await expect(waiting).rejects.toBeInstanceOf(SubscriptionError);
    const err = ws.subscriptionError(REFUSED);
    expect(err).toBeInstanceOf(SubscriptionError);
    expect(err).toBeInstanceOf(SubscribeError); // the former name still matches
    expect(err?.code).toBe(ErrorCode.FORBIDDEN);
    expect(ws.subscriptionError(R1)).toBeUndefined();
  });

  it("waitHydrated rejects when the channel is unsubscribed meanwhile, or the signal aborts", async () => {
    const ws = client();
    const unsub = ws.subscribe("Message/held", () => {});
    const waiting = ws.waitHydrated("Message/held");
    unsub();
    await expect(waiting).rejects.toThrow(/unsubscribed/);
    ws.subscribe("Message/held2", () => {});
    const ac = new AbortController();
    const aborted = ws.waitHydrated("Message/held2", ac.signal);
    ac.abort();
    await expect(aborted).rejects.toThrow();
  });
});
