// The pre-send check's scope: which fields' violations a create or an
// update counts (against the in-memory backend; the rule engine is a stub
// that reports fixed violations, so only the scoping is under test).
import { describe, expect, it } from "vitest";
import { createHttpClient } from "../runtime/src/http.js";
import { ValidationError } from "../runtime/src/validation.js";
import type { Validation, Violation } from "../runtime/src/validation.js";
import { FakeBackend, MessageModel } from "./fake.js";

const v = (field: string): Violation => ({ field, ruleId: "test", message: `${field} is wrong` });

// stub reports a violation for every field named in broken, whatever the message.
function stub(...broken: string[]): Validation {
  return { check: () => broken.map(v), violations: () => undefined };
}

async function refused(p: Promise<unknown>): Promise<readonly Violation[]> {
  const err = await p.then(
    () => expect.fail("the write was sent"),
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ValidationError);
  return (err as ValidationError).violations;
}

describe("the pre-send check", () => {
  it("ignores on a create the fields the server fills: the key when unset, and the version", async () => {
    const backend = new FakeBackend();
    const c = createHttpClient(MessageModel, backend.transport, { validation: stub("id", "version", "text") });
    expect(await refused(c.create({ roomId: "r1", text: "t" }))).toEqual([v("text")]);
    expect(await refused(c.create({ id: "m1", roomId: "r1", text: "t" }))).toEqual([v("id"), v("text")]);
    expect(backend.calls["createMessage"]).toBeUndefined();
  });

  it("counts on an update only the fields it changes", async () => {
    const backend = new FakeBackend();
    const m = backend.put({ roomId: "r1", text: "t" });
    const c = createHttpClient(MessageModel, backend.transport, { validation: stub("text", "lines[2].text") });
    expect((await c.update(m.id, { roomId: "r2" }, ["room_id"])).roomId).toBe("r2");
    expect(await refused(c.update(m.id, { text: "x" }, ["text"]))).toEqual([v("text")]);
    // Without paths, the fields the message sets.
    expect(await refused(c.update(m.id, { text: "x" }))).toEqual([v("text")]);
    // "*" is every field.
    expect(await refused(c.update(m.id, { roomId: "r3" }, ["*"]))).toEqual([v("text"), v("lines[2].text")]);
    expect(backend.calls["updateMessage"]).toBe(1);
  });
});
