// The convergence test of the live connect-query caches (runtime/src/query.ts),
// as converge.test.ts does for the hybrid clients: writers straight to
// ts/test/convergeserver, and QueryClients in live mode behind a TCP proxy
// that cuts their connections at random, the server restarting mid-run (a
// new epoch: Reset and refetch). Each live client observes List queries
// (connect-query's createQueryOptions, as useQuery builds them) and writes
// through connect-query's path (the live transport, as useMutation does).
// In the end every query's data must equal the store, record for record.
//
//   npm run test:ts -- converge.query                                 # 5 rounds
//   SSOTWS_CONVERGE_QUERY_ROUNDS=50 npm run test:ts -- converge.query  # more
//   SSOTWS_CONVERGE_SEED=<seed> npm run test:ts -- converge.query      # replay one
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { createQueryOptions } from "@connectrpc/connect-query-core";
import { QueryClient, QueryObserver } from "@tanstack/query-core";
import type { QueryKey } from "@tanstack/query-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createConnection } from "../runtime/src/conn.js";
import type { ChannelSink, Connection } from "../runtime/src/conn.js";
import { createLiveQueries } from "../runtime/src/query.js";
import type { LiveQueries } from "../runtime/src/query.js";
import { ChatService } from "./gen/chat/v1/chat_pb.js";
import type { ListMessagesResponse } from "./gen/chat/v1/chat_pb.js";
import {
  Proxy,
  Rand,
  buildServer,
  diffMessages,
  rawMutator,
  restart,
  rooms,
  sameEpochAndAtLeast,
  serverPosition,
  sleep,
  startServer,
  stats,
  storeRecords,
  tap,
  write,
} from "./convergekit.js";
import { MessageModel } from "./fake.js";

const writers = 3;
const writerOps = 40;
const clients = 3; // live QueryClients through the proxy
const clientOps = 10; // mutations each makes through the live transport
const fast = { baseMs: 5, capMs: 50 };
const catchUpMs = 20_000;

const envSeed = process.env["SSOTWS_CONVERGE_SEED"];
const rounds = envSeed ? 1 : Number(process.env["SSOTWS_CONVERGE_QUERY_ROUNDS"] ?? 5);
const baseSeed = envSeed ? Number(envSeed) : Date.now() % 1e9;
const seeds = Array.from({ length: rounds }, (_, i) => baseSeed + i);

let bin = "";
beforeAll(() => {
  bin = buildServer();
}, 180_000);

interface LiveUnderTest {
  name: string;
  conn: Connection;
  queryClient: QueryClient;
  live: LiveQueries;
  /** queries: channel → the connect-query key of the List query it keeps live. */
  queries: Map<string, QueryKey>;
  sinks: Map<string, ChannelSink>;
  unobserve: (() => void)[];
}

async function round(seed: number): Promise<void> {
  const rng = new Rand(seed);
  const srv = await startServer(bin);
  const px = await Proxy.listen(srv.addr);
  const viaProxy = `http://${px.addr}`;
  const lives: LiveUnderTest[] = [];
  try {
    for (let i = 0; i < clients; i++) {
      const sinks = new Map<string, ChannelSink>();
      const conn = createConnection({ url: `ws://${px.addr}/ws`, backoff: fast });
      const queryClient = new QueryClient({ defaultOptions: { queries: { retry: 3, retryDelay: 10 } } });
      const live = createLiveQueries({
        queryClient,
        transport: createConnectTransport({ baseUrl: viaProxy }),
        connection: tap(conn, sinks),
        models: [MessageModel],
        backoff: fast,
      });
      const u: LiveUnderTest = { name: `query${i}`, conn, queryClient, live, queries: new Map(), sinks, unobserve: [] };
      const inputs: { roomId?: string }[] = [{}];
      for (const r of rooms) if (rng.int(2) === 0) inputs.push({ roomId: r });
      for (const input of inputs) {
        const opts = createQueryOptions(ChatService.method.listMessages, input, { transport: live.transport });
        const obs = new QueryObserver<ListMessagesResponse>(queryClient, opts as never);
        u.unobserve.push(obs.subscribe(() => {}));
        u.queries.set(live.channelOf(opts.queryKey)!, opts.queryKey);
      }
      lives.push(u);
    }

    const work: Promise<void>[] = [];
    const writerSeeds = Array.from({ length: writers + clients }, () => rng.seed());
    for (let i = 0; i < writers; i++) {
      const c = createClient(ChatService, createConnectTransport({ baseUrl: `http://${srv.addr}` }));
      work.push(write(rawMutator(c), new Rand(writerSeeds[i]!), `w${i}`, writerOps));
    }
    for (const [i, u] of lives.entries()) {
      // useMutation's path: connect-query calls the transport it was given.
      const c = createClient(ChatService, u.live.transport);
      work.push(write(rawMutator(c), new Rand(writerSeeds[writers + i]!), `q${i}`, clientOps));
    }

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

    const st = await stats(srv);
    console.log(
      `seed ${seed}: ${(st["CreateMessage"] ?? 0) + (st["UpdateMessage"] ?? 0) + (st["DeleteMessage"] ?? 0)} writes, ` +
        `${st["ListMessages"] ?? 0} lists, ${st["GetMessage"] ?? 0} gets, ${px.cuts} cuts, ${st["restarts"] ?? 0} restart`,
    );
    // Quiescence: every query live and its channel at the broker's
    // position; then each query's data must equal the store.
    const deadline = Date.now() + catchUpMs;
    for (;;) {
      const behind: string[] = [];
      for (const u of lives) {
        for (const [ch, key] of u.queries) {
          const server = await serverPosition(srv, ch);
          const pos = u.sinks.get(ch)?.since();
          if (u.conn.state !== "open" || !u.live.isLive(key) || !sameEpochAndAtLeast(pos, server)) {
            behind.push(
              `${u.name} ${ch}: state ${u.conn.state}, live ${u.live.isLive(key)}, position ${pos ? `${pos.epoch}:${pos.offset}` : "none"}, server ${server.epoch}:${server.offset}`,
            );
          }
        }
      }
      if (behind.length === 0) {
        // Patches are written a microtask after the change: let them land.
        await sleep(0);
        const store = await storeRecords(srv);
        const diffs: string[] = [];
        for (const u of lives) {
          for (const [ch, key] of u.queries) {
            const data = u.queryClient.getQueryData<ListMessagesResponse>(key);
            const room = /\?room_id=(.*)$/.exec(ch)?.[1];
            const want = room === undefined ? store : store.filter((m) => m.roomId === decodeURIComponent(room));
            const got = data?.messages ?? [];
            const d = diffMessages(want, got);
            if (new Set(got.map((m) => m.id)).size !== got.length) d.push("  duplicate records in the query's data");
            if (d.length > 0) diffs.push(`${u.name} ${ch} query differs from the store:\n${d.join("\n")}`);
          }
        }
        if (diffs.length > 0) {
          throw new Error(`seed ${seed}: ${diffs.join("\n")}\nreplay: SSOTWS_CONVERGE_SEED=${seed} npm run test:ts -- converge.query`);
        }
        return;
      }
      if (Date.now() > deadline) {
        throw new Error(`seed ${seed}: queries did not catch up:\n${behind.join("\n")}\nreplay: SSOTWS_CONVERGE_SEED=${seed} npm run test:ts -- converge.query`);
      }
      await sleep(10);
    }
  } finally {
    for (const u of lives) {
      for (const off of u.unobserve) off();
      u.live.close();
      u.conn.close();
      u.queryClient.clear();
    }
    await px.close();
    srv.proc.kill();
  }
}

afterAll(() => {
  console.log(`converge.query: seeds ${seeds.join(", ")}; replay one with SSOTWS_CONVERGE_SEED=<seed> npm run test:ts -- converge.query`);
});

describe("live connect-query caches converge under faults against the Go server", () => {
  it("has a WebSocket to test with", () => {
    expect(typeof globalThis.WebSocket).toBe("function");
  });
  for (const seed of seeds) {
    it(`seed=${seed}: every live query's data equals the store`, () => round(seed), 60_000);
  }
});
