import { describe, expect, it } from "vitest";
import { belongsTo, parseChannel, scopeChannel } from "../runtime/src/model.js";
import { hasParent, parentOf, parentScope } from "../runtime/src/resourcename.js";
import { createWebSocketClient } from "../runtime/src/websocket.js";
import { FakeBackend, MessageModel, msg } from "./fake.js";

// A chat Message as an AIP resource: "rooms/{room}/messages/{message}".
const Resource = { ...MessageModel, patterns: ["rooms/{room}/messages/{message}", "messages/{message}"] };

describe("AIP resource names", () => {
  it("derives the parent from the name, as Go's protocol.Model.ParentOf", () => {
    expect(parentOf(Resource, "rooms/r1/messages/m1")).toBe("rooms/r1");
    expect(parentOf(Resource, "messages/m1")).toBe("");
    expect(parentOf(Resource, "rooms/r1/notes/m1")).toBe("");
    expect(parentOf(Resource, "rooms//messages/m1")).toBe("");
    expect(parentOf(MessageModel, "rooms/r1/messages/m1")).toBe("");
  });

  it("has a parent scope only with a pattern under a parent", () => {
    expect(hasParent(Resource)).toBe(true);
    expect(hasParent({ ...MessageModel, patterns: ["messages/{message}"] })).toBe(false);
    expect(hasParent(MessageModel)).toBe(false);
  });

  it("puts a record on its parent's channel only", () => {
    const room1 = parseChannel(scopeChannel(Resource, parentScope, "rooms/r1"));
    expect(scopeChannel(Resource, parentScope, "rooms/r1")).toBe("Message?parent=rooms%2Fr1");
    expect(belongsTo(Resource, room1, msg({ id: "rooms/r1/messages/m1" }))).toBe(true);
    expect(belongsTo(Resource, room1, msg({ id: "rooms/r10/messages/m1" }))).toBe(false);
    expect(belongsTo(Resource, room1, msg({ id: "rooms/r2/messages/m1" }))).toBe(false);
  });
});

describe("a List by parent", () => {
  it("maps onto the parent's channel, alone", () => {
    const { transport } = new FakeBackend();
    const ws = createWebSocketClient(Resource, { transport });
    expect(ws.channelFor({ parent: "rooms/r1" })).toBe("Message?parent=rooms%2Fr1");
    expect(ws.channelFor({ parent: "rooms/r1", filter: { roomId: "r1" } })).toBeUndefined();
    expect(createWebSocketClient(MessageModel, { transport }).channelFor({ parent: "rooms/r1" })).toBeUndefined();
  });
});
