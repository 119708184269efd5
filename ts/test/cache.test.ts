import { fromBinary } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { EventType } from "../runtime/gen/ssot/ws/v1/frame_pb.js";
import { ChannelCache } from "../runtime/src/cache.js";
import { keyText, versionOf } from "../runtime/src/model.js";
import { MessageSchema } from "./gen/chat/v1/chat_pb.js";
import type { Message } from "./gen/chat/v1/chat_pb.js";
import { MessageModel, event, msg, pos } from "./fake.js";

const CH = "Message?room_id=r1";

let clock = 0;

function newCache() {
  return new ChannelCache<Message>(CH, {
    decode: (d) => fromBinary(MessageSchema, d),
    keyOf: (v) => keyText(MessageModel, v),
    versionOf: (v) => versionOf(MessageModel, v),
    hasVersion: true,
    member: (v) => v.roomId === "r1",
    now: () => clock,
  });
}

const texts = (c: ChannelCache<Message>) => c.list().map((m) => `${m.id}:${m.text}`);

describe("gap-free hydration", () => {
  it("buffers events until the snapshot, then applies only those past its position", () => {
    const c = newCache();
    c.beginHydration();
    // Arrive while the snapshot is in flight: offsets 5 and 6 are already in
    // the snapshot (position 1:6), 7 and 8 are not.
    let r = c.receive([
      event(CH, EventType.UPDATED, { id: "a", roomId: "r1", text: "a5" }, 5, pos(1, 5)),
      event(CH, EventType.CREATED, { id: "b", roomId: "r1", text: "b1" }, 1, pos(1, 6)),
      event(CH, EventType.UPDATED, { id: "a", roomId: "r1", text: "a6" }, 6, pos(1, 7)),
    ]);
    expect(r).toEqual({ changes: [], refetch: false });
    expect(c.hydrated).toBe(false);
    r = c.receive([event(CH, EventType.CREATED, { id: "c", roomId: "r1", text: "c1" }, 1, pos(1, 8))]);
    expect(r.changes).toEqual([]);

    r = c.hydrate({
      items: [msg({ id: "a", roomId: "r1", text: "a5", version: 5n }), msg({ id: "b", roomId: "r1", text: "b1", version: 1n })],
      position: pos(1, 6),
    });
    expect(r.refetch).toBe(false);
    expect(c.hydrated).toBe(true);
    expect(texts(c)).toEqual(["a:a6", "b:b1", "c:c1"]);
    expect(r.changes.map((x) => `${x.type} ${x.key} v${x.version}`)).toEqual(["updated a v6", "created c v1"]);
    expect(c.position).toEqual(pos(1, 8));
  });

  it("lets versions make the overlap harmless when the store was read after later events", () => {
    const c = newCache();
    c.beginHydration();
    // Position read at offset 3, store read after event 4 committed: the
    // snapshot already holds version 2, event 4 carries it again.
    c.receive([event(CH, EventType.UPDATED, { id: "a", roomId: "r1", text: "new" }, 2, pos(1, 4))]);
    const r = c.hydrate({ items: [msg({ id: "a", roomId: "r1", text: "new", version: 2n })], position: pos(1, 3) });
    expect(r.changes).toEqual([]);
    expect(texts(c)).toEqual(["a:new"]);
    expect(c.position).toEqual(pos(1, 4));
  });

  it("ignores duplicates and stale versions, and hears only what changed the cache", () => {
    const c = newCache();
    c.beginHydration();
    c.hydrate({ items: [msg({ id: "a", roomId: "r1", text: "v3", version: 3n })], position: pos(1, 10) });
    const r = c.receive([
      event(CH, EventType.UPDATED, { id: "a", roomId: "r1", text: "v2" }, 2, pos(1, 11)), // stale version
      event(CH, EventType.UPDATED, { id: "a", roomId: "r1", text: "v3" }, 3, pos(1, 12)), // same version
      event(CH, EventType.UPDATED, { id: "a", roomId: "r1", text: "v4" }, 4, pos(1, 13)),
      event(CH, EventType.UPDATED, { id: "a", roomId: "r1", text: "v4" }, 4, pos(1, 13)), // duplicate delivery
      event(CH, EventType.UPDATED, { id: "a", roomId: "r1", text: "old" }, 9, pos(1, 9)), // before our position
    ]);
    expect(r.changes.map((x) => x.version)).toEqual([4n]);
    expect(texts(c)).toEqual(["a:v4"]);
    expect(c.position).toEqual(pos(1, 13));
  });

  it("keeps tombstones: a late update of a deleted record is ignored, a newer re-create is not", () => {
    const c = newCache();
    c.beginHydration();
    c.hydrate({ items: [msg({ id: "a", roomId: "r1", text: "x", version: 1n }), msg({ id: "b", roomId: "r1", version: 1n })], position: pos(1, 2) });
    let r = c.receive([event(CH, EventType.DELETED, { id: "a", roomId: "r1", text: "x" }, 3, pos(1, 3))]);
    expect(r.changes.map((x) => `${x.type} ${x.key}`)).toEqual(["deleted a"]);
    expect(r.changes[0]?.value.text).toBe("x");
    r = c.receive([event(CH, EventType.UPDATED, { id: "a", roomId: "r1", text: "late" }, 2, pos(1, 4))]);
    expect(r.changes).toEqual([]);
    expect(c.get("a")).toBeUndefined();
    expect(c.versionOfKey("a")).toBe(3n);
    // A delete of an unknown record changes nothing visible.
    r = c.receive([event(CH, EventType.DELETED, { id: "zz", roomId: "r1" }, 7, pos(1, 5))]);
    expect(r.changes).toEqual([]);
    // Re-created with a newer version: back, and last in creation order.
    r = c.receive([event(CH, EventType.CREATED, { id: "a", roomId: "r1", text: "again" }, 4, pos(1, 6))]);
    expect(r.changes.map((x) => `${x.type} ${x.key}`)).toEqual(["created a"]);
    expect(texts(c)).toEqual(["b:", "a:again"]);
  });

  it("starts over when a buffered event has another epoch", () => {
    const c = newCache();
    c.beginHydration();
    c.receive([event(CH, EventType.CREATED, { id: "a", roomId: "r1" }, 1, pos(2, 1))]);
    let r = c.hydrate({ items: [], position: pos(1, 40) });
    expect(r.refetch).toBe(true);
    expect(c.hydrated).toBe(false);
    expect(c.isBuffering).toBe(true);
    // The second snapshot, in the new epoch, covers what came before it.
    c.receive([event(CH, EventType.CREATED, { id: "b", roomId: "r1" }, 1, pos(2, 2))]);
    r = c.hydrate({ items: [msg({ id: "a", roomId: "r1", version: 1n })], position: pos(2, 1) });
    expect(r.refetch).toBe(false);
    expect(texts(c)).toEqual(["a:", "b:"]);
  });

  it("asks for a refetch when a live event has another epoch", () => {
    const c = newCache();
    c.beginHydration();
    c.hydrate({ items: [], position: pos(1, 5) });
    const r = c.receive([event(CH, EventType.CREATED, { id: "a", roomId: "r1" }, 1, pos(7, 1))]);
    expect(r.refetch).toBe(true);
    expect(c.hydrated).toBe(false);
  });

  it("announces the differences of a refetch, not of the first snapshot", () => {
    const c = newCache();
    c.beginHydration();
    let r = c.hydrate({ items: [msg({ id: "a", roomId: "r1", version: 1n }), msg({ id: "b", roomId: "r1", version: 1n })], position: pos(1, 2) });
    expect(r.changes).toEqual([]);
    c.beginHydration();
    r = c.hydrate({ items: [msg({ id: "a", roomId: "r1", version: 2n, text: "edited" }), msg({ id: "c", roomId: "r1", version: 1n })], position: pos(1, 9) });
    expect(r.changes.map((x) => `${x.type} ${x.key}`).sort()).toEqual(["created c", "deleted b", "updated a"]);
    // b's tombstone keeps its version: its stale update stays out.
    expect(c.receive([event(CH, EventType.UPDATED, { id: "b", roomId: "r1" }, 1, pos(1, 10))]).changes).toEqual([]);
  });

  it("applies a mutation's response at once, so its echo changes nothing", () => {
    const c = newCache();
    c.beginHydration();
    c.hydrate({ items: [msg({ id: "a", roomId: "r1", text: "x", version: 1n }), msg({ id: "b", roomId: "r1", version: 4n })], position: pos(1, 1) });
    const ch = c.applyLocal(msg({ id: "a", roomId: "r1", text: "y", version: 2n }), "req-1", c.mark("a"));
    expect(ch?.type).toBe("updated");
    expect(ch?.requestId).toBe("req-1");
    expect(c.receive([event(CH, EventType.UPDATED, { id: "a", roomId: "r1", text: "y" }, 2, pos(1, 2), "req-1")]).changes).toEqual([]);
    // Moved to another room: it leaves this scope's cache.
    const moved = c.applyLocal(msg({ id: "a", roomId: "r2", text: "y", version: 3n }), "req-2", c.mark("a"));
    expect(moved?.type).toBe("deleted");
    expect(c.receive([event(CH, EventType.DELETED, { id: "a", roomId: "r2" }, 3, pos(1, 3), "req-2")]).changes).toEqual([]);
    // A Delete's response has no version: the tombstone takes the one after
    // what the cache held when the Delete was sent, the DELETED event's.
    const before = c.mark("b");
    expect(c.applyLocalDelete("b", "req-3", before)?.version).toBe(5n);
    expect(c.receive([event(CH, EventType.DELETED, { id: "b", roomId: "r1" }, 5, pos(1, 4), "req-3")]).changes).toEqual([]);
    expect(c.list()).toEqual([]);
  });

  it("applies a Delete's response only while no event changed the record since it was sent", () => {
    const c = newCache();
    c.beginHydration();
    c.hydrate({ items: [msg({ id: "a", roomId: "r1", text: "x", version: 1n })], position: pos(1, 1) });
    const before = c.mark("a");
    // Deleted at v2 by this Delete, re-created at v3 by another writer:
    // both events arrive before the Delete's reply.
    c.receive([event(CH, EventType.DELETED, { id: "a", roomId: "r1" }, 2, pos(1, 2), "req-1")]);
    c.receive([event(CH, EventType.CREATED, { id: "a", roomId: "r1", text: "again" }, 3, pos(1, 3))]);
    expect(c.applyLocalDelete("a", "req-1", before)).toBeUndefined();
    expect(c.list().map((m) => m.text)).toEqual(["again"]);
    // The next update (v4) is not mistaken for an old one.
    expect(c.receive([event(CH, EventType.UPDATED, { id: "a", roomId: "r1", text: "edited" }, 4, pos(1, 4))]).changes).toHaveLength(1);
    expect(c.list().map((m) => m.text)).toEqual(["edited"]);
  });

  it("applies a mutation's response only to the hydration it was sent under", () => {
    const c = newCache();
    c.beginHydration();
    c.hydrate({ items: [], position: pos(1, 1) });
    const sent = c.mark("a");
    // Created at v1 by this client, deleted at v2 by another writer; the
    // events are lost (a new epoch) and the refetch finds nothing.
    c.beginHydration();
    c.hydrate({ items: [], position: pos(2, 0) });
    // The create's (replayed) reply comes last: it must not bring a back.
    expect(c.applyLocal(msg({ id: "a", roomId: "r1", text: "x", version: 1n }), "req-1", sent)).toBeUndefined();
    expect(c.applyLocalDelete("a", "req-2", sent)).toBeUndefined();
    expect(c.list()).toEqual([]);
    // Not hydrated when sent: nothing to apply to.
    expect(c.applyLocal(msg({ id: "a", roomId: "r1", text: "x", version: 1n }), "req-1", undefined)).toBeUndefined();
  });

  it("treats an update that leaves the scope as a delete", () => {
    const c = newCache();
    c.beginHydration();
    c.hydrate({ items: [msg({ id: "a", roomId: "r1", version: 1n })], position: pos(1, 1) });
    const r = c.receive([event(CH, EventType.UPDATED, { id: "a", roomId: "r9" }, 2, pos(1, 2))]);
    expect(r.changes.map((x) => `${x.type} ${x.key}`)).toEqual(["deleted a"]);
    expect(c.list()).toEqual([]);
  });

  it("asks to verify records that come to life just after a snapshot, and corrects them", () => {
    clock = 1000;
    const c = newCache();
    c.beginHydration();
    c.hydrate({ items: [], position: pos(1, 5) });
    // A late UPDATED of a record deleted before the snapshot was read.
    let r = c.receive([event(CH, EventType.UPDATED, { id: "ghost", roomId: "r1" }, 3, pos(1, 6))]);
    expect(r.verify).toEqual([{ key: "ghost", version: 3n }]);
    expect(c.get("ghost")).toBeDefined();
    const held = c.holding("ghost")!; // when the Get is sent
    expect(held).toEqual({ version: 3n, deleted: false });
    const fixed = c.verified("ghost", held, undefined); // HTTP: NotFound
    expect(fixed.change?.type).toBe("deleted");
    expect(fixed.change?.requestId).toBe("");
    expect(c.get("ghost")).toBeUndefined();
    // Found with a newer version: updated; same version: nothing.
    r = c.receive([event(CH, EventType.CREATED, { id: "n", roomId: "r1", text: "1" }, 1, pos(1, 7))]);
    expect(r.verify).toEqual([{ key: "n", version: 1n }]);
    const heldN = c.holding("n")!;
    expect(c.verified("n", heldN, msg({ id: "n", roomId: "r1", text: "1", version: 1n }))).toEqual({});
    expect(c.verified("n", heldN, msg({ id: "n", roomId: "r1", text: "2", version: 2n })).change?.type).toBe("updated");
    // "Not found" is a compare-and-set against what the cache held when the
    // Get was sent: a record an event changed meanwhile is read again.
    r = c.receive([event(CH, EventType.CREATED, { id: "g2", roomId: "r1", text: "1" }, 1, pos(1, 8))]);
    expect(r.verify).toEqual([{ key: "g2", version: 1n }]);
    const heldG2 = c.holding("g2")!;
    c.receive([event(CH, EventType.UPDATED, { id: "g2", roomId: "r1", text: "2" }, 2, pos(1, 9))]);
    expect(c.verified("g2", heldG2, undefined)).toEqual({ again: true });
    expect(c.get("g2")?.text).toBe("2");
    expect(c.verified("g2", c.holding("g2")!, undefined).change?.type).toBe("deleted");
    // Past the window, new records are trusted.
    clock += 2001;
    r = c.receive([event(CH, EventType.CREATED, { id: "later", roomId: "r1" }, 1, pos(1, 10))]);
    expect(r.verify).toEqual([]);
  });
});
