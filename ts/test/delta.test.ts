import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { FieldMaskSchema } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { EventSchema, EventType } from "../runtime/gen/ssot/ws/v1/frame_pb.js";
import type { Event } from "../runtime/gen/ssot/ws/v1/frame_pb.js";
import { ChannelCache } from "../runtime/src/cache.js";
import { mergeDelta } from "../runtime/src/delta.js";
import { keyText, versionOf } from "../runtime/src/model.js";
import { MessageSchema } from "./gen/chat/v1/chat_pb.js";
import type { Message } from "./gen/chat/v1/chat_pb.js";
import { MessageModel, event, msg, pos } from "./fake.js";
import type { MessageInitShape } from "@bufbuild/protobuf";

// The merge of field-level deltas in the pure cache (the Go twin:
// ssotws/client/delta_test.go).

const CH = "Message?room_id=r1";

function newCache() {
  return new ChannelCache<Message>(CH, {
    decode: (d) => fromBinary(MessageSchema, d),
    keyOf: (v) => keyText(MessageModel, v),
    versionOf: (v) => versionOf(MessageModel, v),
    hasVersion: true,
    member: (v) => v.roomId === "r1",
    merge: (base, partial, paths) => mergeDelta(MessageSchema, base, partial, paths),
    now: () => 1e9,
  });
}

function delta(key: string, base: number, version: number, partial: MessageInitShape<typeof MessageSchema>, paths: string[], offset: number): Event {
  return create(EventSchema, {
    channel: CH,
    type: EventType.UPDATED,
    key,
    version: BigInt(version),
    baseVersion: BigInt(base),
    deltaMask: create(FieldMaskSchema, { paths }),
    data: toBinary(MessageSchema, create(MessageSchema, { ...partial, version: BigInt(version) })),
    position: pos(1, offset),
    requestId: "req",
  });
}

function live() {
  const c = newCache();
  c.beginHydration();
  c.hydrate({ items: [msg({ id: "a", roomId: "r1", author: "ann", text: "hello", version: 1n })], position: pos(1, 1) });
  return c;
}

describe("field-level deltas", () => {
  it("merges a delta onto the version it applies to, keeping the other fields", () => {
    const c = live();
    const before = c.get("a");
    let r = c.receive([delta("a", 1, 2, { text: "bye" }, ["text", "version"], 2)]);
    expect(r.reread).toEqual([]);
    expect(r.changes.map((x) => `${x.type} ${x.key} v${x.version} ${x.requestId}`)).toEqual(["updated a v2 req"]);
    expect(c.get("a")).toMatchObject({ id: "a", roomId: "r1", author: "ann", text: "bye", version: 2n });
    expect(before?.text).toBe("hello"); // merged into a copy

    // A masked field the partial record lacks is cleared.
    r = c.receive([delta("a", 2, 3, {}, ["author", "version"], 3)]);
    expect(r.changes).toHaveLength(1);
    expect(c.get("a")).toMatchObject({ author: "", text: "bye", version: 3n });
  });

  it("asks for a read when it holds another version, and applies the answer by the version rule", () => {
    const c = live();
    const gen = c.generationNow;
    let r = c.receive([delta("a", 2, 3, { text: "x" }, ["text", "version"], 2)]);
    expect(r.changes).toEqual([]);
    expect(r.reread).toEqual(["a"]);
    expect(c.get("a")?.text).toBe("hello");

    const got = c.reread("a", msg({ id: "a", roomId: "r1", author: "ann", text: "x", version: 3n }), gen);
    expect(got?.type).toBe("updated");
    expect(c.reread("a", msg({ id: "a", roomId: "r1", text: "old", version: 2n }), gen)).toBeUndefined();
    expect(c.reread("a", undefined, gen)).toBeUndefined(); // gone: the delete's event decides

    // No newer than what it holds: ignored, no read.
    r = c.receive([delta("a", 2, 3, { text: "y" }, ["text", "version"], 3)]);
    expect(r.changes).toEqual([]);
    expect(r.reread).toEqual([]);

    // Absent, or deleted: read.
    r = c.receive([delta("b", 4, 5, { text: "y" }, ["text", "version"], 4)]);
    expect(r.reread).toEqual(["b"]);
    c.receive([event(CH, EventType.DELETED, { id: "a", roomId: "r1" }, 4, pos(1, 5))]);
    r = c.receive([delta("a", 4, 5, { text: "y" }, ["text", "version"], 6)]);
    expect(r.reread).toEqual(["a"]);

    // A path the schema lacks: read.
    r = c.receive([delta("b", 0, 1, {}, ["nope"], 7)]);
    expect(r.reread).toEqual(["b"]);

    // After a new hydration, an answer of the old one is dropped.
    c.beginHydration();
    c.hydrate({ items: [], position: pos(1, 7) });
    expect(c.reread("a", msg({ id: "a", roomId: "r1", version: 9n }), gen)).toBeUndefined();
  });

  it("merges a delta buffered during hydration onto the snapshot", () => {
    const c = newCache();
    c.beginHydration();
    c.receive([delta("a", 1, 2, { text: "bye" }, ["text", "version"], 2)]);
    const r = c.hydrate({ items: [msg({ id: "a", roomId: "r1", author: "ann", text: "hello", version: 1n })], position: pos(1, 1) });
    expect(r.changes.map((x) => `${x.type} ${x.key} v${x.version}`)).toEqual(["updated a v2"]);
    expect(c.get("a")).toMatchObject({ author: "ann", text: "bye" });
  });

  it("without a merge in its codec, reads every delta's record", () => {
    const c = new ChannelCache<Message>(CH, {
      decode: (d) => fromBinary(MessageSchema, d),
      keyOf: (v) => keyText(MessageModel, v),
      versionOf: (v) => versionOf(MessageModel, v),
      hasVersion: true,
    });
    c.beginHydration();
    c.hydrate({ items: [msg({ id: "a", roomId: "r1", version: 1n })], position: pos(1, 1) });
    expect(c.receive([delta("a", 1, 2, { text: "bye" }, ["text", "version"], 2)]).reread).toEqual(["a"]);
  });
});
