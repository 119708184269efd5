// A model with an int64 key and wrapped responses.
import { create, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, createRouterTransport } from "@connectrpc/connect";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { EventType } from "../runtime/gen/ssot/ws/v1/frame_pb.js";
import { createHttpClient } from "../runtime/src/http.js";
import { createHybridClient } from "../runtime/src/hybrid.js";
import { defineModel, itemChannel } from "../runtime/src/model.js";
import { createConnection } from "../runtime/src/conn.js";
import type { Connection } from "../runtime/src/conn.js";
import { BookSchema, LibraryService } from "./gen/library/v1/library_pb.js";
import type { Book } from "./gen/library/v1/library_pb.js";
import { FakeWebSocket, pos } from "./fake.js";

const BookModel = defineModel<Book, bigint>({
  name: "Book",
  schema: BookSchema,
  service: LibraryService,
  key: "id",
  keyKind: "bigint",
  version: "version",
  scopes: ["shelf_id"],
  methods: {
    get: { method: "GetBook", response: "book" }, // proto names work too
    list: { method: "listBooks", itemsField: "books" },
    create: { method: "createBook", modelField: "book", response: "book" },
    update: { method: "updateBook", modelField: "book", response: "book" },
    delete: { method: "deleteBook" },
  },
  realtime: true,
});

function library() {
  const books = new Map<bigint, Book>();
  let next = 40n;
  const requests: unknown[] = [];
  const transport = createRouterTransport(({ service }) =>
    service(LibraryService, {
      getBook: (req, ctx) => {
        requests.push(req);
        ctx.responseHeader.set("Ssot-Channel", itemChannel("Book", req.id));
        ctx.responseHeader.set("Ssot-Position", "1:0");
        const b = books.get(req.id);
        if (!b) throw new ConnectError("no book", Code.NotFound);
        return { book: b };
      },
      listBooks: (req, ctx) => {
        requests.push(req);
        ctx.responseHeader.set("Ssot-Channel", req.shelfId ? `Book?shelf_id=${req.shelfId}` : "Book");
        ctx.responseHeader.set("Ssot-Position", "1:3");
        return { books: [...books.values()].filter((b) => (!req.shelfId || b.shelfId === req.shelfId) && (!req.lent || b.lent)) };
      },
      createBook: (req) => {
        const b = create(BookSchema, { shelfId: req.book?.shelfId ?? 0n, title: req.book?.title ?? "", lent: req.book?.lent ?? false, id: ++next, version: 1n });
        books.set(b.id, b);
        return { book: b };
      },
      updateBook: (req) => {
        const old = books.get(req.book!.id)!;
        const b = create(BookSchema, { ...old, title: req.book!.title, version: old.version + 1n });
        books.set(b.id, b);
        return { book: b };
      },
      deleteBook: (req) => {
        if (!books.delete(req.id)) throw new ConnectError("no book", Code.NotFound);
        return {};
      },
    }),
  );
  return { books, transport, requests };
}

let conn: Connection | undefined;
beforeEach(() => FakeWebSocket.reset());
afterEach(() => conn?.close());

describe("int64 keys and wrapped responses", () => {
  it("unwraps every response and sends bigint keys and filters", async () => {
    const lib = library();
    const http = createHttpClient(BookModel, lib.transport);
    const b = await http.create({ shelfId: 7n, title: "Dune" });
    expect(b.id).toBe(41n);
    expect((await http.get(41n))?.title).toBe("Dune");
    expect(await http.get(99n)).toBeUndefined();
    expect((await http.update(41n, { title: "Dune II" })).version).toBe(2n);
    await http.create({ shelfId: 8n, title: "Emma", lent: true });
    expect((await http.list({ filter: { shelfId: 7n } })).items.map((x) => x.title)).toEqual(["Dune II"]);
    expect((await http.list({ filter: { lent: true } })).items.map((x) => x.title)).toEqual(["Emma"]);
    expect(lib.requests.at(-1)).toMatchObject({ lent: true, shelfId: 0n });
    expect(await http.delete(41n)).toBe(true);
    expect(await http.delete(41n)).toBe(false);
  });

  it("maps scope filters onto channels and hydrates them with typed values", async () => {
    const lib = library();
    lib.books.set(1n, create(BookSchema, { id: 1n, shelfId: 7n, title: "a", version: 3n }));
    lib.books.set(2n, create(BookSchema, { id: 2n, shelfId: 8n, title: "b", version: 1n }));
    FakeWebSocket.onCreate = (ws) => {
      ws.onClientFrame = (f) => {
        if (f.frame.case === "subscribe") {
          ws.serverSend({ frame: { case: "ack", value: { id: f.frame.value.id, position: pos(1, 3) } } });
        }
      };
      queueMicrotask(() => ws.serverOpen());
    };
    conn = createConnection({ url: "ws://x", WebSocket: FakeWebSocket });
    const client = createHybridClient(BookModel, { transport: lib.transport, connection: conn });
    expect(client.channelFor({ filter: { shelfId: 7n } })).toBe("Book?shelf_id=7");
    expect(client.channelFor({ filter: { lent: true } })).toBeUndefined();
    expect(client.channelFor({ filter: { shelfId: 7n, lent: true } })).toBeUndefined();

    client.subscribe("Book?shelf_id=7", () => {});
    const seen: string[] = [];
    client.subscribe(itemChannel(BookModel, 2n), (c) => seen.push(`${c.type} ${c.key} ${c.value.title}`));
    await vi.waitFor(() => expect(client.isLive("Book?shelf_id=7") && client.isLive("Book/2")).toBe(true));
    expect(lib.requests).toContainEqual(expect.objectContaining({ shelfId: 7n }));
    expect(lib.requests).toContainEqual(expect.objectContaining({ id: 2n }));
    expect((await client.list({ filter: { shelfId: 7n } })).items.map((x) => x.title)).toEqual(["a"]);
    expect((await client.get(2n))?.title).toBe("b");

    const ws = FakeWebSocket.last();
    const updated = create(BookSchema, { id: 2n, shelfId: 8n, title: "b2", version: 2n });
    ws.serverSend({
      frame: {
        case: "events",
        value: {
          events: [
            { channel: "Book/2", type: EventType.UPDATED, key: "2", version: 2n, position: pos(1, 4), data: toBinary(BookSchema, updated) },
          ],
        },
      },
    });
    await vi.waitFor(() => expect(seen).toEqual(["updated 2 b2"]));
    expect((await client.get(2n))?.title).toBe("b2");
  });
});
