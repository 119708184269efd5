// Presence and signals of the TS runtime against the chat example's Go
// server over a real WebSocket (as integration.test.ts). The chat server
// authenticates nobody: each connection is its own "anon:<id>" member.
// Room's channels carry untyped payloads and signals; Message's declare
// chat.v1.Member payloads and chat.v1.Typing signals, which the server
// checks.
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createConnection } from "../runtime/src/conn.js";
import type { Connection } from "../runtime/src/conn.js";
import { SignalError } from "../runtime/src/presence.js";
import type { Member, Signal } from "../runtime/src/presence.js";
import { definePresence, defineSignals } from "../runtime/src/presence_typed.js";
import type { TypedMember, TypedSignal } from "../runtime/src/presence_typed.js";
import { ErrorCode } from "../runtime/gen/ssot/ws/v1/frame_pb.js";
import { startChatServer } from "./chatserver.js";
import type { ChatServer } from "./chatserver.js";
import type { Member as ChatMember, Typing } from "./gen/chat/v1/chat_pb.js";
import { MemberSchema, TypingSchema } from "./gen/chat/v1/chat_pb.js";

let server: ChatServer | undefined;
let base = "";
const conns: Connection[] = [];
const text = new TextEncoder();
const untext = new TextDecoder();

beforeAll(async () => {
  server = await startChatServer();
  base = server.base;
}, 180_000);

afterAll(() => {
  for (const c of conns) c.close();
  server?.stop();
});

function dial() {
  const conn = createConnection({ url: base.replace(/^http/, "ws") + "/ws", backoff: { baseMs: 50, capMs: 100 } });
  conns.push(conn);
  return conn;
}

/** watch joins channel on conn and keeps what it hears. */
function watch(conn: Connection, channel: string, name: string) {
  const seen = { members: [] as Member[], signals: [] as Signal[], errors: [] as string[] };
  const presence = conn.join(channel, {
    payload: text.encode(name),
    onMembers: (m) => (seen.members = m),
    onSignal: (s) => seen.signals.push(s),
    onError: (_code, message) => seen.errors.push(message),
  });
  const names = () => seen.members.map((m) => untext.decode(m.payload)).sort();
  return { seen, presence, names };
}

const until = { timeout: 5_000, interval: 10 };

describe("presence and signals against the Go chat server", () => {
  it("two connections see each other join, signal, and leave", async () => {
    const channel = `Room/presence-${Date.now()}`;
    const a = dial();
    const b = dial();
    const wa = watch(a, channel, "ann");
    await vi.waitFor(() => expect(wa.names()).toEqual(["ann"]), until);
    const wb = watch(b, channel, "ben");
    await vi.waitFor(() => expect(wa.names()).toEqual(["ann", "ben"]), until);
    await vi.waitFor(() => expect(wb.names()).toEqual(["ann", "ben"]), until);
    expect(wa.seen.members.every((m) => m.user.startsWith("anon:"))).toBe(true);

    // A signal reaches the others, not its sender (unless it asks).
    await b.signal(channel, "typing", new Uint8Array([1]));
    await b.signal(channel, "typing", new Uint8Array([2]), { echo: true });
    await vi.waitFor(() => expect(wb.seen.signals.map((s) => s.data[0])).toEqual([2]), until);
    await vi.waitFor(() => expect(wa.seen.signals.map((s) => s.data[0])).toEqual([1, 2]), until);
    expect(wa.seen.signals[0]).toMatchObject({ channel, name: "typing", user: wb.seen.members.find((m) => untext.decode(m.payload) === "ben")!.user });

    // A payload change is a change, not a second member.
    wb.presence.setPayload(text.encode("ben (away)"));
    await vi.waitFor(() => expect(wa.names()).toEqual(["ann", "ben (away)"]), until);

    b.close();
    await vi.waitFor(() => expect(wa.names()).toEqual(["ann"]), until);
  });

  it("refuses a signal over the rate, and an unknown channel", async () => {
    const channel = `Room/rate-${Date.now()}`;
    const a = dial();
    watch(a, channel, "ann");
    await vi.waitFor(() => expect(a.state).toBe("open"), until);
    // 30 at once: the default bucket holds 10 and refills 5 per second.
    const results = await Promise.allSettled(Array.from({ length: 30 }, () => a.signal(channel, "typing")));
    const refused = results.filter((r) => r.status === "rejected").map((r) => (r as PromiseRejectedResult).reason as SignalError);
    expect(refused.length).toBeGreaterThan(0);
    expect(refused.every((e) => e instanceof SignalError && e.code === ErrorCode.RATE_LIMITED)).toBe(true);
    expect(a.state).toBe("open");

    const err = await a.signal("Nope", "typing").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SignalError);
    expect((err as SignalError).code).toBe(ErrorCode.UNKNOWN_CHANNEL);

    const w = watch(a, "Nope?x=1", "ann");
    await vi.waitFor(() => expect(w.seen.errors.length).toBe(1), until);
  });
});

// What the generated chat_ssotws.ts declares for Message.
const MessagePresence = definePresence(MemberSchema);
const MessageSignals = defineSignals(TypingSchema);

/** watchTyped joins channel on conn as displayName and keeps what it hears, decoded. */
function watchTyped(conn: Connection, channel: string, displayName: string) {
  const seen = { members: [] as TypedMember<ChatMember>[], signals: [] as TypedSignal<Typing>[] };
  MessagePresence.join(conn, channel, {
    payload: { displayName },
    onMembers: (m) => (seen.members = m),
    onSignal: MessageSignals.handle((s) => seen.signals.push(s)),
  });
  return seen;
}

describe("typed presence and signals against the Go chat server", () => {
  it("two connections exchange typed payloads and signals", async () => {
    const channel = `Message?room_id=typed-${Date.now()}`;
    const a = dial();
    const b = dial();
    const seen = watchTyped(a, channel, "ann");
    const pb = MessagePresence.join(b, channel, { payload: { displayName: "ben" } });
    const names = () => seen.members.map((m) => m.payload.displayName).sort();
    await vi.waitFor(() => expect(names()).toEqual(["ann", "ben"]), until);
    await vi.waitFor(() => expect(pb.members().map((m) => m.payload.displayName).sort()).toEqual(["ann", "ben"]), until);

    pb.setPayload({ displayName: "ben (away)" });
    await vi.waitFor(() => expect(names()).toEqual(["ann", "ben (away)"]), until);

    await MessageSignals.send(b, channel, { typing: true });
    await vi.waitFor(() => expect(seen.signals.length).toBe(1), until);
    expect(seen.signals[0]).toMatchObject({ channel, name: "Typing", data: { typing: true } });
  });

  it("refuses a payload or a signal that is not the declared type, and relays neither", async () => {
    const channel = `Message?room_id=malformed-${Date.now()}`;
    const seen = watchTyped(dial(), channel, "ann");
    await vi.waitFor(() => expect(seen.members.length).toBe(1), until);

    // "ben" as bytes is no chat.v1.Member: refused, naming the type.
    const b = dial();
    const wb = watch(b, channel, "ben");
    await vi.waitFor(() => expect(wb.seen.errors.length).toBe(1), until);
    expect(wb.seen.errors[0]).toContain("must be a chat.v1.Member");

    const err = await b.signal(channel, "Typing", new Uint8Array([0xff])).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SignalError);
    expect((err as SignalError).code).toBe(ErrorCode.BAD_REQUEST);
    expect((err as SignalError).message).toContain("must be a chat.v1.Typing");

    // Frames keep their order: had the bad signal been relayed, it would come first.
    await MessageSignals.send(b, channel, { typing: false });
    await vi.waitFor(() => expect(seen.signals.length).toBe(1), until);
    expect(seen.signals[0]!.data.typing).toBe(false);
    expect(seen.members.map((m) => m.payload.displayName)).toEqual(["ann"]);
  });
});
