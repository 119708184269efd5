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
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHybridClient } from "../runtime/src/hybrid.js";
import type { HybridClient } from "../runtime/src/hybrid.js";
import { modelChannel, scopeChannel } from "../runtime/src/model.js";
import { createConnection } from "../runtime/src/conn.js";
import type { ChannelSink, Connection, WebSocketCtor, WebSocketLike } from "../runtime/src/conn.js";
import { ChatService } from "./gen/chat/v1/chat_pb.js";
import type { Message } from "./gen/chat/v1/chat_pb.js";
import {
  Proxy,
  Rand,
  buildServer,
  diffMessages,
  hybridMutator,
  rawMutator,
  restart,
  roomOf,
  rooms,
  sameEpochAndAtLeast,
  serverPosition,
  sleep,
  startServer,
  stats,
  tap,
  storeRecords,
  write,
} from "./convergekit.js";
import { MessageModel } from "./fake.js";

const writers = 3; // connect-es clients straight to the server
const writerOps = 40;
const hybrids = 3; // runtime clients through the proxy
const hybridOps = 10; // mutations each hybrid client makes through its own HTTP
const fast = { baseMs: 5, capMs: 50 };
const catchUpMs = 20_000;

const envSeed = process.env["SSOTWS_CONVERGE_SEED"];
const rounds = envSeed ? 1 : Number(process.env["SSOTWS_CONVERGE_ROUNDS"] ?? 20);
const baseSeed = envSeed ? Number(envSeed) : Date.now() % 1e9;
const seeds = Array.from({ length: rounds }, (_, i) => baseSeed + i);

let bin = "";

beforeAll(() => {
  bin = buildServer();
}, 180_000);

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



// --- a round

async function round(seed: number): Promise<void> {
  const rng = new Rand(seed);
  const srv = await startServer(bin);
  const px = await Proxy.listen(srv.addr);
  const viaProxy = `http://${px.addr}`;
  const clients: HybridUnderTest[] = [];
  try {
    for (let i = 0; i < hybrids; i++) {
      const sinks = new Map<string, ChannelSink>();
      const dials = watchDials();
      const conn = createConnection({
        url: `ws://${px.addr}/ws`,
        backoff: fast,
        WebSocket: dials.Ctor,
        // The last client is one written before deltas: whole records only.
        noDeltas: i === hybrids - 1,
      });
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
                `server ${server.epoch}:${server.offset}, last drop ${JSON.stringify(h.conn.lastDrop)}, ${h.dials.describe()}`,
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
