import { describe, expect, it } from "vitest";
import * as runtime from "../runtime/src/index.js";
import {
  CloseCode,
  authSubprotocolPrefix,
  formatPosition,
  headerChannel,
  headerIdempotencyKey,
  headerPosition,
  parsePosition,
  subprotocol,
} from "../runtime/src/protocol.js";

// The values are the Go package ssotws/protocol's; a change here is a
// protocol change.
describe("protocol vocabulary", () => {
  it("has the close codes of frame.proto", () => {
    expect(CloseCode.GOING_AWAY).toBe(1001);
    expect(CloseCode.BAD_FRAME).toBe(1008);
    expect(CloseCode.TOO_LARGE).toBe(1009);
    expect(CloseCode.UNAUTHENTICATED).toBe(4401);
    expect(CloseCode.FORBIDDEN).toBe(4403);
    expect(CloseCode.TOKEN_EXPIRED).toBe(4408);
    expect(CloseCode.TOO_SLOW).toBe(4429);
  });

  it("has the subprotocols and headers of the Go server", () => {
    expect(subprotocol).toBe("ssot.v1");
    expect(authSubprotocolPrefix).toBe("ssot.auth.");
    expect(headerIdempotencyKey).toBe("Idempotency-Key");
    expect(headerPosition).toBe("Ssot-Position");
    expect(headerChannel).toBe("Ssot-Channel");
  });

  it("round-trips a position's text form", () => {
    const p = parsePosition("3:18446744073709551615");
    expect(p && formatPosition(p)).toBe("3:18446744073709551615");
    expect(parsePosition("3:")).toBeUndefined();
  });

  // Whatever the public entry point exports as CloseCode and the
  // subprotocols must agree with the generated enum.
  it("agrees with what the runtime exports", () => {
    const wire = new Set(Object.values(CloseCode).filter((v) => typeof v === "number"));
    for (const v of Object.values(runtime.CloseCode)) {
      if (typeof v === "number") expect(wire).toContain(v);
    }
    expect(runtime.subprotocol).toBe(subprotocol);
    expect(runtime.authSubprotocolPrefix).toBe(authSubprotocolPrefix);
    expect(runtime.headerPosition).toBe(headerPosition);
  });
});
