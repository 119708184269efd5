import { Code, ConnectError, createRouterTransport } from "@connectrpc/connect";
import { beforeEach, describe, expect, it } from "vitest";
import { createHttpClient, isRetryable, parsePosition } from "../runtime/src/http.js";
import { ChatService } from "./gen/chat/v1/chat_pb.js";
import { FakeBackend, MessageModel, pos } from "./fake.js";

describe("HTTP client", () => {
  let backend: FakeBackend;
  beforeEach(() => {
    backend = new FakeBackend();
  });

  it("retries Unavailable with the same Idempotency-Key, and the server applies it once", async () => {
    const http = createHttpClient(MessageModel, backend.transport, { retry: { delayMs: 0 } });
    backend.failures = 2;
    const m = await http.create({ roomId: "r1", text: "hi" });
    expect(backend.keys).toHaveLength(3);
    expect(new Set(backend.keys).size).toBe(1);
    expect(backend.keys[0]).toMatch(/^[0-9a-f-]{36}$/);
    expect(m.text).toBe("hi");
    expect(m.version).toBe(1n);
    expect((await http.list({ filter: { roomId: "r1" } })).items).toHaveLength(1);
  });

  it("uses a fresh key per mutation and gives up after 3 attempts", async () => {
    const http = createHttpClient(MessageModel, backend.transport, { retry: { delayMs: 0 } });
    await http.create({ roomId: "r1", text: "a" });
    await http.create({ roomId: "r1", text: "b" });
    expect(new Set(backend.keys).size).toBe(2);
    backend.keys.length = 0;
    backend.failures = 5;
    await expect(http.create({ roomId: "r1", text: "c" })).rejects.toMatchObject({ code: Code.Unavailable });
    expect(backend.keys).toHaveLength(3);
    expect(new Set(backend.keys).size).toBe(1);
  });

  it("a repeated key returns the first result instead of applying twice", async () => {
    const http = createHttpClient(MessageModel, backend.transport);
    const a = await http.create({ roomId: "r1", text: "once" }, { requestId: "k1" });
    const b = await http.create({ roomId: "r1", text: "once" }, { requestId: "k1" });
    expect(b.id).toBe(a.id);
    expect((await http.list()).items).toHaveLength(1);
  });

  it("does not retry errors that are not transient", async () => {
    let attempts = 0;
    const transport = createRouterTransport(({ service }) =>
      service(ChatService, {
        createMessage: () => {
          attempts++;
          throw new ConnectError("no", Code.InvalidArgument);
        },
      }),
    );
    const http = createHttpClient(MessageModel, transport, { retry: { delayMs: 0 } });
    await expect(http.create({ text: "x" })).rejects.toMatchObject({ code: Code.InvalidArgument });
    expect(attempts).toBe(1);
  });

  it("retries a network failure (fetch's TypeError) with the same key", async () => {
    const seen: string[] = [];
    let n = 0;
    // The interceptor stands in for fetch: the first attempt never reaches the server.
    const transport = createRouterTransport(
      ({ service }) => service(ChatService, { createMessage: (req) => req.message! }),
      {
        transport: {
          interceptors: [
            (next) => async (req) => {
              seen.push(req.header.get("Idempotency-Key") ?? "");
              if (n++ === 0) throw new TypeError("Failed to fetch");
              return next(req);
            },
          ],
        },
      },
    );
    const http = createHttpClient(MessageModel, transport, { retry: { delayMs: 0 } });
    expect((await http.create({ id: "x", text: "x" })).text).toBe("x");
    expect(seen).toHaveLength(2);
    expect(seen[0]).toBe(seen[1]);
    expect(isRetryable(new ConnectError("x", Code.Unknown, undefined, undefined, new TypeError("Failed to fetch")))).toBe(true);
    expect(isRetryable(new ConnectError("x", Code.Aborted))).toBe(false);
  });

  it("returns the position headers of reads, undefined for a missing record, false for a second delete", async () => {
    const http = createHttpClient(MessageModel, backend.transport);
    const m = backend.put({ roomId: "r1", text: "t" });
    const listed = await http.listPage({ filter: { roomId: "r1" } });
    expect(listed.channel).toBe("Message?room_id=r1");
    expect(listed.position).toEqual(pos(1, 1));
    const got = await http.getWithPosition(m.id);
    expect(got.value?.text).toBe("t");
    expect(got.channel).toBe(`Message/${m.id}`);
    expect(await http.get("nope")).toBeUndefined();
    expect(await http.delete(m.id)).toBe(true);
    expect(await http.delete(m.id)).toBe(false);
  });

  it("pages, updates with a field mask, and rejects filters the List request lacks", async () => {
    const http = createHttpClient(MessageModel, backend.transport);
    for (let i = 0; i < 5; i++) backend.put({ roomId: "r1", text: `t${i}` });
    const p1 = await http.list({ pageSize: 2 });
    expect(p1.items.map((m) => m.text)).toEqual(["t0", "t1"]);
    const p2 = await http.list({ pageSize: 2, pageToken: p1.nextPageToken });
    expect(p2.items.map((m) => m.text)).toEqual(["t2", "t3"]);
    const id = p1.items[0]!.id;
    const u = await http.update(id, { text: "edited", roomId: "ignored" }, ["text"]);
    expect(u.text).toBe("edited");
    expect(u.roomId).toBe("r1");
    expect(u.version).toBe(2n);
    await expect(http.list({ filter: { author: "ann" } })).rejects.toMatchObject({ code: Code.InvalidArgument });
  });

  it("parses positions", () => {
    expect(parsePosition("3:18446744073709551615")).toEqual(pos(3, 18446744073709551615n));
    expect(parsePosition("3")).toBeUndefined();
    expect(parsePosition(null)).toBeUndefined();
  });
});
