// The vocabulary the ssot-ws server and its clients agree on, as the Go
// package ssotws/protocol has it: close codes, subprotocols, the HTTP
// headers ssot-ws adds to Connect and the text form of a channel position.
// The close codes are the CloseCode enum generated from frame.proto, not
// numbers restated here. Channel names are in model.ts.

import { create } from "@bufbuild/protobuf";
import { PositionSchema } from "../gen/ssot/ws/v1/frame_pb.js";
import type { Position } from "../gen/ssot/ws/v1/frame_pb.js";

/**
 * CloseCode lists the status codes of the gateway's close frames
 * (CloseCode.TOO_SLOW is 4429…), generated from frame.proto.
 */
export { CloseCode } from "../gen/ssot/ws/v1/frame_pb.js";

/** The subprotocol the gateway selects, and the prefix of the token one. */
export const subprotocol = "ssot.v1";
export const authSubprotocolPrefix = "ssot.auth.";

/** Header names ssot-ws adds to Connect's (Go: protocol.HeaderIdempotencyKey…). */
export const headerIdempotencyKey = "Idempotency-Key";
export const headerPosition = "Ssot-Position";
export const headerChannel = "Ssot-Channel";

/** parsePosition parses "<epoch>:<offset>"; undefined when malformed. */
export function parsePosition(s: string | null | undefined): Position | undefined {
  const m = /^(\d+):(\d+)$/.exec(s ?? "");
  if (!m) return undefined;
  return create(PositionSchema, { epoch: BigInt(m[1] ?? "0"), offset: BigInt(m[2] ?? "0") });
}

/** formatPosition formats a position as "<epoch>:<offset>". */
export function formatPosition(p: Position): string {
  return `${p.epoch}:${p.offset}`;
}
