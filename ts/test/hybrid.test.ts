import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Change } from "../runtime/src/cache.js";
import { createHybridClient } from "../runtime/src/hybrid.js";
import type { HybridClient } from "../runtime/src/hybrid.js";
import { createConnection } from "../runtime/src/conn.js";
import type { Connection } from "../runtime/src/conn.js";
import type { Message } from "./gen/chat/v1/chat_pb.js";
import { EventType } from "../runtime/gen/ssot/ws/v1/frame_pb.js";
import { FakeBackend, FakeWebSocket, MessageModel, event, flush, pos } from "./fake.js";

const R1 = "Message?room_id=r1";

let backend: FakeBackend;
let conn: Connection;
let client: HybridClient<Message, string>;

function setup(opts: { open?: boolean } = {}) {
  backend = new FakeBackend();
  FakeWebSocket.onCreate = (ws) => {
    backend.attach(ws);
    if (opts.open ?? true) queueMicrotask(() => ws.serverOpen());
  };
  conn = createConnection({ url: "ws://test/ws", WebSocket: FakeWebSocket, backoff: { baseMs: 5, capMs: 5 } });
  client = createHybridClient(MessageModel, {
    transport: backend.transport,
    connection: conn,
    retry: { delayMs: 0 },
    backoff: { baseMs: 5, capMs: 5 },
  });
}

function subscribes(ws: FakeWebSocket) {
  return ws.sent().flatMap((f) => (f.frame.case === "subscribe" ? [f.frame.value] : []));
}

const texts = (ms: readonly Message[]) => ms.map((m) => m.text);

beforeEach(() => FakeWebSocket.reset());
afterEach(() => conn?.close());

describe("routing", () => {
  it("is HTTP-only without a connection: subscribe is a no-op, the state unavailable", async () => {
    backend = new FakeBackend();
    const http = createHybridClient(MessageModel, { transport: backend.transport });
    backend.put({ roomId: "r1", text: "a" });
    const unsub = http.subscribe(R1, () => {});
    unsub();
    expect(http.state).toBe("unavailable");
    expect(texts((await http.list({ filter: { roomId: "r1" } })).items)).toEqual(["a"]);
    expect(texts((await http.list({ filter: { roomId: "r1" } })).items)).toEqual(["a"]);
    expect(backend.calls["listMessages"]).toBe(2);
    expect(FakeWebSocket.instances).toHaveLength(0);
  });

  it("answers from the cache when the channel is subscribed, hydrated and open; mutations still go over HTTP", async () => {
    setup();
    backend.put({ id: "a", roomId: "r1", text: "a" });
    backend.put({ id: "b", roomId: "r2", text: "b" });
    const changes: Change<Message>[] = [];
    const unsub = client.subscribe(R1, (c) => changes.push(c));
    await vi.waitFor(() => expect(client.isLive(R1)).toBe(true));
    expect(backend.calls["listMessages"]).toBe(1); // the hydration fetch

    expect(texts((await client.list({ filter: { roomId: "r1" } })).items)).toEqual(["a"]);
    expect(backend.calls["listMessages"]).toBe(1);
    // Not the subscribed channel, a page token, or a page smaller than the cache: HTTP.
    await client.list({ filter: { roomId: "r2" } });
    await client.list();
    await client.list({ filter: { roomId: "r1" }, pageToken: "0" });
    expect(backend.calls["listMessages"]).toBe(4);
    // A scope channel cannot answer Get.
    await client.get("a");
    expect(backend.calls["getMessage"]).toBe(1);

    const created = await client.create({ roomId: "r1", text: "c" });
    expect(backend.calls["createMessage"]).toBe(1);
    // Applied at once from the response; the echoed event changes nothing.
    expect(texts(client.peekList({ filter: { roomId: "r1" } })!.items)).toEqual(["a", "c"]);
    await flush();
    expect(changes.map((c) => `${c.type} ${c.key}`)).toEqual([`created ${created.id}`]);

    await client.update("a", { text: "a2" }, ["text"]);
    await client.delete(created.id);
    expect(backend.calls["updateMessage"]).toBe(1);
    expect(backend.calls["deleteMessage"]).toBe(1);
    await flush();
    expect(texts((await client.list({ filter: { roomId: "r1" } })).items)).toEqual(["a2"]);
    expect(changes.map((c) => c.type)).toEqual(["created", "updated", "deleted"]);
    expect(backend.calls["listMessages"]).toBe(4);

    // Cut: the cache no longer answers.
    backend.cut(FakeWebSocket.last());
    expect(client.state).toBe("reconnecting");
    expect(client.peekList({ filter: { roomId: "r1" } })).toBeUndefined();
    await client.list({ filter: { roomId: "r1" } });
    expect(backend.calls["listMessages"]).toBe(5);
    unsub();
  });

  it("answers Get from the item channel or the model channel; absent records are undefined", async () => {
    setup();
    backend.put({ id: "a", roomId: "r1", text: "a" });
    const unsub = client.subscribe("Message", () => {});
    await vi.waitFor(() => expect(client.isLive("Message")).toBe(true));
    expect((await client.get("a"))?.text).toBe("a");
    expect(await client.get("missing")).toBeUndefined();
    expect(backend.calls["getMessage"]).toBeUndefined();
    expect(client.channelFor({ filter: { author: "x" } })).toBeUndefined();
    expect(client.channelFor({ filter: { roomId: "" } })).toBe("Message");
    unsub();

    const unsubItem = client.subscribe("Message/a", () => {});
    await vi.waitFor(() => expect(client.isLive("Message/a")).toBe(true));
    expect(backend.calls["getMessage"]).toBe(1); // hydration
    expect((await client.get("a"))?.text).toBe("a");
    expect(backend.calls["getMessage"]).toBe(1);
    unsubItem();
  });

  it("subscribes after the Ack, then fetches; events around the snapshot land once", async () => {
    setup();
    backend.put({ id: "a", roomId: "r1", text: "a1" });
    let fetchesBeforeAck = 0;
    backend.beforePositionRead = () => {
      const acked = FakeWebSocket.last().sent().length > 0;
      if (!acked) fetchesBeforeAck++;
      // Committed before the position read: in the snapshot, and its event
      // (offset ≤ the snapshot's position) is dropped from the buffer.
      backend.put({ id: "b", roomId: "r1", text: "b1" });
    };
    backend.afterPositionRead = () => {
      backend.beforePositionRead = undefined;
      backend.afterPositionRead = undefined;
      // Committed after the position read, before the store read: in the
      // snapshot and past its position; versions make it harmless.
      backend.put({ id: "a", roomId: "r1", text: "a2" });
    };
    const changes: Change<Message>[] = [];
    const syncs: number[] = [];
    client.subscribe(R1, (c) => changes.push(c), { onSync: () => syncs.push(Date.now()) });
    await vi.waitFor(() => expect(client.isLive(R1)).toBe(true));
    expect(fetchesBeforeAck).toBe(0);
    expect(syncs).toHaveLength(1);
    expect(texts(client.peekList({ filter: { roomId: "r1" } })!.items)).toEqual(["a2", "b1"]);
    expect(changes).toEqual([]); // nothing the snapshot did not already show
    backend.put({ id: "c", roomId: "r1", text: "c1" });
    await flush();
    expect(changes.map((c) => `${c.type} ${c.key} ${c.value.text}`)).toEqual(["created c c1"]);
  });
});

describe("resume", () => {
  it("resubscribes with since after a reconnect and applies the replay, without refetching", async () => {
    setup();
    backend.put({ id: "a", roomId: "r1", text: "a" });
    const changes: Change<Message>[] = [];
    client.subscribe(R1, (c) => changes.push(c));
    expect(() => client.subscribe("Room", () => {})).toThrow(/not a Message channel/);
    await vi.waitFor(() => expect(client.isLive(R1)).toBe(true));
    backend.put({ id: "b", roomId: "r1", text: "b" });
    await flush();
    expect(client.state).toBe("open");
    const first = FakeWebSocket.last();

    backend.cut(first);
    backend.put({ id: "c", roomId: "r1", text: "c" });
    backend.put({ id: "a", roomId: "r1", text: "a2" });
    await vi.waitFor(() => expect(client.isLive(R1)).toBe(true));
    const second = FakeWebSocket.last();
    expect(second).not.toBe(first);
    const sub = subscribes(second).find((s) => s.channel === R1);
    expect(sub?.since).toEqual(pos(1, 2));
    await flush();
    expect(backend.calls["listMessages"]).toBe(1);
    expect(texts(client.peekList({ filter: { roomId: "r1" } })!.items)).toEqual(["a2", "b", "c"]);
    expect(changes.map((c) => `${c.type} ${c.key}`)).toEqual(["created b", "created c", "updated a"]);
  });

  it("refetches on Reset and announces what changed meanwhile", async () => {
    setup();
    backend.put({ id: "a", roomId: "r1", text: "a" });
    backend.put({ id: "b", roomId: "r1", text: "b" });
    const changes: Change<Message>[] = [];
    let syncs = 0;
    client.subscribe(R1, (c) => changes.push(c), { onSync: () => syncs++ });
    await vi.waitFor(() => expect(client.isLive(R1)).toBe(true));
    expect(syncs).toBe(1);

    backend.cut(FakeWebSocket.last());
    backend.remove("b");
    backend.put({ id: "c", roomId: "r1", text: "c" });
    backend.loseHistory(); // the broker restarted: since cannot be served
    await vi.waitFor(() => expect(syncs).toBe(2));
    const sent = FakeWebSocket.last().sent();
    expect(sent.some((f) => f.frame.case === "subscribe" && f.frame.value.since?.offset === 2n)).toBe(true);
    expect(backend.calls["listMessages"]).toBe(2);
    expect(client.isLive(R1)).toBe(true);
    expect(texts(client.peekList({ filter: { roomId: "r1" } })!.items)).toEqual(["a", "c"]);
    expect(changes.map((c) => `${c.type} ${c.key}`).sort()).toEqual(["created c", "deleted b"]);
    // New epoch from here on: live events apply.
    backend.put({ id: "d", roomId: "r1", text: "d" });
    await flush();
    expect(texts(client.peekList({ filter: { roomId: "r1" } })!.items)).toEqual(["a", "c", "d"]);
  });

  it("refetches when a live event brings another epoch", async () => {
    setup();
    client.subscribe(R1, () => {});
    await vi.waitFor(() => expect(client.isLive(R1)).toBe(true));
    backend.loseHistory();
    backend.put({ id: "x", roomId: "r1", text: "x" });
    await vi.waitFor(() => expect(backend.calls["listMessages"]).toBe(2));
    await vi.waitFor(() => expect(client.isLive(R1)).toBe(true));
    expect(texts(client.peekList({ filter: { roomId: "r1" } })!.items)).toEqual(["x"]);
  });

  it("shares one server subscription and one cache between clients of a connection", async () => {
    setup();
    const other = createHybridClient(MessageModel, { transport: backend.transport, connection: conn });
    const u1 = client.subscribe(R1, () => {});
    let synced = false;
    await vi.waitFor(() => expect(client.isLive(R1)).toBe(true));
    const u2 = other.subscribe(R1, () => {}, { onSync: () => (synced = true) });
    await vi.waitFor(() => expect(synced).toBe(true));
    expect(other.isLive(R1)).toBe(true);
    expect(subscribes(FakeWebSocket.last())).toHaveLength(1);
    expect(backend.calls["listMessages"]).toBe(1);
    u1();
    expect(other.isLive(R1)).toBe(true);
    u2();
    expect(other.isLive(R1)).toBe(false);
    const last = FakeWebSocket.last().sent().at(-1)?.frame;
    expect(last?.case).toBe("unsubscribe");
  });
});

describe("verify", () => {
  // A record another writer creates just after the snapshot is checked with
  // a Get. When this client mutates it while that Get is in flight, and the
  // Get answers before the mutation's event and response arrive, the answer
  // (which already shows the mutation) must not be announced in the
  // mutation's place: subscribers hear the mutation once, with its request
  // id. (The Go client's TestMutationsAlwaysHTTP failed this way.)
  for (const op of ["delete", "update"] as const) {
    it(`leaves a record to the client's own ${op} that overlaps the verify Get`, async () => {
      setup();
      const changes: Change<Message>[] = [];
      client.subscribe(R1, (c) => changes.push(c));
      await vi.waitFor(() => expect(client.isLive(R1)).toBe(true));
      backend.holdReads = true;
      backend.put({ id: "m1", roomId: "r1", text: "hello" }, "writer");
      await vi.waitFor(() => expect(backend.calls["getMessage"]).toBe(1)); // the verify Get, parked
      backend.holdEvents = true;
      backend.holdReplies = true;
      const done =
        op === "delete" ? client.delete("m1") : client.update("m1", { text: "edited" }, ["text"]).then(() => true);
      await vi.waitFor(() => expect(backend.calls[`${op}Message`]).toBe(1));
      await flush(); // committed; its event and its reply are held
      backend.holdReads = false;
      backend.release(); // the Get reads the store after the mutation
      await flush();
      backend.releaseEvents();
      await flush();
      backend.releaseReplies();
      expect(await done).toBe(true);
      await flush();
      const who = (c: Change<Message>) => (c.requestId === "writer" ? "writer" : c.requestId ? "own" : "none");
      expect(changes.map((c) => `${c.type} ${c.key} v${c.version} ${c.value.text} ${who(c)}`)).toEqual([
        "created m1 v1 hello writer",
        op === "delete" ? "deleted m1 v2 hello own" : "updated m1 v2 edited own",
      ]);
    });
  }

  // The case the check exists for: a late event of a record deleted before
  // the snapshot brings it back to life, and the Get answers "not found". A
  // mutation of this client that overlapped the Get but failed (the record
  // is gone) changed nothing, so it must not stop the tombstone.
  for (const op of ["delete", "update"] as const) {
    it(`still tombstones a resurrected record when the client's own overlapping ${op} failed`, async () => {
      setup();
      const changes: Change<Message>[] = [];
      client.subscribe(R1, (c) => changes.push(c));
      await vi.waitFor(() => expect(client.isLive(R1)).toBe(true));
      backend.holdReads = true;
      const next = backend.position(R1).offset + 1n;
      FakeWebSocket.last().serverSend({
        frame: { case: "events", value: { events: [event(R1, EventType.UPDATED, { id: "ghost", roomId: "r1", text: "late" }, 3, pos(1, next), "late")] } },
      });
      await vi.waitFor(() => expect(backend.calls["getMessage"]).toBe(1)); // the verify Get, parked
      expect(texts(client.peekList({ filter: { roomId: "r1" } })!.items)).toEqual(["late"]);
      if (op === "delete") expect(await client.delete("ghost")).toBe(false);
      else await expect(client.update("ghost", { text: "x" }, ["text"])).rejects.toThrow(/not found/);
      backend.holdReads = false;
      backend.release();
      await vi.waitFor(() => expect(changes).toHaveLength(2));
      expect(changes.map((c) => `${c.type} ${c.key} v${c.version} ${c.value.text}`)).toEqual([
        "created ghost v3 late",
        "deleted ghost v3 late",
      ]);
      expect(backend.calls["getMessage"]).toBe(2); // read again after the failed mutation
      expect(client.peekList({ filter: { roomId: "r1" } })!.items).toEqual([]);
    });
  }
});

describe("verify retries", () => {
  // A ghost in a scope channel (a late event of a record that left the
  // room) hears no later event that would remove it: a check that got no
  // answer is sent again after a backoff, as the Go client does.
  it("reads a resurrected record again when the verify Get got no answer", async () => {
    setup();
    const changes: Change<Message>[] = [];
    client.subscribe(R1, (c) => changes.push(c));
    await vi.waitFor(() => expect(client.isLive(R1)).toBe(true));
    backend.readFailures = 2;
    const next = backend.position(R1).offset + 1n;
    FakeWebSocket.last().serverSend({
      frame: { case: "events", value: { events: [event(R1, EventType.UPDATED, { id: "ghost", roomId: "r1", text: "late" }, 3, pos(1, next), "late")] } },
    });
    await vi.waitFor(() => expect(changes).toHaveLength(2));
    expect(changes.map((c) => `${c.type} ${c.key} v${c.version}`)).toEqual(["created ghost v3", "deleted ghost v3"]);
    expect(backend.calls["getMessage"]).toBe(3);
    expect(client.peekList({ filter: { roomId: "r1" } })!.items).toEqual([]);
  });
});

describe("local writes", () => {
  // A Delete's reply carries no version. When the record's later events
  // (another writer re-created and edited it) reach the cache before the
  // reply does, the reply is older than what the cache holds: it must not
  // tombstone the live record (the DELETED event already set the exact
  // version).
  it("a Delete reply that arrives after newer events leaves the newer state", async () => {
    setup();
    backend.put({ id: "m1", roomId: "r1", text: "hello" }, "writer");
    const changes: Change<Message>[] = [];
    client.subscribe("Message", (c) => changes.push(c));
    await vi.waitFor(() => expect(client.isLive("Message")).toBe(true));
    backend.holdReplies = true;
    const done = client.delete("m1");
    await vi.waitFor(() => expect(backend.calls["deleteMessage"]).toBe(1));
    await flush(); // deleted at v2; its event is in, its reply held
    backend.put({ id: "m1", roomId: "r1", text: "again" }, "writer"); // v3
    await flush();
    backend.releaseReplies();
    expect(await done).toBe(true);
    await flush();
    expect(client.peekGet("m1")?.value?.text).toBe("again");
    backend.put({ id: "m1", roomId: "r1", text: "edited" }, "writer"); // v4
    await flush();
    expect(client.peekList()!.items.map((m) => `${m.id} v${m.version} ${m.text}`)).toEqual(["m1 v4 edited"]);
    expect(changes.map((c) => `${c.type} v${c.version} ${c.value.text}`)).toEqual([
      "deleted v2 hello",
      "created v3 again",
      "updated v4 edited",
    ]);
  });

  // A mutation's reply is older than a snapshot fetched while it was in
  // flight: the record may be gone since, with no tombstone to stop it.
  it("a create's reply that arrives after a refetch does not bring back a record deleted meanwhile", async () => {
    setup();
    client.subscribe("Message", () => {});
    await vi.waitFor(() => expect(client.isLive("Message")).toBe(true));
    backend.holdReplies = true;
    backend.holdEvents = true; // to be lost with the server
    const done = client.create({ id: "m1", roomId: "r1", text: "mine" });
    await vi.waitFor(() => expect(backend.calls["createMessage"]).toBe(1));
    await flush(); // created at v1; its reply held
    backend.holdReplies = false;
    backend.remove("m1"); // v2, by another writer
    await flush();
    // The server restarts: the history is lost, the client refetches.
    backend.loseHistory();
    backend.cut(FakeWebSocket.last());
    backend.releaseEvents(); // to the closed socket: lost
    await vi.waitFor(() => expect(backend.calls["listMessages"]).toBe(2));
    await vi.waitFor(() => expect(client.isLive("Message")).toBe(true));
    backend.releaseReplies();
    expect((await done).version).toBe(1n);
    await flush();
    expect(client.peekList()!.items).toEqual([]);
  });
});
