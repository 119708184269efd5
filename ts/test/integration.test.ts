// The runtime against the real thing: the chat example's Go server (its
// generated ChatService and the ssot-ws gateway), over Connect and a real
// WebSocket (Node's own, enabled by --experimental-websocket on Node 20).
import { Code, ConnectError } from "@connectrpc/connect";
import type { Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { Change } from "../runtime/src/cache.js";
import { createHybridClient } from "../runtime/src/hybrid.js";
import { ErrNotCached, ErrUnsupported, createWebSocketClient } from "../runtime/src/websocket.js";
import { createConnection } from "../runtime/src/conn.js";
import type { Connection, WebSocketCtor, WebSocketLike } from "../runtime/src/conn.js";
import type { Message } from "./gen/chat/v1/chat_pb.js";
import { startChatServer } from "./chatserver.js";
import type { ChatServer } from "./chatserver.js";
import { MessageModel } from "./fake.js";
import { ValidationError } from "../runtime/src/validation.js";
import type { Validation } from "../runtime/src/validation.js";
import { protovalidate } from "../runtime/src/validate.js";

let server: ChatServer | undefined;
let base = "";
const conns: Connection[] = [];

beforeAll(async () => {
  server = await startChatServer();
  base = server.base;
}, 180_000);

afterAll(() => {
  for (const c of conns) c.close();
  server?.stop();
});

function dial(WebSocket?: WebSocketCtor) {
  const conn = createConnection({
    url: base.replace(/^http/, "ws") + "/ws",
    backoff: { baseMs: 50, capMs: 100 },
    ...(WebSocket ? { WebSocket } : {}),
  });
  conns.push(conn);
  return conn;
}

function connect(WebSocket?: WebSocketCtor) {
  const conn = dial(WebSocket);
  return createHybridClient(MessageModel, { transport: createConnectTransport({ baseUrl: base }), connection: conn });
}

describe("against the Go chat server", () => {
  it("has a WebSocket to test with", () => {
    expect(typeof globalThis.WebSocket).toBe("function");
  });

  it("two clients in one room: a message sent by one appears in the other; after a cut, what was missed arrives once, in order", async () => {
    const room = `it-${Date.now()}`;
    const channel = `Message?room_id=${room}`;
    const a = connect();
    // b's socket can be refused, as a network cut would.
    let cut = false;
    const Native = globalThis.WebSocket as unknown as WebSocketCtor;
    let bSocket: WebSocketLike | undefined;
    const Gated = function (url: string, protocols?: string | string[]) {
      if (cut) throw new Error("network is down");
      bSocket = new Native(url, protocols);
      return bSocket;
    } as unknown as WebSocketCtor;
    const b = connect(Gated);

    const seen: Change<Message>[] = [];
    b.subscribe(channel, (c) => seen.push(c));
    a.subscribe(channel, () => {});
    await vi.waitFor(() => expect(a.isLive(channel) && b.isLive(channel)).toBe(true), { timeout: 5000 });

    const first = await a.create({ roomId: room, author: "a", text: "hello" });
    await vi.waitFor(() => expect(seen.map((c) => c.value.text)).toEqual(["hello"]), { timeout: 5000 });
    expect(seen[0]?.requestId).not.toBe("");
    expect((await b.get(first.id))?.text).toBe("hello"); // not from b's scope cache: over HTTP

    cut = true;
    bSocket!.close();
    await vi.waitFor(() => expect(b.state).toBe("reconnecting"));
    for (const text of ["one", "two", "three"]) await a.create({ roomId: room, author: "a", text });
    await a.update(first.id, { text: "hello, edited" }, ["text"]);
    cut = false;
    await vi.waitFor(() => expect(b.isLive(channel)).toBe(true), { timeout: 5000 });
    await vi.waitFor(() => expect(seen).toHaveLength(5), { timeout: 5000 });
    expect(seen.map((c) => `${c.type} ${c.value.text}`)).toEqual([
      "created hello",
      "created one",
      "created two",
      "created three",
      "updated hello, edited",
    ]);
    // Replayed from the gateway's history (since), not found by a refetch:
    // each change carries the request id of the mutation that caused it.
    expect(seen.every((c) => c.requestId !== "")).toBe(true);
    const listed = await b.list({ filter: { roomId: room } });
    expect(listed.items.map((m) => m.text)).toEqual(["hello, edited", "one", "two", "three"]);
    expect(await a.delete(first.id)).toBe(true);
    await vi.waitFor(() => expect(seen.at(-1)?.type).toBe("deleted"), { timeout: 5000 });
    expect(b.peekList({ filter: { roomId: room } })?.items.map((m) => m.text)).toEqual(["one", "two", "three"]);
  }, 30_000);
});

describe("the WebSocket client on its own, against the Go chat server", () => {
  it("reads only from its caches, hears live updates, and refuses mutations", async () => {
    const room = `ws-${Date.now()}`;
    const channel = `Message?room_id=${room}`;
    const writer = connect();
    const first = await writer.create({ roomId: room, author: "w", text: "before" });

    const ws = createWebSocketClient(MessageModel, {
      transport: createConnectTransport({ baseUrl: base }),
      connection: dial(),
    });
    // Nothing subscribed: nothing cached, as Go's ErrNotCached.
    await expect(ws.list({ filter: { roomId: room } })).rejects.toBeInstanceOf(ErrNotCached);
    await expect(ws.get(first.id)).rejects.toBeInstanceOf(ErrNotCached);

    const seen: Change<Message>[] = [];
    ws.subscribe(channel, (c) => seen.push(c));
    ws.subscribe(`Message/${first.id}`, () => {});
    await ws.waitHydrated(channel);
    await ws.waitHydrated(`Message/${first.id}`);
    expect(ws.hydrated(channel)).toBe(true);
    expect(ws.position(channel)).toBeDefined();
    expect((await ws.list({ filter: { roomId: room } })).items.map((m) => m.text)).toEqual(["before"]);
    expect((await ws.get(first.id))?.text).toBe("before"); // from the item channel's cache
    // A scope channel cannot answer a get: a record that left it is a tombstone there.
    const other = await writer.create({ roomId: room, author: "w", text: "second" });
    await vi.waitFor(() => expect(seen.map((c) => `${c.type} ${c.value.text}`)).toEqual(["created second"]), {
      timeout: 5000,
    });
    await expect(ws.get(other.id)).rejects.toBeInstanceOf(ErrNotCached);

    await writer.update(first.id, { text: "after" }, ["text"]);
    await vi.waitFor(() => expect(seen.at(-1)?.type).toBe("updated"), { timeout: 5000 });
    expect(seen.at(-1)?.value.text).toBe("after");
    expect(seen.at(-1)?.requestId).not.toBe("");
    expect((await ws.list({ filter: { roomId: room } })).items.map((m) => m.text)).toEqual(["after", "second"]);
    expect((await ws.get(first.id))?.text).toBe("after");

    // Mutations go over HTTP, as Go's ErrUnsupported.
    await expect(ws.create({ roomId: room, author: "ws", text: "no" })).rejects.toBeInstanceOf(ErrUnsupported);
    await expect(ws.update(first.id, { text: "no" }, ["text"])).rejects.toBeInstanceOf(ErrUnsupported);
    await expect(ws.delete(first.id)).rejects.toBeInstanceOf(ErrUnsupported);
    expect((await writer.get(first.id))?.text).toBe("after");
  }, 30_000);
});

describe("validation against the Go chat server", () => {
  const tooLong = "é".repeat(2049); // 4098 bytes: over chat.proto's max_bytes 4096
  const violation = { field: "text", ruleId: "string.max_bytes", message: "must be at most 4096 bytes" };

  // client returns an HTTP-only client and the procedures it sent.
  function client(validation: Validation | undefined) {
    const sent: string[] = [];
    const count: Interceptor = (next) => (req) => {
      sent.push(req.method.name);
      return next(req);
    };
    const transport = createConnectTransport({ baseUrl: base, interceptors: [count] });
    return { c: createHybridClient(MessageModel, { transport, validation }), sent };
  }

  async function refusal(p: Promise<unknown>): Promise<unknown> {
    return p.then(
      () => expect.fail("the write was accepted"),
      (err: unknown) => err,
    );
  }

  it("checks the rules before sending: a broken record is a local ValidationError and nothing is sent", async () => {
    const { c, sent } = client(protovalidate());
    const err = await refusal(c.create({ roomId: "r1", text: tooLong }));
    expect(err).toBeInstanceOf(ValidationError);
    const ve = err as ValidationError;
    expect(ve.local).toBe(true);
    expect(ve.code).toBe(Code.InvalidArgument);
    expect(ve.violations).toEqual([violation]);
    expect(ve.fieldErrors()).toEqual({ text: ["must be at most 4096 bytes"] });
    expect(sent).toEqual([]);

    // An update is checked on the fields it changes only: the server has the rest.
    const m = await c.create({ roomId: "r1", text: "é".repeat(2048) });
    expect(await refusal(c.update(m.id, { text: tooLong }, ["text"]))).toBeInstanceOf(ValidationError);
    expect(sent).toEqual(["CreateMessage"]);
    expect((await c.update(m.id, { text: "fine" }, ["text"])).text).toBe("fine");
  });

  it("reads the server's violations into the same ValidationError", async () => {
    // The rules unchecked in the client: the server refuses the write.
    const { c, sent } = client({ ...protovalidate(), check: () => [] });
    const err = await refusal(c.create({ roomId: "r1", text: tooLong }));
    expect(err).toBeInstanceOf(ValidationError);
    const ve = err as ValidationError;
    expect(ve.local).toBe(false);
    expect(ve.violations).toEqual([violation]);
    expect(ve.cause).toBeInstanceOf(ConnectError);
    expect(sent).toEqual(["CreateMessage"]);
  });

  it("without validation, the refusal stays a ConnectError", async () => {
    const { c } = client(undefined);
    const err = await refusal(c.create({ roomId: "r1", text: tooLong }));
    expect(err).toBeInstanceOf(ConnectError);
    expect(err).not.toBeInstanceOf(ValidationError);
    expect((err as ConnectError).code).toBe(Code.InvalidArgument);
  });
});
