// Which connect-query calls the live mode answers from a channel, and how
// (query.ts): a request rebuilt from its query key, the channel a Get or
// List maps onto, and the response built from that channel's cache.

import { create } from "@bufbuild/protobuf";
import type { DescMessage, DescMethod, DescMethodUnary, Message, MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { UnaryResponse } from "@connectrpc/connect";
import type { ListParams } from "./client.js";
import type { HybridClient } from "./hybrid.js";
import { fieldByName, getField, isZero, itemChannel, mustField } from "./model.js";
import type { Key, ModelDescriptor } from "./model.js";
import { hasParent, parentScope } from "./resourcename.js";

export type AnyModel = ModelDescriptor<Message, Key>;
export type AnyHybrid = HybridClient<Message, Key>;

/** Role is what a method of a realtime model is to the live mode. */
export interface Role {
  readonly model: AnyModel;
  readonly hybrid: AnyHybrid;
  readonly kind: "get" | "list" | "create" | "update" | "delete";
  readonly method: DescMethod;
}

/** Read is a Get or List request the live mode can answer from a channel. */
export interface Read {
  readonly role: Role;
  readonly channel: string;
  /** params of a List. */
  readonly params?: ListParams<Message>;
  /** key of a Get. */
  readonly key?: Key;
}

export function roleId(serviceTypeName: string, methodName: string): string {
  return `${serviceTypeName}/${methodName}`;
}

export const int64 = new Set([3, 4, 6, 16, 18]); // ScalarType INT64, UINT64, FIXED64, SFIXED64, SINT64

/**
 * inputFromKey rebuilds a request from the input part of a connect-query
 * key (createMessageKey: local names, 64-bit integers as strings). Only
 * scalar and enum fields: a request with others is not live.
 */
export function inputFromKey(desc: DescMessage, key: unknown): Message | undefined {
  if (key === undefined) return create(desc);
  if (typeof key !== "object" || key === null) return undefined; // "skipped"
  const init: Record<string, unknown> = {};
  for (const [name, v] of Object.entries(key)) {
    const f = desc.field[name];
    if (!f) return undefined;
    if (f.fieldKind === "enum") init[name] = v;
    else if (f.fieldKind === "scalar") init[name] = int64.has(f.scalar) && typeof v === "string" && !f.longAsString ? BigInt(v) : v;
    else return undefined;
  }
  return create(desc, init as MessageInitShape<DescMessage>);
}

/**
 * readOf says which channel answers a Get or List request, if any: a List
 * without a page token whose only set fields are the page size and at most
 * one filter on a declared scope field (or none: the model channel); a Get
 * by key (its item channel).
 */
export function readOf(role: Role, input: Message): Read | undefined {
  const { model, hybrid, method } = role;
  if (role.kind === "get") {
    const spec = model.methods.get!;
    const f = mustField(method.input, spec.keyField ?? model.key);
    const key = getField(input, f.localName) as Key;
    if (isZero(key)) return undefined;
    for (const g of method.input.fields) if (g !== f && !isZero(getField(input, g.localName))) return undefined;
    return { role, channel: itemChannel(model, key), key };
  }
  if (role.kind !== "list") return undefined;
  const spec = model.methods.list!;
  const sizeField = fieldByName(method.input, spec.pageSizeField ?? "page_size");
  const tokenField = fieldByName(method.input, spec.pageTokenField ?? "page_token");
  if (tokenField && !isZero(getField(input, tokenField.localName))) return undefined;
  const filter: Record<string, unknown> = {};
  let parent: string | undefined;
  for (const f of method.input.fields) {
    if (f === sizeField || f === tokenField) continue;
    const v = getField(input, f.localName);
    if (isZero(v) || (Array.isArray(v) && v.length === 0)) continue;
    if (f.name === parentScope && typeof v === "string" && hasParent(model)) {
      parent = v;
      continue;
    }
    const mf = fieldByName(model.schema, f.name);
    if (!mf || f.fieldKind !== "scalar" || !model.scopes.includes(mf.name)) return undefined;
    filter[mf.localName] = v;
  }
  const params: { filter: Record<string, unknown>; parent?: string; pageSize?: number } = { filter };
  if (parent !== undefined) params.parent = parent;
  const size = sizeField ? Number(getField(input, sizeField.localName) ?? 0) : 0;
  if (size > 0) params.pageSize = size;
  const channel = hybrid.channelFor(params as ListParams<Message>);
  return channel === undefined ? undefined : { role, channel, params: params as ListParams<Message> };
}

/** answer returns a read's response from its live channel, or undefined when the channel cannot answer it. */
export function answer(read: Read): Message | undefined {
  const { model, hybrid, method } = read.role;
  if (read.role.kind === "list") {
    const page = hybrid.peekList(read.params);
    if (!page) return undefined;
    const spec = model.methods.list!;
    return create(method.output, { [mustField(method.output, spec.itemsField).localName]: page.items } as MessageInitShape<DescMessage>);
  }
  const hit = hybrid.peekGet(read.key!);
  if (!hit) return undefined;
  if (hit.value === undefined) throw new ConnectError(`${model.name} ${String(read.key)} not found`, Code.NotFound);
  return wrap(model.methods.get!.response, method.output, hit.value);
}

export function wrap(field: string | undefined, output: DescMessage, value: Message): Message {
  return field ? create(output, { [mustField(output, field).localName]: value } as MessageInitShape<DescMessage>) : value;
}

export function unaryResponse(method: DescMethod, message: Message): UnaryResponse {
  return {
    stream: false,
    service: method.parent,
    method: method as DescMethodUnary,
    header: new Headers(),
    message,
    trailer: new Headers(),
  } as UnaryResponse;
}
