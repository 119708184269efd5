package ssotws

import (
	"errors"
	"fmt"

	"buf.build/go/protovalidate"
	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"
)

// A record a write would store is checked against the buf.validate rules
// of its model (protovalidate) before anything is written: a Create's
// record once its key and owner are set, an Update's record as the mask
// leaves it (the stored record with the request's fields merged in), for
// the generated handlers, server writes ([Resource.CreateAs],
// [Resource.UpdateAs]) and custom methods ([Resource.Modify]) alike. The
// check runs after the access checks and the Policy and before the Before
// hooks, which may then derive fields without the rules' say.

// newValidator picks the validator of [ResourceOptions]: theirs, none, or
// protovalidate's global one.
func newValidator(opts *ResourceOptions) protovalidate.Validator {
	switch {
	case opts != nil && opts.NoValidation:
		return nil
	case opts != nil && opts.Validator != nil:
		return opts.Validator
	default:
		return protovalidate.GlobalValidator
	}
}

// validate checks m against its rules; see [ValidationError].
func (r *Resource[T]) validate(m proto.Message) error {
	if r.opts.validator == nil {
		return nil
	}
	err := ValidationError(r.opts.validator.Validate(m))
	if connect.CodeOf(err) == connect.CodeInternal {
		r.opts.logger.Error("ssotws: validating a record failed", "model", r.model.FullName(), "error", err)
	}
	return err
}

// ValidationError maps an error of protovalidate's Validate to the error
// a Connect handler returns: nil for nil; a *protovalidate.ValidationError
// to CodeInvalidArgument with the violations as a buf.validate.Violations
// error detail (the clients read them back as field errors); rules that
// cannot be compiled or evaluated (a CompilationError or RuntimeError: a
// mistake in the schema, not in the request) to CodeInternal. Custom
// methods that validate a request of their own return what it gives.
func ValidationError(err error) error {
	if err == nil {
		return nil
	}
	var ve *protovalidate.ValidationError
	if !errors.As(err, &ve) {
		return connect.NewError(connect.CodeInternal, fmt.Errorf("ssotws: validation rules failed: %w", err))
	}
	ce := connect.NewError(connect.CodeInvalidArgument, err)
	if d, derr := connect.NewErrorDetail(ve.ToProto()); derr == nil {
		ce.AddDetail(d)
	}
	return ce
}
