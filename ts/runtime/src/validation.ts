// Validation: the buf.validate rules of a model, checked before a write is
// sent and read back from the server's refusal. This file has no
// dependency beyond connect-es: the rule engine (@bufbuild/protovalidate)
// comes in through the "./validate" entry, which implements Validation.

import type { DescMessage, Message } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";

/** Violation is one broken rule (Go: client.Violation). */
export interface Violation {
  /** field is the field's path ("text", "lines[2].text"); "" for a rule of the whole message. */
  readonly field: string;
  /** ruleId is the rule's id: "string.max_bytes", or a CEL rule's own. */
  readonly ruleId: string;
  /** message says what is wrong, for a person. */
  readonly message: string;
}

/**
 * Validation is what a client needs to enforce a model's rules; the
 * "@ssot-ws/runtime/validate" entry's `protovalidate()` makes one with
 * @bufbuild/protovalidate. Give it to createHttpClient or
 * createHybridClient (`validation`), or to SsotProvider for the hooks.
 */
export interface Validation {
  /** check returns the violations of message, none when it is valid. */
  check(schema: DescMessage, message: Message): readonly Violation[];
  /** violations reads the buf.validate.Violations detail of a refusal, undefined when it has none. */
  violations(err: ConnectError): readonly Violation[] | undefined;
}

/**
 * ValidationError is a write that broke its record's rules: found by the
 * client before sending (`local`), or refused by the server with
 * InvalidArgument and a buf.validate.Violations detail (Go:
 * *client.ValidationError). It is a ConnectError with code
 * InvalidArgument, so code that reads the code keeps working.
 */
export class ValidationError extends ConnectError {
  override name = "ValidationError";
  // ConnectError's instanceof accepts any ConnectError (it checks the
  // name, to work across copies of connect-es); this one is stricter.
  static override [Symbol.hasInstance](v: unknown): boolean {
    return Function.prototype[Symbol.hasInstance].call(this, v) as boolean;
  }
  readonly violations: readonly Violation[];
  /** local is true when the client found the violations and sent nothing. */
  readonly local: boolean;

  constructor(violations: readonly Violation[], local: boolean, cause?: ConnectError) {
    super(
      cause?.rawMessage ?? violations.map((v) => (v.field ? `${v.field}: ${v.message}` : v.message)).join("; "),
      Code.InvalidArgument,
      cause?.metadata,
      undefined,
      cause,
    );
    this.violations = violations;
    this.local = local;
  }

  /** fieldErrors returns the violations' messages by field path ("" for the whole message). */
  fieldErrors(): Record<string, string[]> {
    return fieldErrors(this.violations);
  }
}

/** fieldErrors groups violations' messages by field path. */
export function fieldErrors(violations: readonly Violation[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const v of violations) (out[v.field] ??= []).push(v.message);
  return out;
}

/** CheckScope says which fields' violations a pre-send check counts. */
export interface CheckScope {
  /** only counts these top-level fields (an update's): the server has the rest. */
  readonly only?: readonly string[] | undefined;
  /** except ignores these top-level fields (a create's key and version, which the server fills). */
  readonly except?: readonly string[] | undefined;
}

/**
 * checkWrite checks message before it is sent, and throws a local
 * ValidationError when the fields in scope break their rules. An update
 * counts only the fields it changes, because the server judges the
 * record as the update leaves it, which the client does not hold; a
 * create ignores the fields the server fills.
 */
export function checkWrite(validation: Validation | undefined, schema: DescMessage, message: Message, scope: CheckScope = {}): void {
  if (!validation) return;
  const only = scope.only && new Set(scope.only.map(topField));
  const except = new Set((scope.except ?? []).map(topField));
  const found = validation.check(schema, message).filter((v) => {
    const f = topField(v.field);
    return !except.has(f) && (!only || only.has(f));
  });
  if (found.length > 0) throw new ValidationError(found, true);
}

/** topField is the top-level field of a path: "lines" of "lines[2].text". */
function topField(path: string): string {
  return path.split(/[.[]/)[0] ?? "";
}

/** asValidationError returns err as a ValidationError when it carries violations, else err. */
export function asValidationError(validation: Validation | undefined, err: unknown): unknown {
  if (!validation || !(err instanceof ConnectError) || err.code !== Code.InvalidArgument) return err;
  if (err instanceof ValidationError) return err;
  const found = validation.violations(err);
  return found ? new ValidationError(found, false, err) : err;
}
