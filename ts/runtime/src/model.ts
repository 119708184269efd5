// Model descriptors: what generated code declares per model, and the channel
// names the runtime derives from them.

import { ScalarType } from "@bufbuild/protobuf";
import type {
  DescField,
  DescMessage,
  DescMethod,
  DescService,
  Message,
} from "@bufbuild/protobuf";
import type { GenMessage } from "@bufbuild/protobuf/codegenv2";
import { hasParent, parentOf, parentScope } from "./resourcename.js";

/** KeyKind is the TypeScript type of a model's key field. */
export type KeyKind = "string" | "bigint" | "number";

/** Key is a record key: a string, or an integer of one of the key kinds. */
export type Key = string | bigint | number;

/** KeyOf maps a key kind to its TypeScript type. */
export type KeyOf<K extends KeyKind> = K extends "string"
  ? string
  : K extends "bigint"
    ? bigint
    : number;

/**
 * GetMethod binds a standard Get method (AIP-131). Field names are proto
 * names, as written in the .proto file.
 */
export interface GetMethod {
  /** method is the method's local name in the protobuf-es service ("getMessage"). */
  readonly method: string;
  /** keyField is the request field holding the key, "id" by default. */
  readonly keyField?: string;
  /** response names the field wrapping the model; absent when the response is the bare model. */
  readonly response?: string;
}

/** ListMethod binds a standard List method (AIP-132). */
export interface ListMethod {
  readonly method: string;
  /** itemsField is the response's repeated model field ("messages"). */
  readonly itemsField: string;
  /** nextPageTokenField defaults to "next_page_token". */
  readonly nextPageTokenField?: string;
  /** pageSizeField defaults to "page_size". */
  readonly pageSizeField?: string;
  /** pageTokenField defaults to "page_token". */
  readonly pageTokenField?: string;
}

/** CreateMethod binds a standard Create method (AIP-133). */
export interface CreateMethod {
  readonly method: string;
  /** modelField is the request field carrying the model ("message"). */
  readonly modelField: string;
  readonly response?: string;
}

/** UpdateMethod binds a standard Update method (AIP-134). */
export interface UpdateMethod {
  readonly method: string;
  readonly modelField: string;
  /** maskField is the google.protobuf.FieldMask field, "update_mask" by default. */
  readonly maskField?: string;
  readonly response?: string;
}

/** DeleteMethod binds a standard Delete method (AIP-135). */
export interface DeleteMethod {
  readonly method: string;
  readonly keyField?: string;
}

/** ModelMethods lists the standard methods a model's service offers. */
export interface ModelMethods {
  readonly get?: GetMethod;
  readonly list?: ListMethod;
  readonly create?: CreateMethod;
  readonly update?: UpdateMethod;
  readonly delete?: DeleteMethod;
}

/**
 * ModelDescriptor describes one model for the runtime. Generated code
 * declares one constant per model; field names are proto names ("room_id"),
 * method names are protobuf-es local names ("listMessages").
 */
export interface ModelDescriptor<T extends Message = Message, K extends Key = Key> {
  /** name is the model's message name, the base of its channel names. */
  readonly name: string;
  readonly schema: GenMessage<T>;
  readonly service: DescService;
  /** key is the key field's proto name. */
  readonly key: string;
  readonly keyKind: KeyKind;
  /** version is the proto name of the model's version field, when it has one. */
  readonly version?: string;
  /** scopes are the proto names of the fields that partition list channels. */
  readonly scopes: readonly string[];
  /**
   * patterns are the google.api.resource patterns of an AIP resource, whose
   * key is its name: a record's parent ({@link parentOf}) scopes Lists and
   * the channel "Book?parent=<parent>".
   */
  readonly patterns?: readonly string[];
  readonly methods: ModelMethods;
  /** realtime is true when the model's changes are published on channels. */
  readonly realtime: boolean;
  /** Phantom member carrying the key type; never set. */
  readonly __key?: K;
}

/** defineModel returns its argument typed; generated code may use it. */
export function defineModel<T extends Message, K extends Key>(
  d: ModelDescriptor<T, K>,
): ModelDescriptor<T, K> {
  return d;
}

// ---------------------------------------------------------------------------
// Channel names. They match Go's ssotws.ModelChannel, ItemChannel and
// ScopeChannel byte for byte: keys are escaped as url.PathEscape does,
// scope values as url.QueryEscape does (space becomes '+').

const hex = "0123456789ABCDEF";
const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

function isUnreserved(c: number): boolean {
  return (
    (c >= 0x61 && c <= 0x7a) || // a-z
    (c >= 0x41 && c <= 0x5a) || // A-Z
    (c >= 0x30 && c <= 0x39) || // 0-9
    c === 0x2d || // -
    c === 0x5f || // _
    c === 0x2e || // .
    c === 0x7e // ~
  );
}

// Go's path segment mode leaves these reserved characters alone.
const pathKeep = new Set([0x24, 0x26, 0x2b, 0x3a, 0x3d, 0x40]); // $ & + : = @

function escape(s: string, mode: "path" | "query"): string {
  let out = "";
  for (const b of encoder.encode(s)) {
    if (isUnreserved(b) || (mode === "path" && pathKeep.has(b))) {
      out += String.fromCharCode(b);
    } else if (mode === "query" && b === 0x20) {
      out += "+";
    } else {
      out += "%" + hex[b >> 4] + hex[b & 15];
    }
  }
  return out;
}

/** pathEscape escapes s as Go's url.PathEscape does. */
export function pathEscape(s: string): string {
  return escape(s, "path");
}

/** queryEscape escapes s as Go's url.QueryEscape does. */
export function queryEscape(s: string): string {
  return escape(s, "query");
}

function unescape(s: string, mode: "path" | "query"): string {
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x25) {
      const h = s.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(h)) {
        throw new Error(`ssotws: malformed escape in ${JSON.stringify(s)}`);
      }
      bytes.push(parseInt(h, 16));
      i += 2;
    } else if (c === 0x2b && mode === "query") {
      bytes.push(0x20);
    } else {
      bytes.push(...encoder.encode(s[i] ?? ""));
    }
  }
  return decoder.decode(new Uint8Array(bytes));
}

/** pathUnescape reverses {@link pathEscape}. */
export function pathUnescape(s: string): string {
  return unescape(s, "path");
}

/** queryUnescape reverses {@link queryEscape}. */
export function queryUnescape(s: string): string {
  return unescape(s, "query");
}

type Named = { readonly name: string };

/** modelChannel names the channel carrying every record of a model: "Message". */
export function modelChannel(model: Named | string): string {
  return typeof model === "string" ? model : model.name;
}

/** itemChannel names the channel of one record: "Message/<key>". */
export function itemChannel(model: Named | string, key: Key): string {
  return modelChannel(model) + "/" + pathEscape(formatScalar(key));
}

/** scopeChannel names the channel of one scope: "Message?room_id=<value>". */
export function scopeChannel(model: Named | string, field: string, value: unknown): string {
  return modelChannel(model) + "?" + field + "=" + queryEscape(formatScalar(value));
}

/** ChannelName is a parsed channel name. */
export type ChannelName =
  | { readonly kind: "model"; readonly model: string }
  | { readonly kind: "item"; readonly model: string; readonly key: string }
  | {
      readonly kind: "scope";
      readonly model: string;
      readonly field: string;
      readonly value: string;
    };

/**
 * parseChannel parses a channel name built by {@link modelChannel},
 * {@link itemChannel} or {@link scopeChannel}, as Go's ssotws.ParseChannel.
 */
export function parseChannel(name: string): ChannelName {
  const bad = () => new Error(`ssotws: malformed channel name ${JSON.stringify(name)}`);
  const i = name.search(/[/?]/);
  if (i < 0) {
    if (!validModelName(name)) throw bad();
    return { kind: "model", model: name };
  }
  const model = name.slice(0, i);
  const rest = name.slice(i + 1);
  if (!validModelName(model) || rest === "") throw bad();
  try {
    if (name[i] === "/") {
      const key = pathUnescape(rest);
      if (key === "") throw bad();
      return { kind: "item", model, key };
    }
    const eq = rest.indexOf("=");
    const field = eq < 0 ? "" : rest.slice(0, eq);
    const raw = rest.slice(eq + 1);
    if (field === "" || /[&=]/.test(raw)) throw bad();
    return { kind: "scope", model, field, value: queryUnescape(raw) };
  } catch {
    throw bad();
  }
}

function validModelName(s: string): boolean {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(s);
}

/**
 * formatScalar returns the canonical text form of a key or filter value, as
 * Go's ssotws.FormatKey: the string itself, an integer in decimal, a bool
 * as "true"/"false".
 */
export function formatScalar(v: unknown): string {
  switch (typeof v) {
    case "string":
      return v;
    case "bigint":
      return v.toString(10);
    case "number":
      return Number.isInteger(v) ? v.toFixed(0) : String(v);
    case "boolean":
      return v ? "true" : "false";
    default:
      return "";
  }
}

/** isZero reports a proto3 zero value, which means "no filter". */
export function isZero(v: unknown): boolean {
  return v === undefined || v === null || v === "" || v === 0 || v === 0n || v === false;
}

/** parseKey turns a key's canonical text form back into its TypeScript type. */
export function parseKey(kind: KeyKind, text: string): Key {
  switch (kind) {
    case "bigint":
      return BigInt(text);
    case "number":
      return Number(text);
    default:
      return text;
  }
}

// ---------------------------------------------------------------------------
// Field lookups by proto name.

/** fieldByName finds a field by proto name, or by local name. */
export function fieldByName(msg: DescMessage, name: string): DescField | undefined {
  return msg.fields.find((f) => f.name === name) ?? msg.field[name];
}

/** mustField is {@link fieldByName} that throws a descriptive error. */
export function mustField(msg: DescMessage, name: string): DescField {
  const f = fieldByName(msg, name);
  if (!f) {
    throw new Error(`ssotws: ${msg.typeName} has no field ${JSON.stringify(name)}`);
  }
  return f;
}

/** methodByName finds a method by local name ("getMessage") or proto name ("GetMessage"). */
export function methodByName(service: DescService, name: string): DescMethod | undefined {
  return service.method[name] ?? service.methods.find((m) => m.name === name);
}

/** getField reads a message field by local name, without the type system's help. */
export function getField(msg: object, localName: string): unknown {
  return (msg as Record<string, unknown>)[localName];
}

/** keyText returns the canonical text form of a record's key. */
export function keyText(model: ModelDescriptor, value: object): string {
  return formatScalar(getField(value, mustField(model.schema, model.key).localName));
}

/** versionOf returns a record's version, or 0n when the model has none. */
export function versionOf(model: ModelDescriptor, value: object): bigint {
  if (!model.version) return 0n;
  const v = getField(value, mustField(model.schema, model.version).localName);
  switch (typeof v) {
    case "bigint":
      return v;
    case "number":
      return BigInt(v);
    case "string":
      return v === "" ? 0n : BigInt(v);
    default:
      return 0n;
  }
}

/**
 * channelsOf returns whether a record belongs on a channel of its model:
 * the model channel holds every record, an item channel its own, a scope
 * channel the records whose scope field has the channel's value.
 */
export function belongsTo(model: ModelDescriptor, channel: ChannelName, value: object): boolean {
  switch (channel.kind) {
    case "model":
      return true;
    case "item":
      return keyText(model, value) === channel.key;
    case "scope": {
      if (channel.field === parentScope && hasParent(model)) {
        return parentOf(model, keyText(model, value)) === channel.value;
      }
      const f = fieldByName(model.schema, channel.field);
      return f !== undefined && formatScalar(getField(value, f.localName)) === channel.value;
    }
  }
}

/**
 * parseFieldText turns a value's canonical text form (a scope value of a
 * channel name) back into the field's TypeScript type.
 */
export function parseFieldText(field: DescField, text: string): unknown {
  if (field.fieldKind === "enum") return Number(text);
  if (field.fieldKind !== "scalar") return text;
  switch (field.scalar) {
    case ScalarType.STRING:
      return text;
    case ScalarType.BOOL:
      return text === "true";
    case ScalarType.INT64:
    case ScalarType.UINT64:
    case ScalarType.SINT64:
    case ScalarType.FIXED64:
    case ScalarType.SFIXED64:
      return field.longAsString ? text : BigInt(text);
    case ScalarType.BYTES:
      return encoder.encode(text);
    default:
      return Number(text);
  }
}
