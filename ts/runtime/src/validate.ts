// The "@ssot-ws/runtime/validate" entry: Validation with
// @bufbuild/protovalidate, an optional peer dependency that only this
// entry imports.

import type { DescMessage, Message } from "@bufbuild/protobuf";
import type { ConnectError } from "@connectrpc/connect";
import { createValidator, violationsToProto } from "@bufbuild/protovalidate";
import type { Validator, ValidatorOptions } from "@bufbuild/protovalidate";
import { ViolationsSchema } from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";
import type { FieldPath, Violations } from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";
import type { Validation, Violation } from "./validation.js";

export type { Validation, Violation } from "./validation.js";
export { ValidationError, fieldErrors } from "./validation.js";

/**
 * protovalidate returns the Validation of @bufbuild/protovalidate: the
 * same buf.validate rules the server enforces, checked in the client.
 * options go to createValidator (or pass a validator of your own).
 */
export function protovalidate(options?: ValidatorOptions | { readonly validator: Validator }): Validation {
  const validator = options && "validator" in options ? options.validator : createValidator(options);
  return {
    check(schema: DescMessage, message: Message): readonly Violation[] {
      const r = validator.validate(schema, message);
      if (r.kind === "valid") return [];
      // A rule that cannot be evaluated is the schema's fault: the server
      // reports it; the client lets the write go.
      if (r.kind === "error") return [];
      return fromProto(violationsToProto(r.error.violations)[0]);
    },
    violations(err: ConnectError): readonly Violation[] | undefined {
      const [found] = err.findDetails(ViolationsSchema);
      return found ? fromProto(found) : undefined;
    },
  };
}

function fromProto(vs: Violations): Violation[] {
  return vs.violations.map((v) => ({ field: fieldPath(v.field), ruleId: v.ruleId, message: v.message }));
}

/**
 * fieldPath writes a buf.validate.FieldPath as text, as the Go client's
 * client.FieldPath does: field names joined by dots, a list index or a
 * map key in brackets ("lines[2].text", `labels["env"]`).
 */
export function fieldPath(p: FieldPath | undefined): string {
  return (p?.elements ?? [])
    .map((e) => {
      const s = e.subscript;
      switch (s.case) {
        case "index":
        case "intKey":
        case "uintKey":
          return `${e.fieldName}[${s.value.toString()}]`;
        case "boolKey":
          return `${e.fieldName}[${String(s.value)}]`;
        case "stringKey":
          return `${e.fieldName}[${JSON.stringify(s.value)}]`;
        default:
          return e.fieldName;
      }
    })
    .join(".");
}
