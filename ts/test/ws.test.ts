import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ErrorCode } from "../runtime/gen/ssot/ws/v1/frame_pb.js";
import { backoffDelay, createConnection, tokenSubprotocol } from "../runtime/src/conn.js";
import type { ChannelSink, ConnectionState } from "../runtime/src/conn.js";
import { FakeWebSocket, pos } from "./fake.js";

/** mulberry32: a seeded PRNG, so jitter is reproducible. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Target {
  private ls = new Map<string, Set<() => void>>();
  visibilityState = "visible";
  addEventListener(type: string, l: () => void) {
    if (!this.ls.has(type)) this.ls.set(type, new Set());
    this.ls.get(type)!.add(l);
  }
  removeEventListener(type: string, l: () => void) {
    this.ls.get(type)?.delete(l);
  }
  dispatch(type: string) {
    for (const l of this.ls.get(type) ?? []) l();
  }
  count(type: string) {
    return this.ls.get(type)?.size ?? 0;
  }
}

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

beforeEach(() => FakeWebSocket.reset());
afterEach(() => vi.useRealTimers());

describe("backoff", () => {
  it("waits min(cap, base·2ⁿ) scaled into [0.5, 1]", () => {
    expect([0, 1, 2, 3, 4, 5, 9].map((n) => backoffDelay(n, { random: () => 0.999999 }))).toEqual(
      [1000, 2000, 4000, 8000, 16000, 16000, 16000],
    );
    expect([0, 1, 2, 3, 4, 5].map((n) => backoffDelay(n, { random: () => 0 }))).toEqual([500, 1000, 2000, 4000, 8000, 8000]);
    expect(backoffDelay(2, { baseMs: 10, capMs: 25, random: () => 0.5 })).toBe(19); // 18.75
    const r = seeded(7);
    for (let n = 0; n < 200; n++) {
      const d = backoffDelay(n % 8, { random: r });
      const top = Math.min(16000, 1000 * 2 ** (n % 8));
      expect(d).toBeGreaterThanOrEqual(top / 2);
      expect(d).toBeLessThanOrEqual(top);
    }
  });

  it("reconnects on that schedule with seeded jitter, and resets once the server answered", async () => {
    vi.useFakeTimers();
    const env = new Target();
    let failing = true;
    const opened: number[] = [];
    FakeWebSocket.onCreate = (ws) => {
      opened.push(Date.now());
      queueMicrotask(() => (failing ? ws.serverClose(1006) : ws.serverOpen()));
    };
    const states: ConnectionState[] = [];
    const conn = createConnection({
      url: "ws://test/ws",
      WebSocket: FakeWebSocket,
      window: env,
      document: env,
      backoff: { random: seeded(42) },
    });
    conn.onState((s) => states.push(s));
    expect(conn.state).toBe("idle");
    const t0 = Date.now();
    conn.connect();
    const expected = seeded(42);
    let at = t0;
    const want: number[] = [t0];
    for (let n = 0; n < 7; n++) {
      const d = Math.round(Math.min(16000, 1000 * 2 ** n) * (0.5 + 0.5 * expected()));
      at += d;
      want.push(at);
      await vi.advanceTimersByTimeAsync(d);
    }
    expect(opened).toEqual(want);
    const gaps = opened.slice(1).map((t, i) => t - opened[i]!);
    gaps.forEach((g, n) => {
      const d = Math.min(16000, 1000 * 2 ** n);
      expect(g).toBeGreaterThanOrEqual(d * 0.5);
      expect(g).toBeLessThanOrEqual(d);
    });
    expect(states).toEqual(["connecting", "reconnecting"]);

    // The next attempt succeeds; after a drop the wait starts from 1 s again.
    failing = false;
    await vi.advanceTimersByTimeAsync(16000);
    expect(conn.state).toBe("open");
    expect(FakeWebSocket.last().sent()[0]?.frame.case).toBe("ping"); // answered by a Pong
    const before = opened.length;
    FakeWebSocket.last().serverClose(1006);
    expect(conn.state).toBe("reconnecting");
    await vi.advanceTimersByTimeAsync(499);
    expect(opened.length).toBe(before);
    await vi.advanceTimersByTimeAsync(501);
    expect(opened.length).toBe(before + 1);
    expect(conn.state).toBe("open");
    conn.close();
    expect(conn.state).toBe("closed");
    expect(env.count("online")).toBe(0);
  });

  it("reconnects at once when the page comes back online or visible", async () => {
    vi.useFakeTimers();
    const env = new Target();
    let failing = true;
    FakeWebSocket.onCreate = (ws) => queueMicrotask(() => (failing ? ws.serverClose(1006) : ws.serverOpen()));
    const conn = createConnection({ url: "ws://t", WebSocket: FakeWebSocket, window: env, document: env, backoff: { random: () => 0.5 } });
    conn.connect();
    await vi.advanceTimersByTimeAsync(0);
    await vi.advanceTimersByTimeAsync(750); // attempt 0 waits 750 ms
    await vi.advanceTimersByTimeAsync(0);
    expect(FakeWebSocket.instances).toHaveLength(2);
    expect(conn.state).toBe("reconnecting"); // now waiting 1500 ms

    env.dispatch("online");
    await vi.advanceTimersByTimeAsync(0);
    expect(FakeWebSocket.instances).toHaveLength(3);

    failing = false;
    env.visibilityState = "hidden";
    env.dispatch("visibilitychange");
    await vi.advanceTimersByTimeAsync(0);
    expect(FakeWebSocket.instances).toHaveLength(3);
    env.visibilityState = "visible";
    env.dispatch("visibilitychange");
    await vi.advanceTimersByTimeAsync(0);
    expect(FakeWebSocket.instances).toHaveLength(4);
    expect(conn.state).toBe("open");
    // Online while open changes nothing.
    env.dispatch("online");
    expect(FakeWebSocket.instances).toHaveLength(4);
    conn.close();
  });
});

describe("connection", () => {
  it("offers the token as a subprotocol, and nothing else without one", () => {
    createConnection({ url: "ws://a", WebSocket: FakeWebSocket, token: "tök+/=" }).connect();
    expect(FakeWebSocket.last().protocols).toEqual(["ssot.v1", tokenSubprotocol("tök+/=")]);
    expect(tokenSubprotocol("tök+/=")).toBe("ssot.auth.dMO2aysvPQ");
    createConnection({ url: "ws://b", WebSocket: FakeWebSocket }).connect();
    expect(FakeWebSocket.last().protocols).toEqual(["ssot.v1"]);
  });

  it("asks getToken before every connect, and sends a refreshed token in an Auth frame", async () => {
    let n = 0;
    FakeWebSocket.onCreate = (ws) => queueMicrotask(() => ws.serverOpen());
    const conn = createConnection({
      url: "ws://a",
      WebSocket: FakeWebSocket,
      getToken: async () => `t${++n}`,
      backoff: { baseMs: 1, capMs: 1 },
    });
    conn.connect();
    await vi.waitFor(() => expect(conn.state).toBe("open"));
    expect(FakeWebSocket.last().protocols).toEqual(["ssot.v1", tokenSubprotocol("t1")]);
    FakeWebSocket.last().serverClose(4408, "token expired");
    await vi.waitFor(() => expect(FakeWebSocket.instances).toHaveLength(2));
    expect(FakeWebSocket.last().protocols).toEqual(["ssot.v1", tokenSubprotocol("t2")]);
    await vi.waitFor(() => expect(conn.state).toBe("open"));
    conn.setToken("fresh");
    const f = FakeWebSocket.last().sent().at(-1)?.frame;
    expect(f?.case).toBe("auth");
    expect(f?.case === "auth" && f.value.token).toBe("fresh");
    conn.close();
  });

  it("never offers a refused static token again; setToken starts over", async () => {
    FakeWebSocket.onCreate = (ws) => queueMicrotask(() => ws.serverOpen());
    const conn = createConnection({ url: "ws://a", WebSocket: FakeWebSocket, token: "bad", backoff: { baseMs: 1, capMs: 1 } });
    conn.connect();
    await vi.waitFor(() => expect(conn.state).toBe("open"));
    FakeWebSocket.last().serverClose(4401, "unauthenticated");
    expect(conn.state).toBe("unauthenticated");
    expect(conn.lastError).toEqual({ code: 4401, reason: "unauthenticated" });
    expect(conn.lastDrop).toEqual({ code: 4401, reason: "unauthenticated" });
    expect(FakeWebSocket.instances).toHaveLength(1);
    conn.setToken("good");
    await vi.waitFor(() => expect(conn.state).toBe("open"));
    expect(FakeWebSocket.instances).toHaveLength(2);
    expect(FakeWebSocket.last().protocols).toEqual(["ssot.v1", tokenSubprotocol("good")]);
    conn.close();
  });

  it("multiplexes channels on one socket with ids, and routes Ack, Error, Reset and Events", async () => {
    FakeWebSocket.onCreate = (ws) => queueMicrotask(() => ws.serverOpen());
    const conn = createConnection({ url: "ws://a", WebSocket: FakeWebSocket });
    const a: string[] = [];
    const b: string[] = [];
    const unsubA = conn.subscribe("Message", sink(a));
    conn.subscribe("Room", sink(b));
    await vi.waitFor(() => expect(conn.state).toBe("open"));
    expect(FakeWebSocket.instances).toHaveLength(1);
    const ws = FakeWebSocket.last();
    expect(ws.binaryType).toBe("arraybuffer");
    const subs = ws.subscribes();
    expect(subs.map((s) => s?.channel)).toEqual(["Message", "Room"]);
    const [idA, idB] = subs.map((s) => s!.id);
    expect(idA).not.toBe(idB);

    ws.serverSend({ frame: { case: "ack", value: { id: idA!, position: pos(1, 4) } } });
    ws.serverSend({ frame: { case: "error", value: { id: idB!, code: ErrorCode.FORBIDDEN, message: "no" } } });
    ws.serverSend({
      frame: {
        case: "events",
        value: {
          events: [
            { channel: "Message", key: "m1", position: pos(1, 5) },
            { channel: "Other", key: "x" },
            { channel: "Message", key: "m2", position: pos(1, 6) },
          ],
        },
      },
    });
    ws.serverSend({ frame: { case: "reset", value: { id: idA!, channel: "Message", position: pos(1, 9) } } });
    await vi.waitFor(() => expect(a).toHaveLength(3));
    expect(a).toEqual(["ack 1:4 false", "events m1,m2", "reset 9"]);
    expect(b).toEqual([`error ${ErrorCode.FORBIDDEN} no`]);

    unsubA();
    const last = ws.sent().at(-1)?.frame;
    expect(last?.case === "unsubscribe" && last.value.channel).toBe("Message");
    conn.close();
    expect(ws.closedByClient?.code).toBe(1000);
  });

  it("resubscribes every channel with since after a drop", async () => {
    FakeWebSocket.onCreate = (ws) => queueMicrotask(() => ws.serverOpen());
    const conn = createConnection({ url: "ws://a", WebSocket: FakeWebSocket, backoff: { baseMs: 1, capMs: 1 } });
    const log: string[] = [];
    conn.subscribe("Message", sink(log, () => pos(3, 17)));
    conn.subscribe("Room", sink(log));
    await vi.waitFor(() => expect(conn.state).toBe("open"));
    FakeWebSocket.last().serverClose(4429, "too slow");
    expect(log).toEqual(["disconnect", "disconnect"]);
    expect(conn.state).toBe("reconnecting");
    await vi.waitFor(() => expect(conn.state).toBe("open"));
    const subs = FakeWebSocket.last().subscribes();
    expect(subs.map((s) => [s?.channel, s?.since && `${s.since.epoch}:${s.since.offset}`])).toEqual([
      ["Message", "3:17"],
      ["Room", undefined],
    ]);
    FakeWebSocket.last().serverSend({ frame: { case: "ack", value: { id: subs[0]!.id, position: pos(3, 20) } } });
    await vi.waitFor(() => expect(log).toContain("ack 3:20 true"));
    conn.close();
  });

  it("an error without a close (Node 20's WebSocket on a failed handshake) ends the socket: it reconnects", async () => {
    // Node's own WebSocket fires only "error" when the handshake fails
    // (refused, cut) and stays CONNECTING; browsers add a close (1006).
    let failing = 2;
    FakeWebSocket.onCreate = (ws) =>
      queueMicrotask(() => {
        if (failing-- > 0) ws.onerror?.({});
        else ws.serverOpen();
      });
    const conn = createConnection({ url: "ws://a", WebSocket: FakeWebSocket, backoff: { baseMs: 1, capMs: 1 } });
    const log: string[] = [];
    conn.subscribe("Message", sink(log));
    await vi.waitFor(() => expect(conn.state).toBe("open"));
    expect(FakeWebSocket.instances).toHaveLength(3);
    expect(FakeWebSocket.instances[0]!.closedByClient).toBeDefined(); // given up, not left CONNECTING
    expect(conn.lastDrop?.code).toBe(1006); // kept after the reconnect
    expect(conn.lastError).toBeUndefined(); // open: nothing keeps it from being open
    expect(conn.lastClose).toBe(conn.lastDrop); // the deprecated name
    expect(FakeWebSocket.last().subscribes().map((s) => s.channel)).toEqual(["Message"]);

    // On an open socket, an error followed by its close is one drop.
    log.length = 0;
    const open = FakeWebSocket.last();
    open.onerror?.({});
    open.serverClose(1006);
    expect(log).toEqual(["disconnect"]);
    await vi.waitFor(() => expect(conn.state).toBe("open"));
    expect(FakeWebSocket.instances).toHaveLength(4);
    conn.close();
  });

  it("gives up a handshake that never ends (the Go client's dial timeout) and reconnects", async () => {
    vi.useFakeTimers();
    let hang = true;
    FakeWebSocket.onCreate = (ws) => queueMicrotask(() => (hang ? undefined : ws.serverOpen()));
    const conn = createConnection({ url: "ws://a", WebSocket: FakeWebSocket, backoff: { baseMs: 10, capMs: 10 }, handshakeTimeoutMs: 1000 });
    conn.connect();
    await vi.advanceTimersByTimeAsync(999);
    expect(FakeWebSocket.instances).toHaveLength(1);
    expect(conn.state).toBe("connecting");
    hang = false;
    await vi.advanceTimersByTimeAsync(1);
    expect(FakeWebSocket.instances[0]!.closedByClient).toBeDefined();
    expect(conn.lastDrop?.reason).toBe("handshake timeout");
    expect(conn.lastError?.reason).toBe("handshake timeout"); // reconnecting because of it
    await vi.advanceTimersByTimeAsync(50); // the backoff (at most 10 ms), the dial, its Pong
    expect(FakeWebSocket.instances).toHaveLength(2);
    expect(conn.state).toBe("open");
    await vi.advanceTimersByTimeAsync(5000); // an open socket is not timed out
    expect(conn.state).toBe("open");
    expect(FakeWebSocket.instances).toHaveLength(2);
    conn.close();
  });

  it("sends Pings and reconnects when nothing answers", async () => {
    vi.useFakeTimers();
    FakeWebSocket.onCreate = (ws) => queueMicrotask(() => ws.serverOpen());
    const conn = createConnection({
      url: "ws://a",
      WebSocket: FakeWebSocket,
      keepalive: { intervalMs: 1000, timeoutMs: 500 },
      backoff: { random: () => 0 },
    });
    conn.connect();
    await vi.advanceTimersByTimeAsync(0);
    const ws = FakeWebSocket.last();
    expect(conn.state).toBe("open"); // the first Ping was answered
    ws.autoPong = false; // from now on the test answers
    await vi.advanceTimersByTimeAsync(1000);
    const ping = ws.sent().at(-1)?.frame;
    expect(ping?.case).toBe("ping");
    ws.serverSend({ frame: { case: "pong", value: { nonce: ping?.case === "ping" ? ping.value.nonce : 0n } } });
    await vi.advanceTimersByTimeAsync(1000);
    expect(conn.state).toBe("open");
    await vi.advanceTimersByTimeAsync(500); // second Ping unanswered
    expect(conn.state).toBe("reconnecting");
    expect(ws.closedByClient).toBeDefined();
    conn.close();
  });
});
