// What the convergence tests share (converge.test.ts for the hybrid
// clients, converge.query.test.ts for the live connect-query caches): the
// seeded randomness, ts/test/convergeserver and its control endpoints, the
// cutting TCP proxy, the writers' workload and the comparison with the store.
import { execFileSync, spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { equals, fromBinary, toJsonString } from "@bufbuild/protobuf";
import { base64Decode } from "@bufbuild/protobuf/wire";
import type { Client } from "@connectrpc/connect";
import type { Position } from "../runtime/gen/ssot/ws/v1/frame_pb.js";
import type { HybridClient } from "../runtime/src/hybrid.js";
import type { ChannelSink, Connection } from "../runtime/src/conn.js";
import { ChatService, MessageSchema } from "./gen/chat/v1/chat_pb.js";
import type { Message } from "./gen/chat/v1/chat_pb.js";

export const keys = 12; // a small key space: conflicts, deletes and re-creates
export const rooms = ["r0", "r1", "r2"];
export const root = resolve(__dirname, "../..");

/** buildServer builds ts/test/convergeserver and returns the binary's path. */
export function buildServer(): string {
  const bin = join(mkdtempSync(join(tmpdir(), "ssotws-converge-")), "convergeserver");
  execFileSync("go", ["build", "-o", bin, "./ts/test/convergeserver"], { cwd: root, stdio: "inherit" });
  return bin;
}

// --- seeded randomness

/** Rand is mulberry32: small, seeded, good enough to pick faults. */
export class Rand {
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

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// --- the server

export interface Server {
  addr: string;
  control: string;
  proc: ChildProcess;
  log: () => string;
}

export async function startServer(bin: string): Promise<Server> {
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

export async function restart(srv: Server): Promise<void> {
  const res = await fetch(`${srv.control}/restart`, { method: "POST" });
  if (!res.ok) throw new Error(`restart: ${res.status} ${await res.text()}`);
}

export async function serverPosition(srv: Server, channel: string): Promise<{ epoch: bigint; offset: bigint }> {
  const res = await fetch(`${srv.control}/position?channel=${encodeURIComponent(channel)}`);
  const [epoch, offset] = (await res.text()).split(":");
  return { epoch: BigInt(epoch!), offset: BigInt(offset!) };
}

/** storeRecords returns the store's truth: every Message, its version set. */
export async function storeRecords(srv: Server): Promise<Message[]> {
  const res = await fetch(`${srv.control}/records`);
  const recs = (await res.json()) as { key: string; version: number; data: string | null }[];
  return recs.map((r) => {
    const m = fromBinary(MessageSchema, base64Decode(r.data ?? ""));
    m.version = BigInt(r.version);
    return m;
  });
}

export async function stats(srv: Server): Promise<Record<string, number>> {
  return (await (await fetch(`${srv.control}/stats`)).json()) as Record<string, number>;
}

// --- the proxy

/**
 * Proxy is a TCP proxy on loopback that can cut the connections it carries,
 * as internal/testkit.Proxy does for the Go tests.
 */
export class Proxy {
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


export function roomOf(channel: string): string | undefined {
  const m = /\?room_id=(.*)$/.exec(channel);
  return m ? decodeURIComponent(m[1]!) : undefined;
}

export type Mutator = {
  create(id: string, roomId: string, text: string): Promise<unknown>;
  updateText(id: string, text: string): Promise<unknown>;
  move(id: string, roomId: string, text: string): Promise<unknown>;
  delete(id: string): Promise<unknown>;
};

export function rawMutator(c: Client<typeof ChatService>): Mutator {
  return {
    create: (id, roomId, text) => c.createMessage({ message: { id, roomId, text } }),
    updateText: (id, text) => c.updateMessage({ message: { id, text }, updateMask: { paths: ["text"] } }),
    move: (id, roomId, text) => c.updateMessage({ message: { id, roomId, text }, updateMask: { paths: ["room_id", "text"] } }),
    delete: (id) => c.deleteMessage({ id }),
  };
}

export function hybridMutator(c: HybridClient<Message, string>): Mutator {
  return {
    create: (id, roomId, text) => c.create({ id, roomId, text }),
    updateText: (id, text) => c.update(id, { text }, ["text"]),
    move: (id, roomId, text) => c.update(id, { roomId, text }, ["room_id", "text"]),
    delete: (id) => c.delete(id),
  };
}

/** write runs ops random mutations; their errors (conflicts, absent records, cuts) are part of the workload. */
export async function write(m: Mutator, r: Rand, name: string, ops: number): Promise<void> {
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
export function diffMessages(want: Message[], got: readonly Message[]): string[] {
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

export function sameEpochAndAtLeast(p: Position | undefined, server: { epoch: bigint; offset: bigint }): boolean {
  return p !== undefined && p.epoch === server.epoch && p.offset >= server.offset;
}

/** tap wraps a connection to see the sinks subscribing to it (their since() is the channel's position). */
export function tap(conn: Connection, sinks: Map<string, ChannelSink>): Connection {
  return {
    get url() {
      return conn.url;
    },
    get state() {
      return conn.state;
    },
    get lastError() {
      return conn.lastError;
    },
    get lastDrop() {
      return conn.lastDrop;
    },
    get lastClose() {
      return conn.lastDrop;
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
