package client

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"syscall"

	"connectrpc.com/connect"
	"github.com/ssot-codegen/ssot-ws/ssotws/protocol"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// HTTP is a model's standard methods on its Connect service, as the
// generic clients call them. Generated code implements it once per model
// with a small type over the service's connect-go client
// (<Model>HTTP, built by New<Model>HTTP); each method builds the request
// with [NewRequest], which copies h, the headers the client adds (such as
// Idempotency-Key), and returns what the service answered.
//
// A type for a service that lacks some standard methods embeds
// [UnimplementedHTTP]: calling one of those fails with [ErrNoMethod]
// (connect.CodeUnimplemented).
type HTTP[T proto.Message] interface {
	// Get calls Get<M> and returns the record and the response headers.
	Get(ctx context.Context, key string, h http.Header) (T, http.Header, error)
	// List calls List<Ms> with p's filters ([SetFilters] sets them on the
	// request), page size and token, and returns the page's records, its
	// next page token and the response headers.
	List(ctx context.Context, p ListParams, h http.Header) (items []T, next string, _ http.Header, _ error)
	// Create calls Create<M>.
	Create(ctx context.Context, item T, h http.Header) (T, error)
	// Update calls Update<M> with update_mask set to paths.
	Update(ctx context.Context, item T, paths []string, h http.Header) (T, error)
	// Delete calls Delete<M>.
	Delete(ctx context.Context, key string, h http.Header) error
}

// UnimplementedHTTP implements every method of [HTTP] with a failure,
// [ErrNoMethod] with connect.CodeUnimplemented. Embed it in an [HTTP] of
// a service that lacks some standard methods, as connect-go's
// Unimplemented handlers are embedded.
type UnimplementedHTTP[T proto.Message] struct{}

var _ HTTP[proto.Message] = UnimplementedHTTP[proto.Message]{}

func noMethod(method string) error {
	return connect.NewError(connect.CodeUnimplemented, fmt.Errorf("%w: %s", ErrNoMethod, method))
}

// Get implements [HTTP]: it fails with [ErrNoMethod].
func (UnimplementedHTTP[T]) Get(context.Context, string, http.Header) (T, http.Header, error) {
	var zero T
	return zero, nil, noMethod("Get")
}

// List implements [HTTP]: it fails with [ErrNoMethod].
func (UnimplementedHTTP[T]) List(context.Context, ListParams, http.Header) ([]T, string, http.Header, error) {
	return nil, "", nil, noMethod("List")
}

// Create implements [HTTP]: it fails with [ErrNoMethod].
func (UnimplementedHTTP[T]) Create(context.Context, T, http.Header) (T, error) {
	var zero T
	return zero, noMethod("Create")
}

// Update implements [HTTP]: it fails with [ErrNoMethod].
func (UnimplementedHTTP[T]) Update(context.Context, T, []string, http.Header) (T, error) {
	var zero T
	return zero, noMethod("Update")
}

// Delete implements [HTTP]: it fails with [ErrNoMethod].
func (UnimplementedHTTP[T]) Delete(context.Context, string, http.Header) error {
	return noMethod("Delete")
}

// NewRequest wraps msg in a connect.Request carrying the headers h.
func NewRequest[Req any](msg *Req, h http.Header) *connect.Request[Req] {
	req := connect.NewRequest(msg)
	for k, vs := range h {
		for _, v := range vs {
			req.Header().Add(k, v)
		}
	}
	return req
}

// SetFilters sets, on a List request, the field named like each filter to
// the filter's value, parsed from its canonical text form. It fails with
// connect.CodeInvalidArgument for a field the request does not have or a
// value that does not parse.
func SetFilters(req proto.Message, filters map[string]string) error {
	m := req.ProtoReflect()
	fields := m.Descriptor().Fields()
	for name, text := range filters {
		fd := fields.ByName(protoreflect.Name(name))
		if fd == nil || fd.IsList() || fd.IsMap() {
			return connect.NewError(connect.CodeInvalidArgument,
				fmt.Errorf("ssotws/client: %s cannot filter on %q", m.Descriptor().FullName(), name))
		}
		v, err := protocol.ParseValue(fd, text)
		if err != nil {
			return connect.NewError(connect.CodeInvalidArgument,
				fmt.Errorf("ssotws/client: filter %s=%q: %w", name, text, err))
		}
		m.Set(fd, v)
	}
	return nil
}

// HTTPClient is the HTTP transport: a [DataClient] over the model's Connect
// service. Subscribe is a no-op. It is safe for concurrent use.
type HTTPClient[T proto.Message] struct {
	api  HTTP[T]
	opts options
}

var _ DataClient[proto.Message] = (*HTTPClient[proto.Message])(nil)

// NewHTTP returns the HTTP transport over api. opts may be nil.
func NewHTTP[T proto.Message](api HTTP[T], opts *Options) *HTTPClient[T] {
	return &HTTPClient[T]{api: api, opts: newOptions(opts)}
}

// List implements [DataClient].
func (c *HTTPClient[T]) List(ctx context.Context, p ListParams) (*ListPage[T], error) {
	items, next, _, err := c.api.List(ctx, p, nil)
	if err != nil {
		return nil, err
	}
	return &ListPage[T]{Items: items, NextPageToken: next}, nil
}

// Get implements [DataClient].
func (c *HTTPClient[T]) Get(ctx context.Context, key string) (T, error) {
	item, _, err := c.api.Get(ctx, key, nil)
	if err != nil {
		var zero T
		return zero, notFound(err)
	}
	return item, nil
}

// notFound makes a NotFound error also match ErrNotFound.
func notFound(err error) error {
	if connect.CodeOf(err) == connect.CodeNotFound && !errors.Is(err, ErrNotFound) {
		ce := connect.NewError(connect.CodeNotFound, fmt.Errorf("%w: %v", ErrNotFound, err))
		var orig *connect.Error
		if errors.As(err, &orig) {
			for k, vs := range orig.Meta() {
				ce.Meta()[k] = vs
			}
		}
		return ce
	}
	return err
}

// Create implements [DataClient].
func (c *HTTPClient[T]) Create(ctx context.Context, item T) (T, error) {
	out, _, err := c.create(ctx, item)
	return out, err
}

// Update implements [DataClient].
func (c *HTTPClient[T]) Update(ctx context.Context, item T, paths ...string) (T, error) {
	out, _, err := c.update(ctx, item, paths)
	return out, err
}

// Delete implements [DataClient].
func (c *HTTPClient[T]) Delete(ctx context.Context, key string) (bool, error) {
	ok, _, err := c.delete(ctx, key)
	return ok, err
}

// Subscribe implements [DataClient]: HTTP cannot subscribe, so it returns a
// no-op.
func (c *HTTPClient[T]) Subscribe(channel string, fn func(Change[T])) func() { return func() {} }

func (c *HTTPClient[T]) create(ctx context.Context, item T) (out T, reqID string, err error) {
	reqID, err = c.mutate(ctx, func(h http.Header) error {
		out, err = c.api.Create(ctx, item, h)
		return err
	})
	return out, reqID, err
}

func (c *HTTPClient[T]) update(ctx context.Context, item T, paths []string) (out T, reqID string, err error) {
	reqID, err = c.mutate(ctx, func(h http.Header) error {
		out, err = c.api.Update(ctx, item, paths, h)
		return err
	})
	return out, reqID, err
}

func (c *HTTPClient[T]) delete(ctx context.Context, key string) (ok bool, reqID string, err error) {
	reqID, err = c.mutate(ctx, func(h http.Header) error {
		return c.api.Delete(ctx, key, h)
	})
	if connect.CodeOf(err) == connect.CodeNotFound {
		return false, reqID, nil
	}
	return err == nil, reqID, err
}

// mutate runs call with a fresh Idempotency-Key and retries it, with the
// same key, after a transport error or Unavailable. A write refused for
// breaking its record's buf.validate rules fails with a *ValidationError.
func (c *HTTPClient[T]) mutate(ctx context.Context, call func(h http.Header) error) (string, error) {
	id := newRequestID()
	for attempt := 0; ; attempt++ {
		h := http.Header{}
		h.Set(protocol.HeaderIdempotencyKey, id)
		err := call(h)
		if err == nil || !retryable(ctx, err) || attempt+1 >= c.opts.attempts {
			return id, validationError(err)
		}
		if err := sleep(ctx, c.opts.backoff.Delay(attempt)); err != nil {
			return id, err
		}
	}
}

// retryable reports whether a failed mutation may be retried with the same
// Idempotency-Key: after Unavailable or a transport error, never after the
// caller's context ended.
func retryable(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	switch connect.CodeOf(err) {
	case connect.CodeUnavailable:
		return true
	case connect.CodeUnknown, connect.CodeInternal:
		// A connection cut mid-response surfaces as one of these.
		var ne net.Error
		return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
			errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
			errors.Is(err, syscall.ECONNREFUSED) || errors.As(err, &ne)
	}
	return false
}

// newRequestID returns a fresh random Idempotency-Key (128 bits, hex).
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
