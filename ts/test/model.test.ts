import { describe, expect, it } from "vitest";
import {
  itemChannel,
  modelChannel,
  parseChannel,
  pathEscape,
  queryEscape,
  scopeChannel,
} from "../runtime/src/model.js";
import { MessageModel } from "./fake.js";

// Expected values are what Go's url.PathEscape / url.QueryEscape return.
describe("channel names match Go's escaping", () => {
  it.each([
    ["abc-_.~XYZ019", "abc-_.~XYZ019"],
    ["a b", "a%20b"],
    ["a/b?c#d", "a%2Fb%3Fc%23d"],
    ["$&+:=@", "$&+:=@"],
    [",;", "%2C%3B"],
    ["!*'()", "%21%2A%27%28%29"],
    ["é€", "%C3%A9%E2%82%AC"],
    ["%", "%25"],
  ])("PathEscape(%j) = %j", (input, want) => {
    expect(pathEscape(input)).toBe(want);
  });

  it.each([
    ["abc-_.~", "abc-_.~"],
    ["a b", "a+b"],
    ["a+b", "a%2Bb"],
    ["x&y=z/é", "x%26y%3Dz%2F%C3%A9"],
    ["$@:", "%24%40%3A"],
    ["!*'()", "%21%2A%27%28%29"],
  ])("QueryEscape(%j) = %j", (input, want) => {
    expect(queryEscape(input)).toBe(want);
  });

  it("builds the three kinds of channel", () => {
    expect(modelChannel(MessageModel)).toBe("Message");
    expect(itemChannel(MessageModel, "a b/c")).toBe("Message/a%20b%2Fc");
    expect(itemChannel("Room", 42n)).toBe("Room/42");
    expect(scopeChannel(MessageModel, "room_id", "lobby 1")).toBe("Message?room_id=lobby+1");
    expect(scopeChannel(MessageModel, "pinned", true)).toBe("Message?pinned=true");
  });

  it("parses what it builds", () => {
    expect(parseChannel("Message")).toEqual({ kind: "model", model: "Message" });
    expect(parseChannel(itemChannel("Message", "a b/c+d"))).toEqual({ kind: "item", model: "Message", key: "a b/c+d" });
    expect(parseChannel(scopeChannel("Message", "room_id", "a+b c&d"))).toEqual({
      kind: "scope",
      model: "Message",
      field: "room_id",
      value: "a+b c&d",
    });
    for (const bad of ["", "1Message", "Message/", "Message?", "Message?room_id", "Message?=x", "Message?a=b&c=d", "Message/%zz"]) {
      expect(() => parseChannel(bad), bad).toThrow(/malformed channel/);
    }
  });
});
