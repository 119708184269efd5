// Test doubles that speak the real protocol: a fake WebSocket exchanging
// protobuf-encoded ClientFrame/ServerFrame bytes, and a fake backend that
// serves chat.v1.ChatService through connect-es's router transport and
// plays the gateway (channels, positions, history, replay, Reset).

import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { EmptySchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createRouterTransport } from "@connectrpc/connect";
import type { HandlerContext } from "@connectrpc/connect";
import {
  ClientFrameSchema,
  EventSchema,
  EventType,
  PositionSchema,
  ServerFrameSchema,
} from "../runtime/gen/ssot/ws/v1/frame_pb.js";
import type { ClientFrame, Event, Position } from "../runtime/gen/ssot/ws/v1/frame_pb.js";
import { ChatService, MessageSchema } from "./gen/chat/v1/chat_pb.js";
import type { Message } from "./gen/chat/v1/chat_pb.js";
import { defineModel, itemChannel, modelChannel, scopeChannel } from "../runtime/src/model.js";
import type { WebSocketLike } from "../runtime/src/conn.js";

/** MessageModel is the descriptor generated code would emit for chat.v1.Message. */
export const MessageModel = defineModel<Message, string>({
  name: "Message",
  schema: MessageSchema,
  service: ChatService,
  key: "id",
  keyKind: "string",
  version: "version",
  scopes: ["room_id"],
  methods: {
    get: { method: "getMessage", keyField: "id" },
    list: {
      method: "listMessages",
      itemsField: "messages",
      nextPageTokenField: "next_page_token",
      pageSizeField: "page_size",
      pageTokenField: "page_token",
    },
    create: { method: "createMessage", modelField: "message" },
    update: { method: "updateMessage", modelField: "message", maskField: "update_mask" },
    delete: { method: "deleteMessage", keyField: "id" },
  },
  realtime: true,
});

type ServerFrameInit = MessageInitShape<typeof ServerFrameSchema>;

/** FakeWebSocket is a WebSocket whose other end is the test. */
export class FakeWebSocket implements WebSocketLike {
  static instances: FakeWebSocket[] = [];
  static onCreate: ((ws: FakeWebSocket) => void) | undefined;

  binaryType = "blob";
  readyState = 0;
  protocol = "";
  readonly sentBytes: Uint8Array[] = [];
  onopen: ((ev: unknown) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  /** onClientFrame is called with each frame the client sends. */
  onClientFrame: ((f: ClientFrame) => void) | undefined;
  closedByClient: { code?: number | undefined; reason?: string | undefined } | undefined;

  constructor(
    readonly url: string,
    readonly protocols?: string | string[],
  ) {
    FakeWebSocket.instances.push(this);
    FakeWebSocket.onCreate?.(this);
  }

  static reset(): void {
    FakeWebSocket.instances = [];
    FakeWebSocket.onCreate = undefined;
  }

  static last(): FakeWebSocket {
    const ws = FakeWebSocket.instances.at(-1);
    if (!ws) throw new Error("no socket");
    return ws;
  }

  /** autoPong answers every Ping with its Pong, as the gateway does once it accepted the token. */
  autoPong = true;

  send(data: Uint8Array): void {
    if (this.readyState !== 1) throw new Error("send on a socket that is not open");
    const copy = new Uint8Array(data);
    this.sentBytes.push(copy);
    const f = fromBinary(ClientFrameSchema, copy);
    this.onClientFrame?.(f);
    if (this.autoPong && f.frame.case === "ping") {
      this.serverSend({ frame: { case: "pong", value: { nonce: f.frame.value.nonce } } });
    }
  }

  close(code?: number, reason?: string): void {
    if (this.readyState >= 2) return;
    this.closedByClient = { code, reason };
    this.readyState = 3;
  }

  /** sent decodes every frame the client sent. */
  sent(): ClientFrame[] {
    return this.sentBytes.map((b) => fromBinary(ClientFrameSchema, b));
  }

  // --- the server's side

  serverOpen(protocol = "ssot.v1"): void {
    this.readyState = 1;
    this.protocol = protocol;
    this.onopen?.({});
  }

  /**
   * serverSend encodes a ServerFrame and delivers its bytes as the
   * binaryType asks, each message in a task of its own as a browser does.
   */
  serverSend(frame: ServerFrameInit): void {
    if (this.readyState !== 1) return;
    const bytes = toBinary(ServerFrameSchema, create(ServerFrameSchema, frame));
    const data =
      this.binaryType === "arraybuffer"
        ? bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)
        : new Blob([bytes]);
    this.inbox.push(data);
    setTimeout(() => {
      const next = this.inbox.shift();
      if (next !== undefined && this.readyState === 1) this.onmessage?.({ data: next });
    }, 0);
  }

  private inbox: unknown[] = [];

  /** subscribes returns the Subscribe frames the client sent. */
  subscribes() {
    return this.sent().flatMap((f) => (f.frame.case === "subscribe" ? [f.frame.value] : []));
  }

  serverClose(code: number, reason = ""): void {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }
}

/** pos builds a Position. */
export function pos(epoch: number | bigint, offset: number | bigint): Position {
  return create(PositionSchema, { epoch: BigInt(epoch), offset: BigInt(offset) });
}

interface ChannelLog {
  offset: bigint;
  history: Event[];
}

interface GatewaySub {
  readonly ws: FakeWebSocket;
  readonly channel: string;
}

/**
 * FakeBackend is the chat server and its gateway in one: a store with
 * versions and tombstones, positions per channel, a bounded history, the
 * Ssot-Position header read before the store, and Idempotency-Key dedup.
 */
export class FakeBackend {
  epoch = 1n;
  historyLimit = 1000;
  private records = new Map<string, { msg: Message; version: bigint; deleted: boolean }>();
  private seq = 0;
  private channels = new Map<string, ChannelLog>();
  private subs: GatewaySub[] = [];
  private results = new Map<string, Message | boolean>();
  /** calls counts RPCs by method local name. */
  readonly calls: Record<string, number> = {};
  /** keys records the Idempotency-Key of every mutation attempt. */
  readonly keys: string[] = [];
  /** failures makes the next n mutation attempts fail with Unavailable. */
  failures = 0;
  /** readFailures makes the next n Get/List calls fail with Unavailable (a cut connection, a restarting server). */
  readFailures = 0;
  /** beforePositionRead runs in Get/List before the position is read. */
  beforePositionRead: (() => void) | undefined;
  /** afterPositionRead runs in Get/List between reading the position and reading the store. */
  afterPositionRead: (() => void) | undefined;
  /** autoGateway answers Subscribe frames; turn off to script the gateway by hand. */
  autoGateway = true;
  /** holdReads parks Get/List until release() when set. */
  private held: (() => void)[] = [];
  holdReads = false;
  /** holdEvents keeps published events from the sockets until releaseEvents() when set. */
  holdEvents = false;
  private heldEvents: (() => void)[] = [];
  /** holdReplies parks the replies of successful mutations until releaseReplies() when set. */
  holdReplies = false;
  private heldReplies: (() => void)[] = [];

  readonly transport = createRouterTransport(({ service }) => {
    service(ChatService, {
      getMessage: (req, ctx) => {
        this.count("getMessage");
        return this.read(ctx, itemChannel("Message", req.id), () => {
          const r = this.records.get(req.id);
          if (!r || r.deleted) throw new ConnectError("not found", Code.NotFound);
          return this.withVersion(r.msg, r.version);
        });
      },
      listMessages: (req, ctx) => {
        this.count("listMessages");
        const channel = req.roomId ? scopeChannel("Message", "room_id", req.roomId) : modelChannel("Message");
        return this.read(ctx, channel, () => {
          const all = [...this.records.values()]
            .filter((r) => !r.deleted && (!req.roomId || r.msg.roomId === req.roomId))
            .map((r) => this.withVersion(r.msg, r.version));
          const start = req.pageToken ? Number(req.pageToken) : 0;
          const size = req.pageSize > 0 ? Math.min(req.pageSize, 100) : 50;
          const page = all.slice(start, start + size);
          const next = start + size < all.length ? String(start + size) : "";
          return { messages: page, nextPageToken: next };
        });
      },
      createMessage: (req, ctx) => {
        this.count("createMessage");
        return this.mutate(ctx, () => this.put(req.message ?? create(MessageSchema), ctx.requestHeader.get("Idempotency-Key") ?? ""));
      },
      updateMessage: (req, ctx) => {
        this.count("updateMessage");
        return this.mutate(ctx, () => {
          const m = req.message ?? create(MessageSchema);
          const r = this.records.get(m.id);
          if (!r || r.deleted) throw new ConnectError("not found", Code.NotFound);
          const paths = req.updateMask?.paths ?? [];
          const next = create(MessageSchema, { ...r.msg });
          if (paths.length === 0 || paths.includes("text")) next.text = m.text || (paths.length ? "" : r.msg.text);
          if (paths.length === 0 ? m.roomId !== "" : paths.includes("room_id")) next.roomId = m.roomId;
          if (paths.length === 0 ? m.author !== "" : paths.includes("author")) next.author = m.author;
          return this.put(next, ctx.requestHeader.get("Idempotency-Key") ?? "", r.msg.roomId);
        });
      },
      deleteMessage: (req, ctx) => {
        this.count("deleteMessage");
        return this.mutate(ctx, () => {
          const r = this.records.get(req.id);
          if (!r || r.deleted) throw new ConnectError("not found", Code.NotFound);
          r.deleted = true;
          r.version++;
          this.publish(EventType.DELETED, this.withVersion(r.msg, r.version), ctx.requestHeader.get("Idempotency-Key") ?? "");
          return create(EmptySchema);
        });
      },
    });
  });

  private count(m: string) {
    this.calls[m] = (this.calls[m] ?? 0) + 1;
  }

  private withVersion(m: Message, v: bigint): Message {
    return create(MessageSchema, { ...m, version: v });
  }

  private async read<R>(ctx: HandlerContext, channel: string, body: () => R): Promise<R> {
    if (this.readFailures > 0) {
      this.readFailures--;
      throw new ConnectError("try again", Code.Unavailable);
    }
    this.beforePositionRead?.();
    const p = this.position(channel);
    ctx.responseHeader.set("Ssot-Channel", channel);
    ctx.responseHeader.set("Ssot-Position", `${p.epoch}:${p.offset}`);
    this.afterPositionRead?.();
    if (this.holdReads) await new Promise<void>((r) => this.held.push(r));
    return body();
  }

  /** release lets parked reads read the store now. */
  release(): void {
    const h = this.held;
    this.held = [];
    for (const r of h) r();
  }

  /** releaseEvents sends the held events, in order, and stops holding them. */
  releaseEvents(): void {
    this.holdEvents = false;
    const h = this.heldEvents;
    this.heldEvents = [];
    for (const send of h) send();
  }

  /** releaseReplies lets parked mutation replies go, and stops parking them. */
  releaseReplies(): void {
    this.holdReplies = false;
    const h = this.heldReplies;
    this.heldReplies = [];
    for (const r of h) r();
  }

  private async mutate<R extends Message | boolean | object>(ctx: HandlerContext, body: () => R): Promise<R> {
    const key = ctx.requestHeader.get("Idempotency-Key") ?? "";
    this.keys.push(key);
    if (this.failures > 0) {
      this.failures--;
      throw new ConnectError("try again", Code.Unavailable);
    }
    const done = this.results.get(key);
    if (key && done !== undefined) return done as R;
    const r = body();
    if (key) this.results.set(key, r as Message);
    if (this.holdReplies) await new Promise<void>((res) => this.heldReplies.push(res));
    return r;
  }

  /** put writes a record (new or updated) and publishes its events. */
  put(init: MessageInitShape<typeof MessageSchema>, requestId = "", oldRoom?: string): Message {
    const msg = create(MessageSchema, init);
    if (!msg.id) msg.id = `m${++this.seq}`;
    const r = this.records.get(msg.id);
    const version = (r?.version ?? 0n) + 1n;
    const created = !r || r.deleted;
    this.records.set(msg.id, { msg, version, deleted: false });
    const out = this.withVersion(msg, version);
    if (oldRoom !== undefined && oldRoom !== msg.roomId) {
      this.publishOn(scopeChannel("Message", "room_id", oldRoom), EventType.DELETED, out, requestId);
    }
    this.publish(created ? EventType.CREATED : EventType.UPDATED, out, requestId);
    return out;
  }

  /** remove deletes a record and publishes DELETED. */
  remove(id: string): void {
    const r = this.records.get(id);
    if (!r || r.deleted) return;
    r.deleted = true;
    r.version++;
    this.publish(EventType.DELETED, this.withVersion(r.msg, r.version), "");
  }

  position(channel: string): Position {
    return pos(this.epoch, this.log(channel).offset);
  }

  private log(channel: string): ChannelLog {
    let l = this.channels.get(channel);
    if (!l) this.channels.set(channel, (l = { offset: 0n, history: [] }));
    return l;
  }

  private publish(type: EventType, msg: Message, requestId: string) {
    for (const ch of [modelChannel("Message"), itemChannel("Message", msg.id), scopeChannel("Message", "room_id", msg.roomId)]) {
      this.publishOn(ch, type, msg, requestId);
    }
  }

  private publishOn(channel: string, type: EventType, msg: Message, requestId: string) {
    const l = this.log(channel);
    l.offset++;
    const e = create(EventSchema, {
      channel,
      type,
      key: msg.id,
      version: msg.version,
      position: pos(this.epoch, l.offset),
      requestId,
      data: toBinary(MessageSchema, msg),
    });
    l.history.push(e);
    if (l.history.length > this.historyLimit) l.history.shift();
    for (const s of this.subs) {
      if (s.channel !== channel) continue;
      const send = () => s.ws.serverSend({ frame: { case: "events", value: { events: [e] } } });
      if (this.holdEvents) this.heldEvents.push(send);
      else send();
    }
  }

  /** loseHistory starts a new epoch, as an in-memory broker restart does. */
  loseHistory(): void {
    this.epoch++;
    for (const l of this.channels.values()) {
      l.offset = 0n;
      l.history = [];
    }
  }

  /** attach plays the gateway for a socket: opens it and answers its frames. */
  attach(ws: FakeWebSocket): void {
    ws.onClientFrame = (f) => {
      if (!this.autoGateway) return;
      const fr = f.frame;
      if (fr.case === "subscribe") {
        const { id, channel, since } = fr.value;
        const l = this.log(channel);
        this.subs.push({ ws, channel });
        if (!since) {
          ws.serverSend({ frame: { case: "ack", value: { id, position: pos(this.epoch, l.offset) } } });
          return;
        }
        const first = l.history[0]?.position?.offset ?? l.offset + 1n;
        if (since.epoch !== this.epoch || since.offset + 1n < first || since.offset > l.offset) {
          ws.serverSend({ frame: { case: "reset", value: { id, channel, position: pos(this.epoch, l.offset) } } });
          return;
        }
        // As the Go gateway does: the replay first, then the Ack.
        const replay = l.history.filter((e) => (e.position?.offset ?? 0n) > since.offset);
        if (replay.length) ws.serverSend({ frame: { case: "events", value: { events: replay } } });
        ws.serverSend({ frame: { case: "ack", value: { id, position: pos(this.epoch, l.offset) } } });
      } else if (fr.case === "unsubscribe") {
        this.subs = this.subs.filter((s) => !(s.ws === ws && s.channel === fr.value.channel));
        ws.serverSend({ frame: { case: "ack", value: { id: fr.value.id } } });
      }
      // Pings: answered by the socket itself (autoPong).
    };
  }

  /** detach forgets a socket's subscriptions (the server side of a cut). */
  detach(ws: FakeWebSocket): void {
    this.subs = this.subs.filter((s) => s.ws !== ws);
  }

  /** cut closes a socket from the server side. */
  cut(ws: FakeWebSocket, code = 1006): void {
    this.detach(ws);
    ws.serverClose(code);
  }
}

/** flush lets pending promises and microtasks run. */
export async function flush(times = 10): Promise<void> {
  for (let i = 0; i < times; i++) await new Promise<void>((r) => setTimeout(r, 0));
}

/** msg builds a chat message. */
export function msg(init: MessageInitShape<typeof MessageSchema>): Message {
  return create(MessageSchema, init);
}

/** event builds a wire event of chat.v1.Message on a channel. */
export function event(
  channel: string,
  type: EventType,
  m: MessageInitShape<typeof MessageSchema>,
  version: number,
  position: Position,
  requestId = "",
): Event {
  const value = create(MessageSchema, { ...m, version: BigInt(version) });
  return create(EventSchema, {
    channel,
    type,
    key: value.id,
    version: BigInt(version),
    position,
    requestId,
    data: toBinary(MessageSchema, value),
  });
}
