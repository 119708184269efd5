package connectv2

import (
	"context"
	"errors"
	"net/http"

	connectv1 "connectrpc.com/connect"
	"connectrpc.com/connect/v2"
	"google.golang.org/protobuf/types/known/anypb"
)

// Unary makes one call of a v2-generated client method, call, for the
// adapters protoc-gen-ssot-ws writes under connect=v2 (the client.HTTP of
// each model): it sends the headers h with req and returns the response,
// its headers, and an error converted by [ClientError], which is what
// ssotws/client expects of the v1 clients it was built on. Request headers
// already set on a CallInfo of ctx (connect.NewClientContext) are sent
// too, under h's.
func Unary[Req, Res any](ctx context.Context, h http.Header, call func(context.Context, Req) (Res, error), req Req) (Res, http.Header, error) {
	outer, hasOuter := connect.CallInfoForClientContext(ctx)
	ctx, info := connect.NewClientContext(ctx)
	if hasOuter {
		for k, v := range outer.RequestHeader().All() {
			info.RequestHeader().SetValues(k, append([]string(nil), v...))
		}
	}
	for k, v := range h {
		info.RequestHeader().SetValues(k, append([]string(nil), v...))
	}
	res, err := call(ctx, req)
	if err != nil {
		var zero Res
		return zero, nil, clientError(err, info.ResponseHeader())
	}
	return res, toHTTP(info.ResponseHeader()), nil
}

// ClientError converts an error of a v2 client call into the *connect.Error
// (v1) ssotws/client reads codes from: same code, message and details, a
// wire error when the server sent it, and the v2 error as its cause. Other
// errors (and nil) are returned as they are.
func ClientError(err error) error {
	return clientError(err, nil)
}

func clientError(err error, meta *connect.Header) error {
	ce, ok := errors.AsType[*connect.Error](err)
	if !ok {
		return err
	}
	cause := &v2Cause{msg: ce.Message(), err: err}
	var out *connectv1.Error
	if ce.IsRemote() {
		out = connectv1.NewWireError(connectv1.Code(ce.Code()), cause)
	} else {
		out = connectv1.NewError(connectv1.Code(ce.Code()), cause)
	}
	for _, d := range ce.Details() {
		detailAny := &anypb.Any{TypeUrl: "type.googleapis.com/" + d.Type, Value: d.Value}
		if detail, derr := connectv1.NewErrorDetail(detailAny); derr == nil {
			out.AddDetail(detail)
		}
	}
	if meta != nil {
		for k, v := range meta.All() {
			out.Meta()[http.CanonicalHeaderKey(k)] = append([]string(nil), v...)
		}
	}
	return out
}

// v2Cause carries a v2 error's message as the v1 error's underlying error
// (v1's Message is its text) while errors.As still finds the v2 error.
type v2Cause struct {
	msg string
	err error
}

func (c *v2Cause) Error() string { return c.msg }
func (c *v2Cause) Unwrap() error { return c.err }

// InvalidArgument is the error a generated adapter returns for a key it
// cannot parse, before any call: err with connect's CodeInvalidArgument,
// as a *connect.Error (v1) like the errors [Unary] returns.
func InvalidArgument(err error) error {
	return connectv1.NewError(connectv1.CodeInvalidArgument, err)
}
