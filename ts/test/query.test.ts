// The live connect-query mode (runtime/src/query.ts) against the fake
// backend: a real TanStack QueryClient, queries built by connect-query
// (createQueryOptions, as useQuery builds them) and observed by a
// QueryObserver (as a mounted useQuery is), mutations sent the way
// useMutation sends them (callUnaryMethod on the transport).
import { callUnaryMethod, createConnectQueryKey, createQueryOptions } from "@connectrpc/connect-query-core";
import { QueryClient, QueryObserver } from "@tanstack/query-core";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createConnection } from "../runtime/src/conn.js";
import type { Connection } from "../runtime/src/conn.js";
import { createLiveQueries } from "../runtime/src/query.js";
import type { LiveQueries } from "../runtime/src/query.js";
import { ChatService } from "./gen/chat/v1/chat_pb.js";
import type { ListMessagesResponse, Message } from "./gen/chat/v1/chat_pb.js";
import { FakeBackend, FakeWebSocket, MessageModel, flush } from "./fake.js";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { GetMessageRequestSchema, ListMessagesRequestSchema } from "./gen/chat/v1/chat_pb.js";

const { listMessages, getMessage, createMessage, updateMessage, deleteMessage } = ChatService.method;

let backend: FakeBackend;
let conn: Connection;
let queryClient: QueryClient;
let live: LiveQueries;
const offs: (() => void)[] = [];

function setup() {
  backend = new FakeBackend();
  FakeWebSocket.onCreate = (ws) => {
    backend.attach(ws);
    queueMicrotask(() => ws.serverOpen());
  };
  conn = createConnection({ url: "ws://test/ws", WebSocket: FakeWebSocket, backoff: { baseMs: 5, capMs: 5 } });
  queryClient = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  live = createLiveQueries({
    queryClient,
    transport: backend.transport,
    connection: conn,
    models: [MessageModel],
    retry: { delayMs: 0 },
    backoff: { baseMs: 5, capMs: 5 },
  });
}

/** observeList mounts a list query, as useQuery(listMessages, input) does. */
function observeList(input: MessageInitShape<typeof ListMessagesRequestSchema>) {
  const opts = createQueryOptions(listMessages, input, { transport: live.transport });
  const obs = new QueryObserver<ListMessagesResponse>(queryClient, opts as never);
  offs.push(obs.subscribe(() => {}));
  return { key: opts.queryKey, data: () => obs.getCurrentResult().data, result: () => obs.getCurrentResult() };
}

function observeGet(input: MessageInitShape<typeof GetMessageRequestSchema>) {
  const opts = createQueryOptions(getMessage, input, { transport: live.transport });
  const obs = new QueryObserver<Message>(queryClient, opts as never);
  const off = obs.subscribe(() => {});
  offs.push(off);
  return { key: opts.queryKey, result: () => obs.getCurrentResult(), off };
}

const texts = (r: ListMessagesResponse | undefined) => r?.messages.map((m) => m.text);

beforeEach(() => FakeWebSocket.reset());
afterEach(() => {
  for (const off of offs.splice(0)) off();
  live?.close();
  conn?.close();
  queryClient?.clear();
});

describe("live connect-query caches", () => {
  it("hydrates a List query with one fetch, then patches it from the socket without refetching", async () => {
    setup();
    backend.put({ id: "a", roomId: "r1", text: "a" });
    const q = observeList({ roomId: "r1" });
    await vi.waitFor(() => expect(texts(q.data())).toEqual(["a"]));
    expect(live.channelOf(q.key)).toBe("Message?room_id=r1");
    await vi.waitFor(() => expect(live.isLive(q.key)).toBe(true));
    expect(backend.calls["listMessages"]).toBe(1);

    backend.put({ id: "b", roomId: "r1", text: "b" }); // another writer
    backend.put({ id: "x", roomId: "r2", text: "x" }); // another room
    await vi.waitFor(() => expect(texts(q.data())).toEqual(["a", "b"]));
    backend.put({ id: "a", roomId: "r1", text: "a2" });
    backend.remove("b");
    await vi.waitFor(() => expect(texts(q.data())).toEqual(["a2"]));
    expect(backend.calls["listMessages"]).toBe(1);

    // A refetch (invalidate, window focus) is answered from the live cache.
    await queryClient.invalidateQueries({ queryKey: q.key });
    expect(texts(q.data())).toEqual(["a2"]);
    expect(backend.calls["listMessages"]).toBe(1);
  });

  it("fetches after the Ack and applies the events buffered during the fetch (gap-free)", async () => {
    setup();
    backend.put({ id: "a", roomId: "r1", text: "a" });
    // A write between the position read and the store read: the snapshot
    // holds it, its event comes too; the version rule keeps it once.
    backend.afterPositionRead = () => {
      backend.afterPositionRead = undefined;
      backend.put({ id: "b", roomId: "r1", text: "b" });
    };
    const q = observeList({ roomId: "r1" });
    await vi.waitFor(() => expect(texts(q.data())).toEqual(["a", "b"]));
    const subscribe = FakeWebSocket.last().subscribes();
    expect(subscribe.map((s) => s.channel)).toEqual(["Message?room_id=r1"]);
    await flush();
    expect(texts(q.data())).toEqual(["a", "b"]);
  });

  it("patches a Get query; a deleted record turns the query into NotFound from the cache", async () => {
    setup();
    backend.put({ id: "a", roomId: "r1", text: "a" });
    const q = observeGet({ id: "a" });
    await vi.waitFor(() => expect(q.result().data?.text).toBe("a"));
    expect(live.channelOf(q.key)).toBe("Message/a");
    backend.put({ id: "a", roomId: "r1", text: "a2" });
    await vi.waitFor(() => expect(q.result().data?.text).toBe("a2"));
    const gets = backend.calls["getMessage"];
    backend.remove("a");
    await vi.waitFor(() => expect(q.result().status).toBe("error"));
    expect(String(q.result().error)).toMatch(/not found/);
    expect(backend.calls["getMessage"]).toBe(gets);
    // Created again: the query has its data back, no fetch.
    backend.put({ id: "a", roomId: "r1", text: "again" });
    await vi.waitFor(() => expect(q.result().data?.text).toBe("again"));
    expect(q.result().status).toBe("success");
  });

  it("applies a mutation's response at once, once: its own event changes nothing", async () => {
    setup();
    const q = observeList({ roomId: "r1" });
    await vi.waitFor(() => expect(live.isLive(q.key)).toBe(true));
    backend.holdEvents = true;
    const created = await callUnaryMethod(live.transport, createMessage, { message: { id: "m", roomId: "r1", text: "mine" } });
    expect(created.text).toBe("mine");
    // Before its event: already in the query.
    await flush();
    expect(texts(q.data())).toEqual(["mine"]);
    const before = q.data();
    const seen: unknown[] = [];
    const off = queryClient.getQueryCache().subscribe((e) => {
      if (e.type === "updated" && e.action.type === "success") seen.push(e.action);
    });
    backend.releaseEvents();
    await flush();
    off();
    expect(seen).toEqual([]); // the echo (same request id, same version) changed nothing
    expect(q.data()).toBe(before);
    expect(backend.keys).toHaveLength(1);

    const updated = await callUnaryMethod(live.transport, updateMessage, {
      message: { id: "m", text: "edited" },
      updateMask: { paths: ["text"] },
    });
    expect(updated.text).toBe("edited");
    expect(texts(q.data())).toEqual(["edited"]);
    await callUnaryMethod(live.transport, deleteMessage, { id: "m" });
    expect(texts(q.data())).toEqual([]);
    await expect(callUnaryMethod(live.transport, deleteMessage, { id: "m" })).rejects.toThrow(/not found/);
    expect(backend.calls["listMessages"]).toBe(1);
  });

  it("resumes after a cut: the missed events patch the query, no refetch; a Reset refetches", async () => {
    setup();
    backend.put({ id: "a", roomId: "r1", text: "a" });
    const q = observeList({ roomId: "r1" });
    await vi.waitFor(() => expect(live.isLive(q.key)).toBe(true));
    backend.cut(FakeWebSocket.last());
    backend.put({ id: "b", roomId: "r1", text: "b" });
    backend.put({ id: "c", roomId: "r1", text: "c" });
    await vi.waitFor(() => expect(texts(q.data())).toEqual(["a", "b", "c"]));
    expect(backend.calls["listMessages"]).toBe(1);

    backend.loseHistory();
    backend.cut(FakeWebSocket.last());
    backend.put({ id: "d", roomId: "r1", text: "d" });
    await vi.waitFor(() => expect(texts(q.data())).toEqual(["a", "b", "c", "d"]));
    await vi.waitFor(() => expect(live.isLive(q.key)).toBe(true));
    expect(backend.calls["listMessages"]).toBe(2);
  });

  it("leaves other queries alone: page tokens, other transports, other methods", async () => {
    setup();
    backend.put({ id: "a", roomId: "r1", text: "a" });
    const paged = createConnectQueryKey({ schema: listMessages, input: { roomId: "r1", pageToken: "1" }, transport: live.transport, cardinality: "finite" });
    expect(live.channelOf(paged)).toBeUndefined();
    const other = createConnectQueryKey({ schema: listMessages, input: { roomId: "r1" }, transport: backend.transport, cardinality: "finite" });
    expect(live.channelOf(other)).toBeUndefined();
    const infinite = createConnectQueryKey({ schema: listMessages, input: { roomId: "r1" }, transport: live.transport, cardinality: "infinite" });
    expect(live.channelOf(infinite)).toBeUndefined();
    const all = createConnectQueryKey({ schema: listMessages, input: {}, transport: live.transport, cardinality: "finite" });
    expect(live.channelOf(all)).toBe("Message");
    const res = await callUnaryMethod(live.transport, listMessages, { roomId: "r1", pageToken: "0" } as MessageInitShape<typeof ListMessagesRequestSchema>);
    expect(res.messages.map((m) => m.text)).toEqual(["a"]);
    expect(FakeWebSocket.instances).toHaveLength(0); // nothing subscribed
  });

  it("unsubscribes the channel when the last observer leaves, and refetches when one comes back", async () => {
    setup();
    backend.put({ id: "a", roomId: "r1", text: "a" });
    const q = observeGet({ id: "a" });
    await vi.waitFor(() => expect(live.isLive(q.key)).toBe(true));
    q.off();
    await vi.waitFor(() => expect(FakeWebSocket.last().sent().some((f) => f.frame.case === "unsubscribe")).toBe(true));
    expect(live.isLive(q.key)).toBe(false);
    expect(queryClient.getQueryState(q.key)?.isInvalidated).toBe(true);
    const again = observeGet({ id: "a" });
    await vi.waitFor(() => expect(live.isLive(again.key)).toBe(true));
    expect(again.result().data?.text).toBe("a");
  });
});
