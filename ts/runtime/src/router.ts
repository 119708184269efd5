// The frame router: the channels subscribed on the connection and their
// sinks, which channel each Subscribe id belongs to, the frames sent for a
// channel, and where each server frame goes. The twin of the Go client's
// ssotws/client/router.go. (The Go client also has a callback dispatcher,
// dispatcher.go; here the event loop runs callbacks one at a time.)

import type { ErrorCode, Event, Position, ServerFrame } from "../gen/ssot/ws/v1/frame_pb.js";
import type { ClientFrameInit } from "./link.js";

/** ChannelSink receives what the connection hears for one channel. */
export interface ChannelSink {
  /** since is asked at every (re)subscribe: the last position held. */
  since(): Position | undefined;
  /** ack: the subscription is active; `resumed` when it was sent with since. */
  onAck(position: Position | undefined, resumed: boolean): void;
  /** reset: history cannot cover since; refetch. The subscription is active. */
  onReset(position: Position | undefined): void;
  onEvents(events: Event[]): void;
  onError(code: ErrorCode, message: string): void;
  /** disconnect: the connection dropped; a resubscribe follows when it is back. */
  onDisconnect(): void;
}

/** ChannelEntry is one subscribed channel. */
export interface ChannelEntry {
  readonly sinks: Set<ChannelSink>;
  /** id of the Subscribe in flight or acknowledged on the current socket. */
  id: number;
  resumed: boolean;
  acked: boolean;
  /** failed: the gateway dropped the acknowledged subscription (an Error frame after a token refresh); never resubscribed. */
  failed: { code: ErrorCode; message: string } | undefined;
}

/** Router routes frames between the channels' sinks and the current link. */
export interface Router {
  readonly channels: Map<string, ChannelEntry>;
  /** entry returns channel's entry, creating it; first is true when it was created. */
  entry(channel: string): { entry: ChannelEntry; first: boolean };
  /** subscribe sends channel's Subscribe, with the position its sinks hold. */
  subscribe(channel: string, entry: ChannelEntry): void;
  /** subscribeAll subscribes every channel that was not dropped (a new link). */
  subscribeAll(): void;
  /** remove forgets channel (its last sink left); sendUnsubscribe on an open link. */
  remove(channel: string, entry: ChannelEntry, sendUnsubscribe: boolean): void;
  /** route delivers one server frame. */
  route(frame: ServerFrame): void;
  /** disconnected tells every channel not dropped that the link is gone. */
  disconnected(): void;
}

/** createRouter returns a router that sends frames with send. */
export function createRouter(send: (frame: ClientFrameInit) => void, opts: { noDeltas?: boolean } = {}): Router {
  const channels = new Map<string, ChannelEntry>();
  const byId = new Map<number, string>();
  let nextId = 1;

  function subscribe(channel: string, entry: ChannelEntry) {
    let since: Position | undefined;
    for (const sink of entry.sinks) {
      const p = sink.since();
      if (!p) {
        since = undefined;
        break;
      }
      // Several sinks: the earliest position of one epoch, else none.
      if (!since) since = p;
      else if (since.epoch !== p.epoch) {
        since = undefined;
        break;
      } else if (p.offset < since.offset) since = p;
    }
    entry.id = nextId++;
    entry.resumed = since !== undefined;
    entry.acked = false;
    byId.set(entry.id, channel);
    // Ask for deltas unless told not to (the gateway sends whole records
    // to a Subscribe without it: clients before deltas).
    const deltas = !opts.noDeltas;
    send({ frame: { case: "subscribe", value: since ? { id: entry.id, channel, since, deltas } : { id: entry.id, channel, deltas } } });
  }

  // current returns the entry whose current Subscribe has id.
  function current(id: number): ChannelEntry | undefined {
    const channel = byId.get(id);
    const entry = channel === undefined ? undefined : channels.get(channel);
    return entry && entry.id === id ? entry : undefined; // else an Unsubscribe's, or stale
  }

  function route(frame: ServerFrame) {
    const f = frame.frame;
    switch (f.case) {
      case "ack": {
        const entry = current(f.value.id);
        if (!entry) return;
        entry.acked = true;
        for (const sink of [...entry.sinks]) sink.onAck(f.value.position, entry.resumed);
        return;
      }
      case "reset": {
        const entry = channels.get(f.value.channel);
        if (!entry) return;
        for (const sink of [...entry.sinks]) sink.onReset(f.value.position);
        return;
      }
      case "error": {
        const entry = current(f.value.id);
        if (!entry) return;
        byId.delete(f.value.id);
        // An error after the Ack: the gateway dropped the subscription (a
        // token refresh no longer allows it). It is not resubscribed, here
        // or after a reconnect (docs/client-semantics.md). A refused
        // Subscribe is tried again on the next connection.
        if (entry.acked) entry.failed = { code: f.value.code, message: f.value.message };
        for (const sink of [...entry.sinks]) sink.onError(f.value.code, f.value.message);
        return;
      }
      case "events": {
        // Group by channel, keeping order within each.
        const groups = new Map<string, Event[]>();
        for (const e of f.value.events) {
          const g = groups.get(e.channel);
          if (g) g.push(e);
          else groups.set(e.channel, [e]);
        }
        for (const [channel, events] of groups) {
          const entry = channels.get(channel);
          if (!entry || entry.failed) continue;
          for (const sink of [...entry.sinks]) sink.onEvents(events);
        }
        return;
      }
      case "pong":
      case undefined:
        return;
    }
  }

  return {
    channels,
    entry(channel) {
      let entry = channels.get(channel);
      if (entry) return { entry, first: false };
      entry = { sinks: new Set(), id: 0, resumed: false, acked: false, failed: undefined };
      channels.set(channel, entry);
      return { entry, first: true };
    },
    subscribe,
    subscribeAll() {
      for (const [channel, entry] of channels) if (!entry.failed) subscribe(channel, entry);
    },
    remove(channel, entry, sendUnsubscribe) {
      channels.delete(channel);
      byId.delete(entry.id);
      if (sendUnsubscribe && !entry.failed) send({ frame: { case: "unsubscribe", value: { id: nextId++, channel } } });
    },
    route,
    disconnected() {
      byId.clear();
      for (const entry of channels.values()) {
        if (entry.failed) continue;
        for (const sink of [...entry.sinks]) sink.onDisconnect();
      }
    },
  };
}
