// AIP resource names: the parent a name derives from its model's
// google.api.resource patterns, as Go's protocol.Model.ParentOf. A record's
// parent scopes Lists and is a channel of its own: "Book?parent=shelves%2F1".

import type { ModelDescriptor } from "./model.js";

/** parentScope is the scope a resource's parent gives its channel names. */
export const parentScope = "parent";

/**
 * parentOf returns the parent of the resource name `name`: "shelves/1" for
 * "shelves/1/books/2" under the pattern "shelves/{shelf}/books/{book}".
 * It is "" for a top-level resource, a model without patterns, or a name
 * that matches none of them.
 */
export function parentOf(model: Pick<ModelDescriptor, "patterns">, name: string): string {
  const segs = name.split("/");
  for (const pattern of model.patterns ?? []) {
    const ps = pattern.split("/");
    if (ps.length !== segs.length) continue;
    const matches = ps.every((p, i) => segs[i] !== "" && (isVariable(p) || p === segs[i]));
    if (matches) return segs.slice(0, -2).join("/");
  }
  return "";
}

/** hasParent says whether a model's records have a parent scope. */
export function hasParent(model: Pick<ModelDescriptor, "patterns" | "schema">): boolean {
  return (model.patterns ?? []).some((p) => p.split("/").length > 2) &&
    !model.schema.fields.some((f) => f.name === parentScope);
}

function isVariable(seg: string): boolean {
  return seg.length > 1 && seg.startsWith("{") && seg.endsWith("}");
}
