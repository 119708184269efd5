// Authentication (docs/client-semantics.md, "Authentication"): the token
// provider on both transports, refresh on the open socket, the close codes.
// The fake WebSocket exchanges real protobuf frame bytes; timers are fake.

import { create, fromBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, createRouterTransport } from "@connectrpc/connect";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ClientFrameSchema, ErrorCode } from "../runtime/gen/ssot/ws/v1/frame_pb.js";
import type { ClientFrame } from "../runtime/gen/ssot/ws/v1/frame_pb.js";
import { createAuthInterceptor, normalizeToken, refreshAt } from "../runtime/src/auth.js";
import type { TokenProvider, TokenResult } from "../runtime/src/auth.js";
import { createHttpClient } from "../runtime/src/http.js";
import { createConnection, tokenSubprotocol } from "../runtime/src/conn.js";
import type { ChannelSink, CloseInfo, Connection, ConnectionState } from "../runtime/src/conn.js";
import { ChatService, MessageSchema } from "./gen/chat/v1/chat_pb.js";
import { FakeWebSocket, MessageModel, pos } from "./fake.js";

const MIN = 60_000;

function sink(log: string[], since?: () => ReturnType<ChannelSink["since"]>): ChannelSink {
  return {
    since: since ?? (() => undefined),
    onAck: (p, resumed) => log.push(`ack ${p ? `${p.epoch}:${p.offset}` : "-"} ${resumed}`),
    onReset: (p) => log.push(`reset ${p?.offset}`),
    onEvents: (es) => log.push(`events ${es.map((e) => e.key).join(",")}`),
    onError: (code, m) => log.push(`error ${code} ${m}`),
    onDisconnect: () => log.push("disconnect"),
  };
}

/** frames decodes the raw bytes a socket was sent, as the gateway would. */
function frames(ws: FakeWebSocket): ClientFrame["frame"][] {
  return ws.sentBytes.map((b) => fromBinary(ClientFrameSchema, b).frame);
}

function authFrames(ws: FakeWebSocket): string[] {
  return frames(ws).flatMap((f) => (f.case === "auth" ? [f.value.token] : []));
}

/**
 * gateway makes every new socket open and answer Pings and Subscribes (Ack
 * at offset 5); a socket `refuse` picks answers nothing (a refused handshake
 * token: the gateway closes before reading).
 */
function gateway(opts: { refuse?: (ws: FakeWebSocket) => boolean } = {}) {
  FakeWebSocket.onCreate = (ws) => {
    if (opts.refuse?.(ws)) {
      ws.autoPong = false;
      queueMicrotask(() => ws.serverOpen());
      return;
    }
    ws.onClientFrame = (f) => {
      if (f.frame.case === "subscribe") {
        ws.serverSend({ frame: { case: "ack", value: { id: f.frame.value.id, position: pos(1, 5) } } });
      }
    };
    queueMicrotask(() => ws.serverOpen());
  };
}

/**
 * settle runs what is due now (microtasks, zero-delay timers and what they
 * start) without moving the clock. (A zero-delay timer set from within a
 * timer callback waits 1 ms under fake timers, as in Node.)
 */
async function settle() {
  for (let i = 0; i < 5; i++) await vi.advanceTimersByTimeAsync(0);
}

let conn: Connection | undefined;
beforeEach(() => {
  FakeWebSocket.reset();
  vi.useFakeTimers();
  vi.setSystemTime(new Date("2026-01-01T00:00:00Z"));
});
afterEach(() => {
  conn?.close();
  conn = undefined;
  vi.useRealTimers();
});

describe("token provider", () => {
  it("normalizes strings and { token, expiresAt }", () => {
    expect(normalizeToken("a")).toEqual({ token: "a", expiresAt: undefined });
    expect(normalizeToken("")).toBeUndefined();
    expect(normalizeToken(undefined)).toBeUndefined();
    expect(normalizeToken(null)).toBeUndefined();
    expect(normalizeToken({ token: "b", expiresAt: new Date(5000) })).toEqual({ token: "b", expiresAt: 5000 });
    expect(normalizeToken({ token: "c", expiresAt: 7 })).toEqual({ token: "c", expiresAt: 7 });
    expect(normalizeToken({ token: "" })).toBeUndefined();
  });

  it("refreshes 10 % of the lifetime before the expiry, at most 30 s, at least 1 s (or half the lifetime)", () => {
    expect(refreshAt(0, 60 * MIN)).toBe(60 * MIN - 30_000); // 1 h: 30 s
    expect(refreshAt(0, 100_000)).toBe(90_000); // 100 s: 10 s
    expect(refreshAt(0, 5_000)).toBe(4_000); // 5 s: 1 s, not 0.5 s
    expect(refreshAt(0, 1_500)).toBe(750); // under 2 s: half
    expect(refreshAt(1000, 1000)).toBe(1000);
    expect(refreshAt(1000, 500)).toBe(500); // already expired
    // The Go client's RefreshLead, case by case (ssotws/client/token.go).
    const lead = (ms: number) => ms - refreshAt(0, ms);
    expect([60 * MIN, 10 * MIN, 5 * MIN, 20_000, 10_000, 2_000, 1_000, 0].map(lead)).toEqual([
      30_000, 30_000, 30_000, 2_000, 1_000, 1_000, 500, 0,
    ]);
  });
});

describe("refresh on the open socket", () => {
  it("sends an Auth frame before the expiry, without reconnecting, and arms the next refresh", async () => {
    gateway();
    const calls: number[] = [];
    const reasons: string[] = [];
    let n = 0;
    conn = createConnection({
      url: "ws://a",
      WebSocket: FakeWebSocket,
      getToken: async ({ reason }) => {
        calls.push(Date.now());
        reasons.push(reason);
        n++;
        return { token: `t${n}`, expiresAt: Date.now() + 10 * MIN };
      },
    });
    const log: string[] = [];
    conn.subscribe("Message", sink(log));
    await settle();
    expect(conn.state).toBe("open");
    const ws = FakeWebSocket.last();
    expect(ws.protocols).toEqual(["ssot.v1", tokenSubprotocol("t1")]);
    const t0 = Date.now();

    // 10 min lifetime: 10 % is 60 s, so the lead is 30 s.
    await vi.advanceTimersByTimeAsync(10 * MIN - 30_001);
    expect(authFrames(ws)).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(calls).toEqual([t0, t0 + 10 * MIN - 30_000]);
    expect(authFrames(ws)).toEqual(["t2"]);
    // The bytes on the wire are a ClientFrame{auth:{token}}.
    const bytes = ws.sentBytes.at(-1)!;
    expect(fromBinary(ClientFrameSchema, bytes)).toEqual(
      create(ClientFrameSchema, { frame: { case: "auth", value: { token: "t2" } } }),
    );

    // The next refresh follows the new token's expiry.
    await vi.advanceTimersByTimeAsync(10 * MIN - 30_000);
    expect(authFrames(ws)).toEqual(["t2", "t3"]);
    expect(reasons).toEqual(["current", "refresh", "refresh"]);
    expect(FakeWebSocket.instances).toHaveLength(1);
    expect(conn.state).toBe("open");
    expect(log).toEqual(["ack 1:5 false"]); // no disconnect, no resubscribe
    expect(frames(ws).filter((f) => f.case === "subscribe")).toHaveLength(1);
  });

  it("a short lifetime refreshes at 90 %; without a new token the provider is asked again with backoff", async () => {
    gateway();
    const answers: (() => TokenResult)[] = [
      () => ({ token: "t1", expiresAt: Date.now() + 100_000 }),
      () => {
        throw new Error("offline");
      },
      () => ({ token: "t1", expiresAt: Date.now() + 100_000 }), // the same token: not sent
      () => ({ token: "t2", expiresAt: new Date(Date.now() + 100_000) }),
    ];
    const calls: number[] = [];
    const t0 = Date.now();
    conn = createConnection({
      url: "ws://a",
      WebSocket: FakeWebSocket,
      getToken: () => {
        calls.push(Date.now() - t0);
        return answers[calls.length - 1]!();
      },
      backoff: { random: () => 0.999999 }, // waits of 1 s, 2 s, …
    });
    conn.connect();
    await settle();
    const ws = FakeWebSocket.last();
    await vi.advanceTimersByTimeAsync(90_000); // lead: 10 s
    expect(calls).toEqual([0, 90_000]);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(calls).toEqual([0, 90_000, 91_000]);
    expect(authFrames(ws)).toEqual([]);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(calls).toEqual([0, 90_000, 91_000, 93_000]);
    expect(authFrames(ws)).toEqual(["t2"]);
    expect(FakeWebSocket.instances).toHaveLength(1);
  });

  it("a plain string token is never refreshed on its own (the server's 4408 is)", async () => {
    gateway();
    let n = 0;
    const getToken = vi.fn(() => `s${++n}`);
    conn = createConnection({ url: "ws://a", WebSocket: FakeWebSocket, getToken });
    conn.connect();
    await settle();
    await vi.advanceTimersByTimeAsync(24 * 60 * MIN);
    expect(getToken).toHaveBeenCalledTimes(1);
    expect(authFrames(FakeWebSocket.last())).toEqual([]);
  });
});

describe("close codes", () => {
  it("4408: asks for a fresh token and reconnects at once, resuming with since", async () => {
    gateway();
    let n = 0;
    conn = createConnection({ url: "ws://a", WebSocket: FakeWebSocket, getToken: () => `t${++n}` });
    const log: string[] = [];
    conn.subscribe("Message", sink(log, () => pos(1, 9)));
    await settle();
    expect(log).toEqual(["ack 1:5 true"]);
    FakeWebSocket.last().serverClose(4408, "token expired");
    expect(conn.lastError).toEqual({ code: 4408, reason: "token expired" });
    await settle(); // no timer but the microtasks: no backoff
    expect(FakeWebSocket.instances).toHaveLength(2);
    const ws = FakeWebSocket.last();
    expect(ws.protocols).toEqual(["ssot.v1", tokenSubprotocol("t2")]);
    expect(conn.state).toBe("open");
    const sub = ws.subscribes()[0]!;
    expect([sub.channel, `${sub.since?.epoch}:${sub.since?.offset}`]).toEqual(["Message", "1:9"]);
    expect(log).toEqual(["ack 1:5 true", "disconnect", "ack 1:5 true"]);
  });

  it("4401: one immediate retry with a fresh token; refused again, the state is unauthenticated", async () => {
    // The second socket is refused at the handshake: closed before it answers anything.
    gateway({ refuse: (ws) => ws === FakeWebSocket.instances[1] });
    const tokens: string[] = [];
    const reasons: string[] = [];
    conn = createConnection({
      url: "ws://a",
      WebSocket: FakeWebSocket,
      getToken: async ({ reason }) => {
        reasons.push(reason);
        tokens.push(`t${tokens.length + 1}`);
        return tokens.at(-1);
      },
    });
    const states: ConnectionState[] = [];
    conn.onState((s) => states.push(s));
    const log: string[] = [];
    conn.subscribe("Message", sink(log));
    await settle();
    FakeWebSocket.last().serverClose(4401, "revoked");
    await settle();
    expect(FakeWebSocket.instances).toHaveLength(2);
    expect(FakeWebSocket.last().protocols).toEqual(["ssot.v1", tokenSubprotocol("t2")]);
    FakeWebSocket.last().serverClose(4401, "unauthenticated");
    expect(conn.state).toBe("unauthenticated");
    expect(conn.lastError).toEqual({ code: 4401, reason: "unauthenticated" });
    await vi.advanceTimersByTimeAsync(10 * MIN);
    expect(FakeWebSocket.instances).toHaveLength(2); // stopped
    expect(tokens).toEqual(["t1", "t2"]);
    expect(reasons).toEqual(["current", "rejected"]);
    // The refused socket opened, but the server never answered: never "open".
    expect(states).toEqual(["connecting", "open", "reconnecting", "unauthenticated"]);

    // After a new sign-in the application starts over.
    conn.reconnect();
    await settle();
    expect(conn.state).toBe("open");
    expect(FakeWebSocket.last().protocols).toEqual(["ssot.v1", tokenSubprotocol("t3")]);
    expect(reasons).toEqual(["current", "rejected", "rejected"]);
    expect(log.at(-1)).toBe("ack 1:5 false");
  });

  it("4401 or 4408 on a connection the server answered: always one immediate retry", async () => {
    gateway();
    let n = 0;
    conn = createConnection({ url: "ws://a", WebSocket: FakeWebSocket, getToken: () => `t${++n}` });
    conn.connect();
    for (const code of [4401, 4408, 4401, 4401, 4408]) {
      await settle(); // the Pong arrives
      FakeWebSocket.last().serverClose(code);
    }
    await settle();
    expect(conn.state).toBe("open");
    expect(FakeWebSocket.instances).toHaveLength(6);
  });

  it("4408 at the handshake (the provider hands out expired tokens): backoff, asking for fresh ones", async () => {
    gateway();
    const reasons: string[] = [];
    let expired = true;
    FakeWebSocket.onCreate = ((inner) => (ws: FakeWebSocket) => {
      if (!expired) return inner?.(ws);
      ws.autoPong = false;
      queueMicrotask(() => (ws.serverOpen(), ws.serverClose(4408, "token expired")));
    })(FakeWebSocket.onCreate);
    conn = createConnection({
      url: "ws://a",
      WebSocket: FakeWebSocket,
      getToken: ({ reason }) => (reasons.push(reason), "old"),
      backoff: { random: () => 0.999999 },
    });
    conn.connect();
    await settle();
    expect(FakeWebSocket.instances).toHaveLength(1); // the first: at once
    await vi.advanceTimersByTimeAsync(1000);
    expect(FakeWebSocket.instances).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(2000);
    expect(FakeWebSocket.instances).toHaveLength(3);
    expect(conn.state).toBe("reconnecting");
    expect(reasons).toEqual(["current", "expired", "expired"]);
    expired = false;
    await vi.advanceTimersByTimeAsync(4000 + 5); // 5 ms: the Pong is a timer too
    expect(conn.state).toBe("open");
  });

  it("a provider that throws: no dial, asked again after a wait", async () => {
    gateway();
    let fail = 2;
    const getToken = vi.fn(() => {
      if (fail-- > 0) throw new Error("offline");
      return "t";
    });
    conn = createConnection({ url: "ws://a", WebSocket: FakeWebSocket, getToken, backoff: { random: () => 0.999999 } });
    conn.connect();
    await settle();
    expect(FakeWebSocket.instances).toHaveLength(0);
    expect(conn.state).toBe("reconnecting");
    expect(conn.lastError).toEqual({ code: 0, reason: "the token provider failed" });
    await vi.advanceTimersByTimeAsync(1000 + 2000 + 5);
    expect(getToken).toHaveBeenCalledTimes(3);
    expect(FakeWebSocket.instances).toHaveLength(1);
    expect(conn.state).toBe("open");
    expect(conn.lastError).toBeUndefined();
    expect(conn.lastDrop).toEqual({ code: 0, reason: "the token provider failed" });
  });

  it("4403: forbidden, no more dials; reconnect() starts over", async () => {
    gateway();
    let user = "a";
    conn = createConnection({ url: "ws://a", WebSocket: FakeWebSocket, getToken: () => `user-${user}` });
    const log: string[] = [];
    conn.subscribe("Message", sink(log));
    await settle();
    FakeWebSocket.last().serverClose(4403, "another subject");
    expect(conn.state).toBe("forbidden");
    expect(conn.lastError).toEqual({ code: 4403, reason: "another subject" });
    await vi.advanceTimersByTimeAsync(10 * MIN);
    expect(FakeWebSocket.instances).toHaveLength(1);
    user = "a-again";
    conn.reconnect();
    await settle();
    expect(conn.state).toBe("open");
    expect(FakeWebSocket.last().protocols).toEqual(["ssot.v1", tokenSubprotocol("user-a-again")]);
  });

  it("4429: backoff, growing while the server closes before answering", async () => {
    FakeWebSocket.onCreate = (ws) => {
      ws.autoPong = false;
      queueMicrotask(() => (ws.serverOpen(), ws.serverClose(4429, "too many connections")));
    };
    const opened: number[] = [];
    const t0 = Date.now();
    const orig = FakeWebSocket.onCreate;
    FakeWebSocket.onCreate = (ws) => {
      opened.push(Date.now() - t0);
      orig(ws);
    };
    conn = createConnection({ url: "ws://a", WebSocket: FakeWebSocket, backoff: { random: () => 0.999999 } });
    conn.connect();
    await vi.advanceTimersByTimeAsync(1000 + 2000 + 4000);
    expect(opened).toEqual([0, 1000, 3000, 7000]);
    expect(conn.state).toBe("reconnecting");
  });

  it("1008 and 1009: reported, then backoff", async () => {
    gateway();
    const reported: CloseInfo[] = [];
    conn = createConnection({
      url: "ws://a",
      WebSocket: FakeWebSocket,
      onProtocolError: (i) => reported.push(i),
      backoff: { random: () => 0 },
    });
    conn.connect();
    await settle();
    FakeWebSocket.last().serverClose(1009, "frame too large");
    await settle();
    expect(FakeWebSocket.instances).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(500);
    expect(FakeWebSocket.instances).toHaveLength(2);
    await settle();
    FakeWebSocket.last().serverClose(1008, "bad frame");
    expect(reported).toEqual([
      { code: 1009, reason: "frame too large" },
      { code: 1008, reason: "bad frame" },
    ]);
    expect(conn.state).toBe("reconnecting");
  });

  it("a static token refused is not offered again: unauthenticated without dialling", async () => {
    gateway();
    conn = createConnection({ url: "ws://a", WebSocket: FakeWebSocket, token: "static" });
    conn.connect();
    await settle();
    FakeWebSocket.last().serverClose(4408, "token expired");
    await vi.advanceTimersByTimeAsync(MIN);
    expect(conn.state).toBe("unauthenticated");
    expect(FakeWebSocket.instances).toHaveLength(1);
    conn.setToken("static2");
    await settle();
    expect(conn.state).toBe("open");
    expect(FakeWebSocket.last().protocols).toEqual(["ssot.v1", tokenSubprotocol("static2")]);
  });
});

describe("subscriptions dropped after a refresh", () => {
  it("are reported on that subscription and never resubscribed; refused ones are tried again", async () => {
    gateway();
    let n = 0;
    conn = createConnection({
      url: "ws://a",
      WebSocket: FakeWebSocket,
      getToken: () => ({ token: `t${++n}`, expiresAt: Date.now() + 10 * MIN }),
      backoff: { random: () => 0 },
    });
    const a: string[] = [];
    const b: string[] = [];
    const r: string[] = [];
    conn.subscribe("Message", sink(a));
    conn.subscribe("Message?room_id=secret", sink(b));
    await settle();
    const ws = FakeWebSocket.last();
    // A Subscribe refused outright (no Ack): reported, tried again on the next connection.
    ws.onClientFrame = undefined; // the gateway answers by hand from here
    conn.subscribe("Refused", {
      ...sink(r),
      onAck: () => r.push("ack"),
    });
    const refusedId = ws.subscribes().find((s) => s.channel === "Refused")!.id;
    ws.serverSend({ frame: { case: "error", value: { id: refusedId, code: ErrorCode.TOO_MANY_SUBSCRIPTIONS, message: "too many" } } });
    await settle();
    expect(r).toEqual([`error ${ErrorCode.TOO_MANY_SUBSCRIPTIONS} too many`]);
    await vi.advanceTimersByTimeAsync(10 * MIN - 30_000);
    expect(authFrames(ws)).toEqual(["t2"]);
    // The gateway re-checks and drops the secret room's subscription.
    const secretId = ws.subscribes().find((s) => s.channel === "Message?room_id=secret")!.id;
    ws.serverSend({ frame: { case: "error", value: { id: secretId, code: ErrorCode.FORBIDDEN, message: "no longer allowed" } } });
    ws.serverSend({
      frame: { case: "events", value: { events: [{ channel: "Message?room_id=secret", key: "late", position: pos(1, 6) }] } },
    });
    await settle();
    expect(b).toEqual(["ack 1:5 false", `error ${ErrorCode.FORBIDDEN} no longer allowed`]);

    // A later subscriber of the failed channel hears the same error.
    const c: string[] = [];
    const unsubC = conn.subscribe("Message?room_id=secret", sink(c));
    await settle();
    expect(c).toEqual([`error ${ErrorCode.FORBIDDEN} no longer allowed`]);

    // Not resubscribed on a new connection either.
    ws.serverClose(1001, "going away");
    await vi.advanceTimersByTimeAsync(501);
    const ws2 = FakeWebSocket.last();
    expect(ws2).not.toBe(ws);
    expect(ws2.subscribes().map((s) => s.channel)).toEqual(["Message", "Refused"]);
    expect(a).toEqual(["ack 1:5 false", "disconnect", "ack 1:5 false"]);
    expect(b).toHaveLength(2);
    expect(c).toHaveLength(1);
    expect(r).toEqual([`error ${ErrorCode.TOO_MANY_SUBSCRIPTIONS} too many`, "disconnect", "ack"]);
    unsubC();
  });

  it("a new subscribe after every subscriber left starts afresh", async () => {
    gateway();
    conn = createConnection({ url: "ws://a", WebSocket: FakeWebSocket });
    const b: string[] = [];
    const unsub = conn.subscribe("Secret", sink(b));
    await settle();
    const ws = FakeWebSocket.last();
    const id = ws.subscribes()[0]!.id;
    expect(b).toEqual(["ack 1:5 false"]);
    ws.serverSend({ frame: { case: "error", value: { id, code: ErrorCode.FORBIDDEN, message: "no" } } });
    await settle();
    unsub();
    expect(frames(ws).filter((f) => f.case === "unsubscribe")).toEqual([]); // already gone on the server
    const again: string[] = [];
    conn.subscribe("Secret", sink(again));
    await settle();
    expect(ws.subscribes().map((s) => s.channel)).toEqual(["Secret", "Secret"]);
    expect(again).toEqual(["ack 1:5 false"]);
    expect(b).toEqual(["ack 1:5 false", `error ${ErrorCode.FORBIDDEN} no`]);
  });
});

describe("createAuthInterceptor", () => {
  function server(accept: (auth: string | null) => boolean) {
    const seen: { auth: string | null; key: string | null }[] = [];
    const routes = (token: TokenProvider) =>
      createRouterTransport(
        ({ service }) => {
          service(ChatService, {
            getMessage: (req, ctx) => {
              seen.push({ auth: ctx.requestHeader.get("Authorization"), key: null });
              if (!accept(ctx.requestHeader.get("Authorization"))) {
                throw new ConnectError("invalid token", Code.Unauthenticated);
              }
              return { id: req.id, text: "ok" };
            },
            createMessage: (req, ctx) => {
              seen.push({ auth: ctx.requestHeader.get("Authorization"), key: ctx.requestHeader.get("Idempotency-Key") });
              if (!accept(ctx.requestHeader.get("Authorization"))) {
                throw new ConnectError("invalid token", Code.Unauthenticated);
              }
              return create(MessageSchema, { roomId: req.message?.roomId ?? "", text: req.message?.text ?? "", id: "m1", version: 1n });
            },
          });
        },
        { transport: { interceptors: [createAuthInterceptor(token)] } },
      );
    return { seen, routes };
  }

  it("sets Authorization: Bearer from the provider on every call", async () => {
    const { seen, routes } = server(() => true);
    const http = createHttpClient(MessageModel, routes(() => ({ token: "abc", expiresAt: Date.now() + MIN })));
    await http.get("m1");
    await http.get("m2");
    expect(seen.map((s) => s.auth)).toEqual(["Bearer abc", "Bearer abc"]);
  });

  it("on Unauthenticated asks for a fresh token and retries once, with the same Idempotency-Key", async () => {
    const { seen, routes } = server((a) => a === "Bearer fresh");
    const answers = ["stale", "fresh"];
    const reasons: string[] = [];
    const getToken = vi.fn(async (req: { reason: string }) => (reasons.push(req.reason), answers.shift()));
    const http = createHttpClient(MessageModel, routes(getToken));
    const m = await http.create({ roomId: "r", text: "hi" });
    expect(m.id).toBe("m1");
    expect(getToken).toHaveBeenCalledTimes(2);
    expect(reasons).toEqual(["current", "rejected"]);
    expect(seen.map((s) => s.auth)).toEqual(["Bearer stale", "Bearer fresh"]);
    expect(seen[0]!.key).toBeTruthy();
    expect(seen[1]!.key).toBe(seen[0]!.key);
  });

  it("retries only once, and not at all with the token just refused or on other errors", async () => {
    const { seen, routes } = server(() => false);
    let n = 0;
    const http = createHttpClient(MessageModel, routes(() => `t${++n}`));
    await expect(http.get("m1")).rejects.toMatchObject({ code: Code.Unauthenticated });
    expect(seen.map((s) => s.auth)).toEqual(["Bearer t1", "Bearer t2"]);

    seen.length = 0;
    const same = createHttpClient(MessageModel, routes(() => "same"));
    await expect(same.get("m1")).rejects.toMatchObject({ code: Code.Unauthenticated });
    expect(seen).toHaveLength(1);

    seen.length = 0;
    const none = createHttpClient(MessageModel, routes(() => undefined));
    await expect(none.get("m1")).rejects.toMatchObject({ code: Code.Unauthenticated });
    expect(seen).toEqual([{ auth: null, key: null }]);

    let calls = 0;
    const failing = createHttpClient(
      MessageModel,
      createRouterTransport(
        ({ service }) =>
          service(ChatService, {
            getMessage: () => {
              calls++;
              throw new ConnectError("no", Code.PermissionDenied);
            },
          }),
        { transport: { interceptors: [createAuthInterceptor(() => "t")] } },
      ),
    );
    await expect(failing.get("m1")).rejects.toMatchObject({ code: Code.PermissionDenied });
    expect(calls).toBe(1);
  });

  it("a provider that throws fails the call with Unauthenticated", async () => {
    const { seen, routes } = server(() => true);
    const http = createHttpClient(MessageModel, routes(() => {
      throw new Error("signed out");
    }));
    await expect(http.get("m1")).rejects.toMatchObject({ code: Code.Unauthenticated });
    expect(seen).toEqual([]);
  });
});
