// The HTTP DataClient: a model's standard methods over Connect.

import { clone, create, isFieldSet } from "@bufbuild/protobuf";
import type { DescMessage, DescMethod, Message } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import type { CallOptions, Transport } from "@connectrpc/connect";
import type { Position } from "../gen/ssot/ws/v1/frame_pb.js";
import type { DataClient, Init, ListPage, ListParams } from "./client.js";
import {
  fieldByName,
  getField,
  isZero,
  methodByName,
  mustField,
  parseKey,
} from "./model.js";
import type { Key, ModelDescriptor } from "./model.js";
import { resolveOptions } from "./options.js";
import type { HttpClientOptions } from "./options.js";
import { headerChannel, headerIdempotencyKey, headerPosition, parsePosition } from "./protocol.js";
import { asValidationError, checkWrite } from "./validation.js";
import { parentScope } from "./resourcename.js";

// The protocol's names, re-exported where they were first defined.
export { formatPosition, headerChannel, headerIdempotencyKey, headerPosition, parsePosition } from "./protocol.js";

/** Fetched is a read's result with the channel position its response carried. */
export interface Fetched<V> {
  readonly value: V;
  /** position is the Ssot-Position header, when the server sent one. */
  readonly position: Position | undefined;
  /** channel is the Ssot-Channel header: the channel position belongs to. */
  readonly channel: string | undefined;
}

/** CallOpts are per-call options of the HTTP client. */
export interface CallOpts {
  /** requestId is the mutation's Idempotency-Key; a fresh one by default. */
  readonly requestId?: string;
  readonly signal?: AbortSignal;
}

export type { HttpClientOptions, RetryOptions } from "./options.js";

/** HttpClient is the HTTP DataClient, with the position-aware reads hydration needs. */
export interface HttpClient<T extends Message, K extends Key = Key> extends DataClient<T, K> {
  readonly model: ModelDescriptor<T, K>;
  listPage(params?: ListParams<T>, opts?: CallOpts): Promise<Fetched<ListPage<T>>>;
  getWithPosition(key: K | string, opts?: CallOpts): Promise<Fetched<T | undefined>>;
  create(data: Init<T>, opts?: CallOpts): Promise<T>;
  update(key: K, data: Init<T>, paths?: readonly string[], opts?: CallOpts): Promise<T>;
  delete(key: K, opts?: CallOpts): Promise<boolean>;
}

/** newRequestId returns a fresh random request id (a UUID). */
export function newRequestId(): string {
  const c = globalThis.crypto;
  if (typeof c?.randomUUID === "function") return c.randomUUID();
  // randomUUID exists only in secure contexts; getRandomValues everywhere.
  const b = new Uint8Array(16);
  c.getRandomValues(b);
  b[6] = ((b[6] ?? 0) & 0x0f) | 0x40;
  b[8] = ((b[8] ?? 0) & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/**
 * isRetryable reports whether a failed call may be retried with the same
 * request id: Unavailable, or a network failure (fetch rejects with a
 * TypeError, which connect-es reports as Unknown).
 */
export function isRetryable(err: unknown): boolean {
  if (!(err instanceof ConnectError)) return err instanceof TypeError;
  if (err.code === Code.Unavailable) return true;
  return err.code === Code.Unknown && err.cause instanceof TypeError;
}

type AnyCall = (req: object, opts?: CallOptions) => Promise<Message>;

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(t);
      reject(ConnectError.from(signal.reason, Code.Canceled));
    });
  });
}

function isNotFound(err: unknown): boolean {
  return err instanceof ConnectError && err.code === Code.NotFound;
}

/**
 * createHttpClient returns the HTTP DataClient of a model: it calls the
 * model's standard methods by name on connect-es's generic client.
 */
export function createHttpClient<T extends Message, K extends Key>(
  model: ModelDescriptor<T, K>,
  transport: Transport,
  options: HttpClientOptions = {},
): HttpClient<T, K> {
  const rpc = createClient(model.service, transport) as unknown as Record<string, AnyCall>;
  const { attempts, delayMs } = resolveOptions(options);
  const makeId = options.newRequestId ?? newRequestId;
  const validation = options.validation;
  const keyField = mustField(model.schema, model.key);

  function bind(kind: keyof ModelDescriptor["methods"]): { call: AnyCall; desc: DescMethod } {
    const spec = model.methods[kind];
    if (!spec) {
      throw new ConnectError(`${model.name} has no ${kind} method`, Code.Unimplemented);
    }
    const desc = methodByName(model.service, spec.method);
    const call = desc && rpc[desc.localName];
    if (!desc || !call) {
      throw new Error(`ssotws: ${model.service.typeName} has no method ${JSON.stringify(spec.method)}`);
    }
    return { call, desc };
  }

  function unwrap(res: Message, field: string | undefined, out: DescMessage): T {
    if (!field) return res as T;
    const v = getField(res, mustField(out, field).localName);
    return (v ?? create(model.schema)) as T;
  }

  function keyValue(key: K | string): Key {
    return typeof key === "string" && model.keyKind !== "string" ? parseKey(model.keyKind, key) : key;
  }

  async function mutate(call: AnyCall, req: object, opts: CallOpts | undefined): Promise<Message> {
    const requestId = opts?.requestId ?? makeId();
    for (let i = 0; ; i++) {
      try {
        const callOpts: CallOptions = { headers: { [headerIdempotencyKey]: requestId } };
        if (opts?.signal) callOpts.signal = opts.signal;
        return await call(req, callOpts);
      } catch (err) {
        if (i + 1 >= attempts || !isRetryable(err) || opts?.signal?.aborted) throw asValidationError(validation, err);
        await sleep(delayMs * 2 ** i, opts?.signal);
      }
    }
  }

  async function read(call: AnyCall, req: object, opts: CallOpts | undefined) {
    let header: Headers | undefined;
    const callOpts: CallOptions = { onHeader: (h) => (header = h) };
    if (opts?.signal) callOpts.signal = opts.signal;
    const res = await call(req, callOpts);
    return {
      res,
      position: parsePosition(header?.get(headerPosition)),
      channel: header?.get(headerChannel) ?? undefined,
    };
  }

  const client: HttpClient<T, K> = {
    model,

    async listPage(params = {}, opts) {
      const { call, desc } = bind("list");
      const spec = model.methods.list!;
      const req: Record<string, unknown> = {};
      for (const [name, value] of Object.entries(params.filter ?? {})) {
        if (isZero(value)) continue;
        const mf = fieldByName(model.schema, name);
        const rf = mf && fieldByName(desc.input, mf.name);
        if (!rf) {
          throw new ConnectError(
            `${desc.input.typeName} has no filter field ${JSON.stringify(name)}`,
            Code.InvalidArgument,
          );
        }
        req[rf.localName] = value;
      }
      if (params.parent) {
        req[mustField(desc.input, parentScope).localName] = params.parent;
      }
      if (params.pageSize) {
        req[mustField(desc.input, spec.pageSizeField ?? "page_size").localName] = params.pageSize;
      }
      if (params.pageToken) {
        req[mustField(desc.input, spec.pageTokenField ?? "page_token").localName] = params.pageToken;
      }
      const { res, position, channel } = await read(call, create(desc.input, req), opts);
      const items = getField(res, mustField(desc.output, spec.itemsField).localName) as T[];
      const next = fieldByName(desc.output, spec.nextPageTokenField ?? "next_page_token");
      const nextPageToken = next ? String(getField(res, next.localName) ?? "") : "";
      return { value: { items, nextPageToken }, position, channel };
    },

    async list(params) {
      return (await client.listPage(params)).value;
    },

    async getWithPosition(key, opts) {
      const { call, desc } = bind("get");
      const spec = model.methods.get!;
      const req = { [mustField(desc.input, spec.keyField ?? model.key).localName]: keyValue(key) };
      try {
        const { res, position, channel } = await read(call, create(desc.input, req), opts);
        return { value: unwrap(res, spec.response, desc.output), position, channel };
      } catch (err) {
        if (isNotFound(err)) {
          const e = err as ConnectError;
          return {
            value: undefined,
            position: parsePosition(e.metadata.get(headerPosition)),
            channel: e.metadata.get(headerChannel) ?? undefined,
          };
        }
        throw err;
      }
    },

    async get(key) {
      return (await client.getWithPosition(key)).value;
    },

    async create(data, opts) {
      const { call, desc } = bind("create");
      const spec = model.methods.create!;
      const msg = create(model.schema, data);
      // The server fills the key when the record has none, and the version.
      const fills = [isFieldSet(msg, keyField) ? undefined : keyField.name, model.version];
      checkWrite(validation, model.schema, msg, { except: fills.filter((f) => f !== undefined) });
      const req = { [mustField(desc.input, spec.modelField).localName]: msg };
      return unwrap(await mutate(call, create(desc.input, req), opts), spec.response, desc.output);
    },

    async update(key, data, paths, opts) {
      const { call, desc } = bind("update");
      const spec = model.methods.update!;
      const msg = clone(model.schema, create(model.schema, data));
      (msg as Record<string, unknown>)[keyField.localName] = keyValue(key);
      const changed = paths && paths.length > 0 ? paths : model.schema.fields.filter((f) => isFieldSet(msg, f)).map((f) => f.name);
      checkWrite(validation, model.schema, msg, { only: changed.includes("*") ? undefined : changed, except: [keyField.name] });
      const req: Record<string, unknown> = { [mustField(desc.input, spec.modelField).localName]: msg };
      if (paths && paths.length > 0) {
        req[mustField(desc.input, spec.maskField ?? "update_mask").localName] = { paths: [...paths] };
      }
      return unwrap(await mutate(call, create(desc.input, req), opts), spec.response, desc.output);
    },

    async delete(key, opts) {
      const { call, desc } = bind("delete");
      const spec = model.methods.delete!;
      const req = { [mustField(desc.input, spec.keyField ?? model.key).localName]: keyValue(key) };
      try {
        await mutate(call, create(desc.input, req), opts);
        return true;
      } catch (err) {
        if (isNotFound(err)) return false;
        throw err;
      }
    },
  };
  return client;
}
