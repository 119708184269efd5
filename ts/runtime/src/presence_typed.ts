// Typed presence and signals: a model's presence and signal options
// declare the messages its channels carry, and the generated code gives a
// PresenceType and a SignalsType for them (MessagePresence,
// MessageSignals). On the wire both stay bytes, the encoded message: the
// untyped join and signal of the connection see the same frames. The twin
// of the Go client's ssotws/client/presence_typed.go.

import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import type { DescMessage, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
import type { Connection } from "./conn.js";
import type { JoinOptions, Member, Presence, Signal, SignalOptions } from "./presence.js";

/**
 * TypedMember is one user present in a channel, with their payload
 * decoded. A payload that does not decode (sent to a gateway that does not
 * check it) is an empty message.
 */
export interface TypedMember<P> {
  /** user is the authenticated subject, or "anon:<id>" for an anonymous connection. */
  readonly user: string;
  readonly payload: P;
}

/** TypedSignal is a signal with its data decoded. */
export interface TypedSignal<S> {
  readonly channel: string;
  readonly user: string;
  readonly name: string;
  readonly data: S;
}

/** TypedJoinOptions configure {@link PresenceType.join}. */
export interface TypedJoinOptions<Desc extends DescMessage> extends Omit<JoinOptions, "payload" | "onMembers"> {
  /** payload is what the other members see of this user. */
  payload?: MessageInitShape<Desc>;
  /** onMembers is called with the members (sorted by user) after each change. */
  onMembers?(members: TypedMember<MessageShape<Desc>>[]): void;
}

/** TypedPresence is one typed join of a channel. */
export interface TypedPresence<Desc extends DescMessage> {
  readonly channel: string;
  /** members returns the users present, sorted by user. */
  members(): TypedMember<MessageShape<Desc>>[];
  /** setPayload changes what the other members see of this user. */
  setPayload(payload: MessageInitShape<Desc>): void;
  /** leave ends this join. */
  leave(): void;
  /** untyped is the join underneath. */
  readonly untyped: Presence;
}

/** PresenceType is the declared type of a model's presence payload. */
export interface PresenceType<Desc extends DescMessage> {
  readonly schema: Desc;
  /** encode is the payload as it travels. */
  encode(payload: MessageInitShape<Desc>): Uint8Array;
  /** members decodes the members of an untyped join. */
  members(members: readonly Member[]): TypedMember<MessageShape<Desc>>[];
  /** join enters the presence of channel on conn with a typed payload. */
  join(conn: Connection, channel: string, options?: TypedJoinOptions<Desc>): TypedPresence<Desc>;
}

/** SignalsType is the declared type of the signals of a model's channels. */
export interface SignalsType<Desc extends DescMessage> {
  readonly schema: Desc;
  /** name is the name typed signals are sent with: the message's short name ("Typing"). */
  readonly name: string;
  /** encode is the signal's data as it travels. */
  encode(value: MessageInitShape<Desc>): Uint8Array;
  /** send publishes a signal on channel; it rejects as Connection.signal does. */
  send(conn: Connection, channel: string, value: MessageInitShape<Desc>, options?: SignalOptions): Promise<void>;
  /** decode returns the signal with its data decoded, or undefined when it does not decode. */
  decode(signal: Signal): TypedSignal<MessageShape<Desc>> | undefined;
  /** handle adapts fn to JoinOptions.onSignal, dropping the signals that do not decode. */
  handle(fn: (signal: TypedSignal<MessageShape<Desc>>) => void): (signal: Signal) => void;
}

function decode<Desc extends DescMessage>(schema: Desc, bytes: Uint8Array): MessageShape<Desc> | undefined {
  try {
    return fromBinary(schema, bytes);
  } catch {
    return undefined;
  }
}

/** definePresence declares the type of a model's presence payload (generated code calls it). */
export function definePresence<Desc extends DescMessage>(schema: Desc): PresenceType<Desc> {
  const encode = (payload: MessageInitShape<Desc>) => toBinary(schema, create(schema, payload));
  const members = (ms: readonly Member[]) =>
    ms.map((m) => ({ user: m.user, payload: decode(schema, m.payload) ?? create(schema) }));
  return {
    schema,
    encode,
    members,
    join(conn, channel, options = {}) {
      const { payload, onMembers, ...rest } = options;
      const p = conn.join(channel, {
        ...rest,
        ...(payload !== undefined ? { payload: encode(payload) } : {}),
        ...(onMembers ? { onMembers: (m: Member[]) => onMembers(members(m)) } : {}),
      });
      return {
        channel,
        members: () => members(p.members()),
        setPayload: (value) => p.setPayload(encode(value)),
        leave: () => p.leave(),
        untyped: p,
      };
    },
  };
}

/** defineSignals declares the type of the signals of a model's channels (generated code calls it). */
export function defineSignals<Desc extends DescMessage>(schema: Desc): SignalsType<Desc> {
  const name = schema.name;
  const encode = (value: MessageInitShape<Desc>) => toBinary(schema, create(schema, value));
  const decodeSignal = (s: Signal) => {
    const data = decode(schema, s.data);
    return data === undefined ? undefined : { channel: s.channel, user: s.user, name: s.name, data };
  };
  return {
    schema,
    name,
    encode,
    send: (conn, channel, value, options) => conn.signal(channel, name, encode(value), options),
    decode: decodeSignal,
    handle: (fn) => (s) => {
      const t = decodeSignal(s);
      if (t) fn(t);
    },
  };
}
