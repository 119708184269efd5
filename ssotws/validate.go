package ssotws

import (
	"context"
	"errors"
	"fmt"

	"buf.build/go/protovalidate"
	"connectrpc.com/connect"
	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
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

// NewValidateInterceptor returns a Connect interceptor that checks every
// unary request message against its buf.validate rules before the
// handler runs, and refuses a violation as [ValidationError] does. v nil
// means protovalidate.GlobalValidator. Add it after the authentication
// interceptor, so that only authenticated calls learn what is wrong:
//
//	mux.Handle(chatv1ssotws.NewChatServiceHandler(svc, connect.WithInterceptors(
//		ssotws.NewAuthInterceptor(auth, nil), ssotws.NewValidateInterceptor(nil))))
//
// A field that holds a model (a message with the ssot.ws.v1.model option,
// such as CreateMessageRequest.message) is left to the [Resource], which
// checks the record as it will be stored: an Update's message holds only
// the fields its mask changes, and the rest of the record would fail
// rules it does not break. The request's other fields (page_size,
// update_mask, a custom method's own) are checked here.
func NewValidateInterceptor(v protovalidate.Validator) connect.Interceptor {
	if v == nil {
		v = protovalidate.GlobalValidator
	}
	skipModels := protovalidate.WithFilter(protovalidate.FilterFunc(func(_ protoreflect.Message, d protoreflect.Descriptor) bool {
		fd, ok := d.(protoreflect.FieldDescriptor)
		return !ok || fd.Message() == nil || !proto.HasExtension(fd.Message().Options(), wsv1.E_Model)
	}))
	return connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			if msg, ok := req.Any().(proto.Message); ok {
				if err := ValidationError(v.Validate(msg, skipModels)); err != nil {
					return nil, err
				}
			}
			return next(ctx, req)
		}
	})
}
