// The DataClient contract shared by the HTTP, WebSocket and hybrid clients
// (docs/client-semantics.md), in TypeScript.

import type { Message } from "@bufbuild/protobuf";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { GenMessage } from "@bufbuild/protobuf/codegenv2";
import type { Change } from "./cache.js";
import type { Key } from "./model.js";

/** Fields are a model's fields, by protobuf-es local name. */
export type Fields<T extends Message> = Omit<T, "$typeName" | "$unknown">;

/** Init is what create and update accept: a partial model or a model. */
export type Init<T extends Message> = MessageInitShape<GenMessage<T>>;

/**
 * ListParams are the parameters of a List: equality filters on model
 * fields (by local name, "roomId"; a zero value means no filter, as in
 * proto3), a page size and a page token.
 */
export interface ListParams<T extends Message> {
  readonly filter?: Partial<Fields<T>>;
  /**
   * parent lists the children of one parent of an AIP resource (the List
   * request's parent field): "shelves/1" for the books of that shelf.
   */
  readonly parent?: string;
  readonly pageSize?: number;
  readonly pageToken?: string;
}

/** ListPage is one page of a List. */
export interface ListPage<T> {
  readonly items: T[];
  /** nextPageToken is empty on the last page. */
  readonly nextPageToken: string;
}

/** DataClient is the contract every client implements. */
export interface DataClient<T extends Message, K extends Key = Key> {
  list(params?: ListParams<T>): Promise<ListPage<T>>;
  /** get resolves to undefined when the record does not exist. */
  get(key: K): Promise<T | undefined>;
  create(data: Init<T>): Promise<T>;
  /** update writes data's fields named by paths (proto names), or the fields it populates. */
  update(key: K, data: Init<T>, paths?: readonly string[]): Promise<T>;
  /** delete resolves to false when the record was already gone. */
  delete(key: K): Promise<boolean>;
  /** subscribe listens to a channel; it returns the unsubscribe function. */
  subscribe?(channel: string, cb: (change: Change<T>) => void): () => void;
}
