// The fault-injection convergence test of the TypeScript runtime, as the Go
// client's TestConverge (ssotws/client/converge_test.go): writers and hybrid
// clients against ts/test/convergeserver (the chat example's generated
// service and the gateway over an in-memory store and broker) while a TCP
// proxy between the hybrid clients and the server cuts connections at
// random and the server restarts mid-run on the same address (a new broker:
// a new epoch, so the clients get Reset and refetch). In the end every
// client's cache must equal the store, record for record (0 lost, 0 stale).
//
//   npm run test:ts -- converge                                  # 20 rounds (as the Go test)
//   SSOTWS_CONVERGE_ROUNDS=50 npm run test:ts -- converge        # more
//   SSOTWS_CONVERGE_SEED=<seed> npm run test:ts -- converge      # replay one
//
// A seed fixes the workload and the faults' choices; their timing against
// the network still varies from run to run, as in the Go test.
import { execFileSync, spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { equals, fromBinary, toJsonString } from "@bufbuild/protobuf";
import { base64Decode } from "@bufbuild/protobuf/wire";
import { createClient } from "@connectrpc/connect";
import type { Client } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Position } from "../runtime/gen/ssot/ws/v1/frame_pb.js";
import { createHybridClient } from "../runtime/src/hybrid.js";
import type { HybridClient } from "../runtime/src/hybrid.js";
import { modelChannel, scopeChannel } from "../runtime/src/model.js";
import { createConnection } from "../runtime/src/conn.js";
import type { ChannelSink, Connection, WebSocketCtor, WebSocketLike } from "../runtime/src/conn.js";
import { ChatService, MessageSchema } from "./gen/chat/v1/chat_pb.js";
import type { Message } from "./gen/chat/v1/chat_pb.js";
import { MessageModel } from "./fake.js";

const writers = 3; // connect-es clients straight to the server
const writerOps = 40;
const hybrids = 3; // runtime clients through the proxy
const hybridOps = 10; // mutations each hybrid client makes through its own HTTP
const keys = 12; // a small key space: conflicts, deletes and re-creates
const rooms = ["r0", "r1", "r2"];
const fast = { baseMs: 5, capMs: 50 };
const catchUpMs = 20_000;

const envSeed = process.env["SSOTWS_CONVERGE_SEED"];
const rounds = envSeed ? 1 : Number(process.env["SSOTWS_CONVERGE_ROUNDS"] ?? 20);
const baseSeed = envSeed ? Number(envSeed) : Date.now() % 1e9;
const seeds = Array.from({ length: rounds }, (_, i) => baseSeed + i);

const root = resolve(__dirname, "../..");
let bin = "";

beforeAll(() => {
  bin = join(mkdtempSync(join(tmpdir(), "ssotws-converge-")), "convergeserver");
  execFileSync("go", ["build", "-o", bin, "./ts/test/convergeserver"], { cwd: root, stdio: "inherit" });
}, 180_000);

// --- seeded randomness

/** Rand is mulberry32: small, seeded, good enough to pick faults. */
class Rand {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0 || 0x9e3779b9;
  }
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  seed(): number {
    return Math.floor(this.next() * 2 ** 32);
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// --- the server

interface Server {
  addr: string;
  control: string;
  proc: ChildProcess;
  log: () => string;
}

async function startServer(): Promise<Server> {
  const proc = spawn(bin, [], { cwd: root, stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  const addrs = await new Promise<[string, string]>((ok, fail) => {
    proc.stderr!.on("data", (b: Buffer) => {
      log += b.toString();
      const m = /listening (127\.0\.0\.1:\d+) control (127\.0\.0\.1:\d+)/.exec(log);
      if (m) ok([m[1]!, m[2]!]);
    });
    proc.on("exit", (code) => fail(new Error(`convergeserver exited with ${code}: ${log}`)));
  });
  return { addr: addrs[0], control: `http://${addrs[1]}`, proc, log: () => log };
}

async function restart(srv: Server): Promise<void> {
  const res = await fetch(`${srv.control}/restart`, { method: "POST" });
  if (!res.ok) throw new Error(`restart: ${res.status} ${await res.text()}`);
}

async function serverPosition(srv: Server, channel: string): Promise<{ epoch: bigint; offset: bigint }> {
  const res = await fetch(`${srv.control}/position?channel=${encodeURIComponent(channel)}`);
  const [epoch, offset] = (await res.text()).split(":");
  return { epoch: BigInt(epoch!), offset: BigInt(offset!) };
}

/** storeRecords returns the store's truth: every Message, its version set. */
async function storeRecords(srv: Server): Promise<Message[]> {
  const res = await fetch(`${srv.control}/records`);
  const recs = (await res.json()) as { key: string; version: number; data: string | null }[];
  return recs.map((r) => {
    const m = fromBinary(MessageSchema, base64Decode(r.data ?? ""));
    m.version = BigInt(r.version);
    return m;
  });
}

async function stats(srv: Server): Promise<Record<string, number>> {
  return (await (await fetch(`${srv.control}/stats`)).json()) as Record<string, number>;
}

// --- the proxy

/**
 * Proxy is a TCP proxy on loopback that can cut the connections it carries,
 * as internal/testkit.Proxy does for the Go tests.
 */
class Proxy {
  private readonly pairs = new Set<[net.Socket, net.Socket]>();
  private readonly server: net.Server;
  cuts = 0;

  private constructor(target: string) {
    const [host, port] = target.split(":");
    this.server = net.createServer((c) => {
      const up = net.connect(Number(port), host!);
      const pair: [net.Socket, net.Socket] = [c, up];
      this.pairs.add(pair);
      const end = () => {
        c.destroy();
        up.destroy();
        this.pairs.delete(pair);
      };
      c.on("error", end).on("close", end);
      up.on("error", end).on("close", end);
      c.pipe(up);
      up.pipe(c);
    });
  }

  static async listen(target: string): Promise<Proxy> {
    const p = new Proxy(target);
    await new Promise<void>((ok) => p.server.listen(0, "127.0.0.1", ok));
    return p;
  }

  get addr(): string {
    const a = this.server.address() as net.AddressInfo;
    return `127.0.0.1:${a.port}`;
  }

  /** cutRandom cuts each connection it carries with probability one half. */
  cutRandom(r: Rand): number {
    let n = 0;
    for (const [c, up] of [...this.pairs]) {
      if (r.int(2) === 0) {
        c.destroy();
        up.destroy();
        n++;
      }
    }
    this.cuts += n;
    return n;
  }

  close(): Promise<void> {
    for (const [c, up] of this.pairs) {
      c.destroy();
      up.destroy();
    }
    return new Promise((ok) => this.server.close(() => ok()));
  }
}

// --- the clients

interface HybridUnderTest {
  name: string;
  conn: Connection;
  client: HybridClient<Message, string>;
  channels: string[];
  /** sinks are the hybrid's channel sinks, as the connection saw them subscribe. */
  sinks: Map<string, ChannelSink>;
  dials: ReturnType<typeof watchDials>;
}

/** watchDials wraps the native WebSocket to describe the last socket when a client does not catch up. */
function watchDials() {
  const Native = globalThis.WebSocket as unknown as WebSocketCtor;
  let n = 0;
  let last: { ws: WebSocketLike; at: number; events: string[] } | undefined;
  const Ctor = function (url: string, protocols?: string | string[]) {
    const ws = new Native(url, protocols);
    n++;
    const d = { ws, at: Date.now(), events: [] as string[] };
    last = d;
    const native = ws as unknown as EventTarget;
    for (const type of ["open", "close", "error"]) native.addEventListener(type, () => d.events.push(`${type}@${Date.now() - d.at}ms`));
    return ws;
  } as unknown as WebSocketCtor;
  return {
    Ctor,
    describe: () =>
      last ? `${n} dials, the last ${Date.now() - last.at} ms ago, readyState ${last.ws.readyState}, events [${last.events.join(" ")}]` : "no dial",
  };
}

/** tap wraps a connection to see the sinks subscribing to it (their since() is the channel's position). */
function tap(conn: Connection, sinks: Map<string, ChannelSink>): Connection {
  return {
    get url() {
      return conn.url;
    },
    get state() {
      return conn.state;
    },
    get lastClose() {
      return conn.lastClose;
    },
    onState: (l) => conn.onState(l),
    subscribe: (channel, sink) => {
      sinks.set(channel, sink);
      return conn.subscribe(channel, sink);
    },
    join: (channel, options) => conn.join(channel, options),
    signal: (channel, name, data, options) => conn.signal(channel, name, data, options),
    connect: () => conn.connect(),
    setToken: (t, e) => conn.setToken(t, e),
    reconnect: () => conn.reconnect(),
    close: () => conn.close(),
  };
}

function roomOf(channel: string): string | undefined {
  const m = /\?room_id=(.*)$/.exec(channel);
  return m ? decodeURIComponent(m[1]!) : undefined;
}

type Mutator = {
  create(id: string, roomId: string, text: string): Promise<unknown>;
  updateText(id: string, text: string): Promise<unknown>;
  move(id: string, roomId: string, text: string): Promise<unknown>;
  delete(id: string): Promise<unknown>;
};

function rawMutator(c: Client<typeof ChatService>): Mutator {
  return {
    create: (id, roomId, text) => c.createMessage({ message: { id, roomId, text } }),
    updateText: (id, text) => c.updateMessage({ message: { id, text }, updateMask: { paths: ["text"] } }),
    move: (id, roomId, text) => c.updateMessage({ message: { id, roomId, text }, updateMask: { paths: ["room_id", "text"] } }),
    delete: (id) => c.deleteMessage({ id }),
  };
}

function hybridMutator(c: HybridClient<Message, string>): Mutator {
  return {
    create: (id, roomId, text) => c.create({ id, roomId, text }),
    updateText: (id, text) => c.update(id, { text }, ["text"]),
    move: (id, roomId, text) => c.update(id, { roomId, text }, ["room_id", "text"]),
    delete: (id) => c.delete(id),
  };
}

/** write runs ops random mutations; their errors (conflicts, absent records, cuts) are part of the workload. */
async function write(m: Mutator, r: Rand, name: string, ops: number): Promise<void> {
  for (let op = 0; op < ops; op++) {
    const key = `k${r.int(keys)}`;
    const room = rooms[r.int(rooms.length)]!;
    const text = `${name}-${op}`;
    const call = [
      () => m.create(key, room, text),
      () => m.updateText(key, text),
      () => m.move(key, room, text),
      () => m.delete(key),
    ][r.int(4)]!;
    await call().catch(() => {});
    // Spread the writes over the faults (workload shape, not synchronization).
    await sleep(r.int(5));
  }
}

// --- the comparison

/** diffMessages describes every lost, stale or extra record of a cache against the store's records of its channel. */
function diffMessages(want: Message[], got: readonly Message[]): string[] {
  const cached = new Map(got.map((m) => [m.id, m]));
  const lines: string[] = [];
  const show = (m: Message) => toJsonString(MessageSchema, m);
  for (const m of want) {
    const c = cached.get(m.id);
    cached.delete(m.id);
    if (!c) lines.push(`  lost  ${m.id}: store v${m.version} ${show(m)}`);
    else if (!equals(MessageSchema, c, m)) lines.push(`  stale ${m.id}: cache v${c.version} ${show(c)}, store v${m.version} ${show(m)}`);
  }
  for (const [k, c] of cached) lines.push(`  extra ${k}: cache v${c.version} ${show(c)} (not in the store)`);
  return lines.sort();
}

function sameEpochAndAtLeast(p: Position | undefined, server: { epoch: bigint; offset: bigint }): boolean {
  return p !== undefined && p.epoch === server.epoch && p.offset >= server.offset;
}

// --- a round

async function round(seed: number): Promise<void> {
  const rng = new Rand(seed);
  const srv = await startServer();
  const px = await Proxy.listen(srv.addr);
  const viaProxy = `http://${px.addr}`;
  const clients: HybridUnderTest[] = [];
  try {
    for (let i = 0; i < hybrids; i++) {
      const sinks = new Map<string, ChannelSink>();
      const dials = watchDials();
      const conn = createConnection({ url: `ws://${px.addr}/ws`, backoff: fast, WebSocket: dials.Ctor });
      const client = createHybridClient(MessageModel, {
        transport: createConnectTransport({ baseUrl: viaProxy }),
        connection: tap(conn, sinks),
        backoff: fast,
      });
      const channels = [modelChannel(MessageModel)];
      for (const r of rooms) if (rng.int(2) === 0) channels.push(scopeChannel(MessageModel, "room_id", r));
      for (const ch of channels) client.subscribe(ch, () => {});
      clients.push({ name: `client${i}`, conn, client, channels, sinks, dials });
    }

    // Writers: straight to the server, and each hybrid client through its own HTTP (via the proxy).
    const work: Promise<void>[] = [];
    const writerSeeds = Array.from({ length: writers + hybrids }, () => rng.seed());
    for (let i = 0; i < writers; i++) {
      const c = createClient(ChatService, createConnectTransport({ baseUrl: `http://${srv.addr}` }));
      work.push(write(rawMutator(c), new Rand(writerSeeds[i]!), `w${i}`, writerOps));
    }
    for (const [i, h] of clients.entries()) {
      work.push(write(hybridMutator(h.client), new Rand(writerSeeds[writers + i]!), `h${i}`, hybridOps));
    }

    // Faults: random cuts, and one restart at a random point.
    const restartAfter = 20 + rng.int(80);
    const fr = new Rand(rng.seed());
    let stop = false;
    const faults = (async () => {
      const start = Date.now();
      let restarted = false;
      while (!stop) {
        await sleep(5 + fr.int(30));
        if (!restarted && Date.now() - start > restartAfter) {
          await restart(srv);
          restarted = true;
          continue;
        }
        px.cutRandom(fr);
      }
      if (!restarted) await restart(srv);
    })();
    await Promise.all(work);
    stop = true;
    await faults;

    // Quiescence: every channel of every client open, hydrated and at the
    // broker's current position. A cut just before the faults stopped may
    // still be on its way, so the check repeats until all are caught up at
    // once; then the caches must equal the store.
    const st = await stats(srv);
    console.log(
      `seed ${seed}: ${(st["CreateMessage"] ?? 0) + (st["UpdateMessage"] ?? 0) + (st["DeleteMessage"] ?? 0)} writes, ` +
        `${st["ws"] ?? 0} WebSocket handshakes, ${st["ListMessages"] ?? 0} snapshot lists, ` +
        `${st["GetMessage"] ?? 0} gets, ${px.cuts} cuts, ${st["restarts"] ?? 0} restart`,
    );
    const deadline = Date.now() + catchUpMs;
    for (;;) {
      const behind: string[] = [];
      for (const h of clients) {
        for (const ch of h.channels) {
          const server = await serverPosition(srv, ch);
          const pos = h.sinks.get(ch)?.since();
          if (h.conn.state !== "open" || !h.client.isLive(ch) || !sameEpochAndAtLeast(pos, server)) {
            behind.push(
              `${h.name} ${ch}: state ${h.conn.state}, live ${h.client.isLive(ch)}, position ${pos ? `${pos.epoch}:${pos.offset}` : "none"}, ` +
                `server ${server.epoch}:${server.offset}, last close ${JSON.stringify(h.conn.lastClose)}, ${h.dials.describe()}`,
            );
          }
        }
      }
      if (behind.length === 0) {
        const store = await storeRecords(srv);
        const diffs: string[] = [];
        let unreadable = false;
        for (const h of clients) {
          for (const ch of h.channels) {
            const room = roomOf(ch);
            const page = h.client.peekList(room === undefined ? {} : { filter: { roomId: room } });
            if (!page) {
              unreadable = true; // its connection just dropped: look again
              continue;
            }
            const want = room === undefined ? store : store.filter((m) => m.roomId === room);
            const d = diffMessages(want, page.items);
            if (d.length > 0) diffs.push(`${h.name} ${ch} differs from the store:\n${d.join("\n")}`);
          }
        }
        if (!unreadable) {
          if (diffs.length > 0) {
            throw new Error(`seed ${seed}: ${diffs.join("\n")}\nreplay: SSOTWS_CONVERGE_SEED=${seed} npm run test:ts -- converge`);
          }
          return;
        }
      }
      if (Date.now() > deadline) {
        throw new Error(
          `seed ${seed}: clients did not catch up:\n${behind.join("\n")}\nreplay: SSOTWS_CONVERGE_SEED=${seed} npm run test:ts -- converge`,
        );
      }
      await sleep(10);
    }
  } finally {
    for (const h of clients) h.conn.close();
    await px.close();
    srv.proc.kill();
  }
}

afterAll(() => {
  console.log(`converge: seeds ${seeds.join(", ")}; replay one with SSOTWS_CONVERGE_SEED=<seed> npm run test:ts -- converge`);
});

describe("convergence under faults against the Go server", () => {
  it("has a WebSocket to test with", () => {
    expect(typeof globalThis.WebSocket).toBe("function");
  });

  for (const seed of seeds) {
    it(`seed=${seed}: every client's caches equal the store`, () => round(seed), 60_000);
  }
});
