// React hooks for presence and ephemeral signals (presence.ts):
// usePresence (who is here), useSignal (send and hear one kind of signal),
// useSignals (the same, typed by the model's declared signal message) and
// useTyping (typing indicators on top of them). Exported by react.ts.

import type { DescMessage, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import type { Connection } from "./conn.js";
import type { Member, Presence, Signal, SignalOptions } from "./presence.js";
import type { PresenceType, SignalsType, TypedMember, TypedSignal } from "./presence_typed.js";
import { useSsot } from "./react.js";

const encoder = new TextEncoder();

function bytesOf(payload: Uint8Array | string | undefined): Uint8Array | undefined {
  return typeof payload === "string" ? encoder.encode(payload) : payload;
}

function keyOf(payload: Uint8Array | string | undefined): string | undefined {
  if (payload === undefined) return undefined;
  return typeof payload === "string" ? `s:${payload}` : `b:${payload.join(",")}`;
}

/** PresenceHookOptions configure {@link usePresence}. */
export interface PresenceHookOptions {
  /** payload is what the others see of this user: bytes, or a string sent as UTF-8. A change is sent at once. */
  payload?: Uint8Array | string;
  /** observe watches the channel without appearing in it. */
  observe?: boolean;
  /** connection overrides the provider's. */
  connection?: Connection;
}

/** PresenceState is what {@link usePresence} returns. */
export interface PresenceState {
  /** members are the users present, sorted by user. */
  members: Member[];
  /** error is the gateway's refusal of the join, if any. */
  error: string | undefined;
}

/** TypedPresenceHookOptions configure the typed {@link usePresence}. */
export interface TypedPresenceHookOptions<Desc extends DescMessage> extends Omit<PresenceHookOptions, "payload"> {
  /** payload is what the others see of this user, a message of the declared type. A change is sent at once. */
  payload?: MessageInitShape<Desc>;
}

/** TypedPresenceState is what the typed {@link usePresence} returns. */
export interface TypedPresenceState<Desc extends DescMessage> {
  /** members are the users present, sorted by user, with their payloads decoded. */
  members: TypedMember<MessageShape<Desc>>[];
  /** error is the gateway's refusal of the join, if any. */
  error: string | undefined;
}

/**
 * usePresence joins channel's presence while the component is mounted and
 * returns who is there, re-rendering on each change. An undefined channel
 * joins nothing. Given a model's generated presence type first
 * (usePresence(MessagePresence, channel, { payload })), the payload is a
 * message of the declared type and the members' payloads are decoded.
 */
export function usePresence(channel: string | undefined, options?: PresenceHookOptions): PresenceState;
export function usePresence<Desc extends DescMessage>(
  type: PresenceType<Desc>,
  channel: string | undefined,
  options?: TypedPresenceHookOptions<Desc>,
): TypedPresenceState<Desc>;
export function usePresence<Desc extends DescMessage>(
  a: string | undefined | PresenceType<Desc>,
  b?: string | PresenceHookOptions,
  c?: TypedPresenceHookOptions<Desc>,
): PresenceState | TypedPresenceState<Desc> {
  const type = typeof a === "object" ? a : undefined;
  const channel = type ? (b as string | undefined) : (a as string | undefined);
  const options = (type ? c : (b as PresenceHookOptions | undefined)) ?? {};
  const { payload, ...rest } = options;
  const bytes = type && payload !== undefined ? type.encode(payload as MessageInitShape<Desc>) : (payload as Uint8Array | string | undefined);
  const state = usePresenceBytes(channel, { ...rest, ...(bytes !== undefined ? { payload: bytes } : {}) });
  return useMemo(() => (type ? { members: type.members(state.members), error: state.error } : state), [type, state]);
}

function usePresenceBytes(channel: string | undefined, options: PresenceHookOptions): PresenceState {
  const ctx = useSsot();
  const conn = options.connection ?? ctx.connection;
  const observe = options.observe ?? false;
  const [state, setState] = useState<PresenceState>({ members: [], error: undefined });
  const presence = useRef<Presence | undefined>(undefined);
  const payloadKey = keyOf(options.payload);
  const payload = useRef(options.payload);
  payload.current = options.payload;
  const sentKey = useRef<string | undefined>(undefined);

  useEffect(() => {
    if (!conn || channel === undefined) return;
    sentKey.current = keyOf(payload.current);
    const p = conn.join(channel, {
      ...(payload.current !== undefined ? { payload: bytesOf(payload.current)! } : {}),
      observe,
      onMembers: (members) => setState({ members, error: undefined }),
      onError: (_code, message) => setState({ members: [], error: message }),
    });
    presence.current = p;
    return () => {
      p.leave();
      presence.current = undefined;
      setState({ members: [], error: undefined });
    };
  }, [conn, channel, observe]);

  useEffect(() => {
    const p = presence.current;
    if (!p || payloadKey === sentKey.current || payload.current === undefined) return;
    sentKey.current = payloadKey;
    p.setPayload(bytesOf(payload.current)!);
  }, [payloadKey]);

  return state;
}

/** SignalHookOptions configure {@link useSignal}. */
export interface SignalHookOptions {
  /** connection overrides the provider's. */
  connection?: Connection;
}

/**
 * useSignal hears the signals named name on channel (it observes the
 * channel's presence, without appearing in it, while mounted) and returns
 * the function that sends one. The sender does not hear its own signals
 * unless it asks for an echo.
 */
export function useSignal(
  channel: string | undefined,
  name: string,
  onSignal?: (signal: Signal) => void,
  options: SignalHookOptions = {},
): (data?: Uint8Array, opts?: SignalOptions) => Promise<void> {
  const ctx = useSsot();
  const conn = options.connection ?? ctx.connection;
  const handler = useRef(onSignal);
  handler.current = onSignal;
  useEffect(() => {
    if (!conn || channel === undefined) return;
    const p = conn.join(channel, {
      observe: true,
      onSignal: (s) => {
        if (s.name === name) handler.current?.(s);
      },
    });
    return () => p.leave();
  }, [conn, channel, name]);
  return useCallback(
    (data?: Uint8Array, opts?: SignalOptions) => {
      if (!conn || channel === undefined) return Promise.reject(new Error("ssotws: no connection or channel"));
      return conn.signal(channel, name, data, opts);
    },
    [conn, channel, name],
  );
}

/**
 * useSignals is useSignal typed by a model's generated signals type
 * (useSignals(MessageSignals, channel, onSignal)): it hears the signals
 * named after the declared message, decoded, and returns the function that
 * sends one.
 */
export function useSignals<Desc extends DescMessage>(
  type: SignalsType<Desc>,
  channel: string | undefined,
  onSignal?: (signal: TypedSignal<MessageShape<Desc>>) => void,
  options: SignalHookOptions = {},
): (value: MessageInitShape<Desc>, opts?: SignalOptions) => Promise<void> {
  const handler = useRef(onSignal);
  handler.current = onSignal;
  const send = useSignal(
    channel,
    type.name,
    (s) => {
      const t = type.decode(s);
      if (t) handler.current?.(t);
    },
    options,
  );
  return useCallback((value: MessageInitShape<Desc>, opts?: SignalOptions) => send(type.encode(value), opts), [send, type]);
}

/**
 * TypingSignal makes {@link useTyping} speak a model's declared signal
 * message instead of the untyped "typing" signal: encode says how "typing"
 * or "stopped" is written as that message, decode how it is read.
 */
export interface TypingSignal<Desc extends DescMessage> {
  type: SignalsType<Desc>;
  encode(typing: boolean): MessageInitShape<Desc>;
  decode(signal: MessageShape<Desc>): boolean;
}

/** TypingOptions configure {@link useTyping}. */
export interface TypingOptions<Desc extends DescMessage = DescMessage> {
  /**
   * signal, on a model that declares its signal message, is how typing is
   * said in it (the gateway refuses the untyped "typing" signal there).
   */
  signal?: TypingSignal<Desc>;
  /** timeoutMs: a user who sent nothing for this long is no longer typing. Default 4000. */
  timeoutMs?: number;
  /** throttleMs: at most one "typing" signal per this interval. Default 1500 (under the gateway's default rate). */
  throttleMs?: number;
  /** connection overrides the provider's. */
  connection?: Connection;
}

/** TypingState is what {@link useTyping} returns. */
export interface TypingState {
  /** typing are the users typing now (other than this connection), sorted. */
  typing: string[];
  /** setTyping says this user is typing (call it on each keystroke: it is throttled) or stopped. */
  setTyping(on: boolean): void;
}

const typingOn = new Uint8Array([1]);

/**
 * useTyping is a typing indicator over the "typing" signal of channel: who
 * else is typing, and a throttled setTyping for this user. Failed sends
 * (rate limit, disconnected) are dropped: a typing indicator is best
 * effort.
 */
export function useTyping<Desc extends DescMessage = DescMessage>(
  channel: string | undefined,
  options: TypingOptions<Desc> = {},
): TypingState {
  const timeoutMs = options.timeoutMs ?? 4000;
  const throttleMs = options.throttleMs ?? 1500;
  const [typing, setTypingUsers] = useState<string[]>([]);
  const until = useRef(new Map<string, number>());
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);

  const refresh = useCallback(() => {
    const now = Date.now();
    for (const [u, t] of until.current) if (t <= now) until.current.delete(u);
    setTypingUsers((prev) => {
      const next = [...until.current.keys()].sort();
      return next.length === prev.length && next.every((u, i) => u === prev[i]) ? prev : next;
    });
    if (timer.current !== undefined) clearTimeout(timer.current);
    timer.current = undefined;
    if (until.current.size > 0) {
      const next = Math.min(...until.current.values());
      timer.current = setTimeout(refresh, Math.max(next - now, 10));
    }
  }, []);

  useEffect(
    () => () => {
      if (timer.current !== undefined) clearTimeout(timer.current);
      until.current.clear();
      setTypingUsers([]);
    },
    [channel],
  );

  const typed = options.signal;
  const codec = useRef(typed);
  codec.current = typed;
  const send = useSignal(
    channel,
    typed ? typed.type.name : "typing",
    (s) => {
      const c = codec.current;
      const decoded = c?.type.decode(s);
      const on = c ? decoded !== undefined && c.decode(decoded.data) : s.data.length > 0 && s.data[0] === 1;
      if (on) until.current.set(s.user, Date.now() + timeoutMs);
      else until.current.delete(s.user);
      refresh();
    },
    options.connection ? { connection: options.connection } : {},
  );
  const encode = useCallback((on: boolean) => {
    const c = codec.current;
    if (c) return c.type.encode(c.encode(on));
    return on ? typingOn : new Uint8Array();
  }, []);

  const lastSent = useRef(0);
  const setTyping = useCallback(
    (on: boolean) => {
      const now = Date.now();
      if (on) {
        if (now - lastSent.current < throttleMs) return;
        lastSent.current = now;
        send(encode(true)).catch(() => {});
      } else if (lastSent.current !== 0) {
        lastSent.current = 0;
        send(encode(false)).catch(() => {});
      }
    },
    [send, encode, throttleMs],
  );

  return { typing, setTyping };
}
