package client

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"connectrpc.com/connect"
)

// ValidationError is a write the server refused because the record broke
// the buf.validate rules of its model: CodeInvalidArgument with a
// buf.validate.Violations detail. Every client's Create and Update (HTTP,
// and the hybrid client, whose writes go over HTTP) return it; reach it
// with errors.As. It unwraps to the *connect.Error, so connect.CodeOf
// still reads CodeInvalidArgument.
type ValidationError struct {
	// Violations are the rules the record broke, in the server's order.
	Violations []Violation
	err        *connect.Error
}

// Violation is one broken rule.
type Violation struct {
	// Field is the path of the field, as the rules name it ("text",
	// "address.city", "tags[2]"); empty for a rule of the whole message.
	Field string
	// RuleID is the rule's id: "string.max_bytes", or a CEL rule's own.
	RuleID string
	// Message says what is wrong, for a person.
	Message string
}

// Error returns the server's message.
func (e *ValidationError) Error() string { return e.err.Error() }

// Unwrap returns the *connect.Error.
func (e *ValidationError) Unwrap() error { return e.err }

// Fields returns the messages of the violations by field path ("" for the
// rules of the whole message), the shape a form shows next to its inputs.
func (e *ValidationError) Fields() map[string][]string {
	out := make(map[string][]string, len(e.Violations))
	for _, v := range e.Violations {
		out[v.Field] = append(out[v.Field], v.Message)
	}
	return out
}

// validationError returns err as a *ValidationError when it carries
// buf.validate.Violations, else err unchanged.
func validationError(err error) error {
	var ce *connect.Error
	if !errors.As(err, &ce) || ce.Code() != connect.CodeInvalidArgument {
		return err
	}
	for _, d := range ce.Details() {
		v, derr := d.Value()
		vs, ok := v.(*validate.Violations)
		if derr != nil || !ok {
			continue
		}
		out := &ValidationError{err: ce}
		for _, v := range vs.GetViolations() {
			out.Violations = append(out.Violations, Violation{Field: FieldPath(v.GetField()), RuleID: v.GetRuleId(), Message: v.GetMessage()})
		}
		return out
	}
	return err
}

// FieldPath writes a buf.validate.FieldPath as text: field names joined
// by dots, with a repeated field's index or a map's key in brackets
// ("lines[2].text", `labels["env"]`).
func FieldPath(p *validate.FieldPath) string {
	var b strings.Builder
	for i, e := range p.GetElements() {
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(e.GetFieldName())
		switch s := e.GetSubscript().(type) {
		case *validate.FieldPathElement_Index:
			fmt.Fprintf(&b, "[%d]", s.Index)
		case *validate.FieldPathElement_BoolKey:
			fmt.Fprintf(&b, "[%t]", s.BoolKey)
		case *validate.FieldPathElement_IntKey:
			fmt.Fprintf(&b, "[%d]", s.IntKey)
		case *validate.FieldPathElement_UintKey:
			fmt.Fprintf(&b, "[%d]", s.UintKey)
		case *validate.FieldPathElement_StringKey:
			b.WriteString("[" + strconv.Quote(s.StringKey) + "]")
		}
	}
	return b.String()
}
