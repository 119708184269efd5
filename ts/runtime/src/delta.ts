// Field-level deltas, the client's side (docs/client-semantics.md,
// "Deltas"). An UPDATED event with a delta mask carries only the top-level
// fields the mask names and applies to the record at its base version: the
// cache (cache.ts) merges it onto the record it holds when that is the base
// version, and otherwise asks its channel (channel.ts) to read the record
// over HTTP. The twin of ssotws/client/delta.go.

import { clone } from "@bufbuild/protobuf";
import { reflect } from "@bufbuild/protobuf/reflect";
import type { DescField, DescMessage, Message } from "@bufbuild/protobuf";

/**
 * mergeDelta returns a copy of base with each top-level field that paths
 * names (by its proto name) replaced by partial's, cleared when partial
 * lacks it. Undefined when a path names no field of the schema.
 */
export function mergeDelta<T extends Message>(schema: DescMessage, base: T, partial: T, paths: readonly string[]): T | undefined {
  const fields: DescField[] = [];
  for (const p of paths) {
    const f = schema.fields.find((x) => x.name === p);
    if (!f) return undefined;
    fields.push(f);
  }
  const out = clone(schema, base) as T;
  const o = reflect(schema, out);
  const q = reflect(schema, partial);
  // Clear first, then set: a oneof that switched members names both.
  for (const f of fields) o.clear(f);
  for (const f of fields) if (q.isSet(f)) o.set(f, q.get(f));
  return out;
}
