// Presence and ephemeral signals on the shared connection: who is in a
// channel (join), and small messages that are not stored (signal). The
// twin of the Go client's ssotws/client/presence.go; docs/presence.md says
// when to use them rather than records.

import type { ErrorCode, ServerFrame } from "../gen/ssot/ws/v1/frame_pb.js";
import { ErrorCode as Codes } from "../gen/ssot/ws/v1/frame_pb.js";
import type { ClientFrameInit } from "./link.js";
import { post } from "./dispatcher.js";

/** Member is one user present in a channel, however many connections they joined from. */
export interface Member {
  /** user is the authenticated subject, or "anon:<id>" for an anonymous connection. */
  readonly user: string;
  readonly payload: Uint8Array;
}

/** Signal is an ephemeral message published on a channel. */
export interface Signal {
  readonly channel: string;
  readonly user: string;
  readonly name: string;
  readonly data: Uint8Array;
}

/** JoinOptions configure {@link Connection.join}. */
export interface JoinOptions {
  /** payload is what the other members see of this user (bounded by the gateway, 512 bytes by default). */
  payload?: Uint8Array;
  /** observe hears the channel's presence and signals without appearing in it. */
  observe?: boolean;
  /** onMembers is called with the members (sorted by user) after each change. */
  onMembers?(members: Member[]): void;
  /** onSignal is called with each signal of the channel. */
  onSignal?(signal: Signal): void;
  /** onError: the gateway refused the join (read access, payload size, too many channels). */
  onError?(code: ErrorCode, message: string): void;
}

/** Presence is one join of a channel; the connection joins again after every reconnect. */
export interface Presence {
  readonly channel: string;
  /** members returns the users present, sorted by user. */
  members(): Member[];
  /** setPayload changes what the other members see of this user. */
  setPayload(payload: Uint8Array): void;
  /** leave ends this join; the channel is left when its last join leaves. */
  leave(): void;
}

/** SignalOptions configure {@link Connection.signal}. */
export interface SignalOptions {
  /** echo delivers the signal to this connection too, when it joined the channel. */
  echo?: boolean;
}

/** SignalError is a signal the gateway refused, or one sent while not connected. */
export class SignalError extends Error {
  constructor(
    readonly code: ErrorCode | "not-connected",
    message: string,
  ) {
    super(message);
    this.name = "SignalError";
  }
}

interface Sink extends JoinOptions {
  payloadSet: boolean;
}

interface Entry {
  readonly sinks: Set<Sink>;
  id: number;
  payload: Uint8Array;
  observe: boolean;
  members: Map<string, Uint8Array>;
}

/** PresenceRouter keeps the connection's joins and routes their frames. */
export interface PresenceRouter {
  join(channel: string, options: JoinOptions): Presence;
  signal(channel: string, name: string, data: Uint8Array, options: SignalOptions): Promise<void>;
  /** rejoinAll joins every channel again (a new link). */
  rejoinAll(): void;
  /** route handles a frame of presence or signals, reporting false for the others. */
  route(frame: ServerFrame): boolean;
  /** disconnected fails the signals waiting for an answer. */
  disconnected(): void;
}

function sorted(members: Map<string, Uint8Array>): Member[] {
  return [...members].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([user, payload]) => ({ user, payload }));
}

/**
 * createPresenceRouter returns the joins of a connection. send sends a
 * frame on the open link and reports false when there is none. Its ids
 * start at 2^31, apart from the subscriptions' (router.ts).
 */
export function createPresenceRouter(send: (frame: ClientFrameInit) => boolean): PresenceRouter {
  const entries = new Map<string, Entry>();
  const joins = new Map<number, string>();
  const signals = new Map<number, { resolve(): void; reject(e: Error): void }>();
  let nextId = 0x80000000;
  const id = () => (nextId = nextId >= 0xffffffff ? 0x80000000 : nextId + 1);

  function sendJoin(channel: string, e: Entry) {
    joins.delete(e.id);
    e.id = id();
    joins.set(e.id, channel);
    if (!send({ frame: { case: "presenceJoin", value: { id: e.id, channel, payload: e.payload, observe: e.observe } } })) {
      joins.delete(e.id);
      e.id = 0;
    }
  }

  function notify(e: Entry) {
    const members = sorted(e.members);
    for (const s of [...e.sinks]) s.onMembers?.(members);
  }

  return {
    join(channel, options) {
      const sink: Sink = { ...options, payloadSet: options.payload !== undefined };
      let e = entries.get(channel);
      const first = !e;
      if (!e) {
        e = { sinks: new Set(), id: 0, payload: new Uint8Array(), observe: true, members: new Map() };
        entries.set(channel, e);
      }
      const entry = e;
      entry.sinks.add(sink);
      const observe = [...entry.sinks].every((s) => s.observe === true);
      if (first || sink.payloadSet || observe !== entry.observe) {
        if (sink.payloadSet) entry.payload = sink.payload!;
        entry.observe = observe;
        sendJoin(channel, entry);
      } else {
        const members = sorted(entry.members);
        post(() => {
          if (entry.sinks.has(sink)) sink.onMembers?.(members);
        });
      }
      let left = false;
      return {
        channel,
        members: () => sorted(entry.members),
        setPayload(payload) {
          if (left) return;
          sink.payload = payload;
          sink.payloadSet = true;
          entry.payload = payload;
          sendJoin(channel, entry);
        },
        leave() {
          if (left) return;
          left = true;
          entry.sinks.delete(sink);
          if (entry.sinks.size > 0) {
            const observe = [...entry.sinks].every((s) => s.observe === true);
            if (observe !== entry.observe) {
              entry.observe = observe;
              sendJoin(channel, entry);
            }
            return;
          }
          entries.delete(channel);
          joins.delete(entry.id);
          send({ frame: { case: "presenceLeave", value: { id: id(), channel } } });
        },
      };
    },
    signal(channel, name, data, options) {
      return new Promise<void>((resolve, reject) => {
        const sid = id();
        signals.set(sid, { resolve, reject });
        if (!send({ frame: { case: "sendSignal", value: { id: sid, channel, name, data, echo: options.echo ?? false } } })) {
          signals.delete(sid);
          reject(new SignalError("not-connected", "ssotws: not connected; signals are not kept for later"));
        }
      });
    },
    rejoinAll() {
      joins.clear();
      for (const [channel, e] of entries) sendJoin(channel, e);
    },
    route(frame) {
      const f = frame.frame;
      switch (f.case) {
        case "ack":
        case "error": {
          const w = signals.get(f.value.id);
          if (w) {
            signals.delete(f.value.id);
            if (f.case === "ack") w.resolve();
            else w.reject(new SignalError(f.value.code, `ssotws: ${Codes[f.value.code]}: ${f.value.message}`));
            return true;
          }
          const channel = joins.get(f.value.id);
          if (channel === undefined) return f.value.id >= 0x80000000;
          const e = entries.get(channel);
          if (f.case === "error" && e && e.id === f.value.id) {
            e.members.clear();
            for (const s of [...e.sinks]) s.onError?.(f.value.code, f.value.message);
            notify(e);
          }
          return true;
        }
        case "presence": {
          const e = entries.get(f.value.channel);
          if (!e) return true;
          if (f.value.snapshot) e.members.clear();
          for (const m of f.value.joined) e.members.set(m.user, m.payload);
          for (const u of f.value.left) e.members.delete(u);
          notify(e);
          return true;
        }
        case "signal": {
          const e = entries.get(f.value.channel);
          if (!e) return true;
          const s: Signal = { channel: f.value.channel, user: f.value.user, name: f.value.name, data: f.value.data };
          for (const sink of [...e.sinks]) sink.onSignal?.(s);
          return true;
        }
        default:
          return false;
      }
    },
    disconnected() {
      for (const w of signals.values()) w.reject(new SignalError("not-connected", "ssotws: the connection dropped"));
      signals.clear();
      joins.clear();
    },
  };
}
