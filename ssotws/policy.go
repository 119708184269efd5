package ssotws

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"

	"connectrpc.com/connect"
	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Via names the path a read comes by. A [Policy] should decide the same
// whatever the path (that is its point); Via is there for logs, and for
// the adapters of the older hooks, which only ever saw some paths.
type Via int

// The read paths.
const (
	// ViaGet is an HTTP Get (channel: the item channel).
	ViaGet Via = iota + 1
	// ViaList is an HTTP List (channel: the scope channel when the List
	// filters on a scope field, else the model channel).
	ViaList
	// ViaSubscribe is a WebSocket Subscribe, and its recheck when the
	// connection's identity changes.
	ViaSubscribe
	// ViaEvent is one change event about to be written to a subscriber
	// (its replay included).
	ViaEvent
	// ViaWrite is the record a Create, Update or Delete answers its caller.
	ViaWrite
)

var viaNames = [...]string{ViaGet: "Get", ViaList: "List", ViaSubscribe: "Subscribe", ViaEvent: "Event", ViaWrite: "Write"}

// String returns the path's name.
func (v Via) String() string {
	if v > 0 && int(v) < len(viaNames) {
		return viaNames[v]
	}
	return fmt.Sprintf("Via(%d)", int(v))
}

// ChannelRequest asks whether a caller may read a channel. The same
// question is asked for a WebSocket Subscribe of the channel and for the
// HTTP read that maps onto it, so that a channel refused on one path is
// refused on the other.
type ChannelRequest struct {
	Via      Via
	Identity *Identity // nil for an anonymous caller
	Model    *Model
	Channel  ChannelName
	// Filters are a List's equality filters, the owner filter included
	// (ViaList only).
	Filters []Filter
}

// RecordRequest asks whether a caller may see one record: a Get's record,
// each record of a List page, each change event delivered on a
// subscription, the record a mutation returns.
type RecordRequest struct {
	Via      Via
	Identity *Identity // nil for an anonymous caller
	Model    *Model
	Key      string
	// Record is the record as stored, or as the event carries it (for a
	// deleted record, its last state). It must not be modified.
	Record protoreflect.Message
	// Event is the change event (ViaEvent only); it must not be modified.
	Event *wsv1.Event
}

// Policy is the one authorization policy of an application: every read
// path (HTTP Get and List, WebSocket Subscribe, each event delivered) and
// every write asks it. It narrows the model's declarative read and write
// access (PUBLIC, AUTHENTICATED, OWNER), which is checked first and is
// not a Policy's to widen.
//
// Give the same Policy to [ResourceOptions].Policy (for HTTP, usually
// through the generated New<Service> constructor) and to
// [GatewayOptions].Policy (for WebSocket): then what a user may not
// subscribe to, they may not List either. [PolicyFuncs] builds one from
// functions; [Policies] combines several.
//
// An error refuses: a *connect.Error is returned as it is over HTTP, one
// wrapping [ErrUnauthenticated] is CodeUnauthenticated (ERROR_CODE_UNAUTHENTICATED
// on the socket), any other CodePermissionDenied (ERROR_CODE_FORBIDDEN). A
// record refused is left out of a List page and dropped from a
// subscription. A panic is recovered, logged, and refuses. The methods are
// called concurrently and must be safe for concurrent use; ReadRecord runs
// on a connection's write loop for each event, so keep it fast.
type Policy interface {
	ReadChannel(ctx context.Context, req *ChannelRequest) error
	ReadRecord(ctx context.Context, req *RecordRequest) error
	// Write decides a Create, Update or Delete (req.Op).
	Write(ctx context.Context, req *AccessRequest) error
}

// PolicyFuncs is a [Policy] made of functions; a nil function allows.
type PolicyFuncs struct {
	Channel func(ctx context.Context, req *ChannelRequest) error
	Record  func(ctx context.Context, req *RecordRequest) error
	Mutate  func(ctx context.Context, req *AccessRequest) error
}

var _ Policy = PolicyFuncs{}

// ReadChannel calls p.Channel.
func (p PolicyFuncs) ReadChannel(ctx context.Context, req *ChannelRequest) error {
	if p.Channel == nil {
		return nil
	}
	return p.Channel(ctx, req)
}

// ReadRecord calls p.Record.
func (p PolicyFuncs) ReadRecord(ctx context.Context, req *RecordRequest) error {
	if p.Record == nil {
		return nil
	}
	return p.Record(ctx, req)
}

// Write calls p.Mutate.
func (p PolicyFuncs) Write(ctx context.Context, req *AccessRequest) error {
	if p.Mutate == nil {
		return nil
	}
	return p.Mutate(ctx, req)
}

// Policies returns a [Policy] that allows what every one of ps allows;
// it asks them in order and returns the first refusal. Nil policies are
// skipped.
func Policies(ps ...Policy) Policy {
	var all allPolicies
	for _, p := range ps {
		if p != nil {
			all = append(all, p)
		}
	}
	switch len(all) {
	case 0:
		return nil
	case 1:
		return all[0]
	}
	return all
}

type allPolicies []Policy

func (a allPolicies) ReadChannel(ctx context.Context, req *ChannelRequest) error {
	for _, p := range a {
		if err := p.ReadChannel(ctx, req); err != nil {
			return err
		}
	}
	return nil
}

func (a allPolicies) ReadRecord(ctx context.Context, req *RecordRequest) error {
	for _, p := range a {
		if err := p.ReadRecord(ctx, req); err != nil {
			return err
		}
	}
	return nil
}

func (a allPolicies) Write(ctx context.Context, req *AccessRequest) error {
	for _, p := range a {
		if err := p.Write(ctx, req); err != nil {
			return err
		}
	}
	return nil
}

// authorizerPolicy adapts the older [ResourceOptions].Authorizer: it sees
// the paths it always saw (Get, List, the record a write returns, and
// the writes) and none of the socket's.
type authorizerPolicy struct {
	a      Authorizer
	logger *slog.Logger
}

func (p authorizerPolicy) ReadChannel(ctx context.Context, req *ChannelRequest) error {
	if req.Via != ViaList {
		return nil
	}
	return p.call(ctx, &AccessRequest{Op: OpList, Model: req.Model, Identity: req.Identity, Filters: req.Filters})
}

func (p authorizerPolicy) ReadRecord(ctx context.Context, req *RecordRequest) error {
	if req.Via != ViaGet && req.Via != ViaWrite {
		return nil
	}
	return p.call(ctx, &AccessRequest{Op: OpGet, Model: req.Model, Identity: req.Identity, Key: req.Key, Current: req.Record})
}

func (p authorizerPolicy) Write(ctx context.Context, req *AccessRequest) error {
	return p.call(ctx, req)
}

func (p authorizerPolicy) call(ctx context.Context, req *AccessRequest) error {
	return hookCall(p.logger, "Authorizer", req.Op.String(), func() error { return p.a(ctx, req) })
}

// hookCall calls fn, an older hook named hook, and turns its panic into a
// refusal logged under the hook's name, as before there was a Policy.
func hookCall(logger *slog.Logger, hook, op string, fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			logger.Error("ssotws: hook panicked", "hook", hook, "op", op, "panic", r, "stack", string(debug.Stack()))
			err = fmt.Errorf("ssotws: %s panicked", hook)
		}
	}()
	return fn()
}

// gatewayHooksPolicy adapts the older [GatewayOptions].Authorize and
// Filter: they see the socket's paths only.
type gatewayHooksPolicy struct {
	logger    *slog.Logger
	authorize func(ctx context.Context, id *Identity, m *Model, ch ChannelName) error
	filter    func(ctx context.Context, id *Identity, m *Model, ev *wsv1.Event) bool
}

var errFiltered = errors.New("ssotws: filtered")

func (p gatewayHooksPolicy) ReadChannel(ctx context.Context, req *ChannelRequest) error {
	if req.Via != ViaSubscribe || p.authorize == nil {
		return nil
	}
	return hookCall(p.logger, "Authorize", "Subscribe", func() error { return p.authorize(ctx, req.Identity, req.Model, req.Channel) })
}

func (p gatewayHooksPolicy) ReadRecord(ctx context.Context, req *RecordRequest) error {
	if req.Via != ViaEvent || p.filter == nil {
		return nil
	}
	return hookCall(p.logger, "Filter", "Event", func() error {
		if p.filter(ctx, req.Identity, req.Model, req.Event) {
			return nil
		}
		return errFiltered
	})
}

// gatewayPolicy is the gateway's Policy followed by the older hooks.
func gatewayPolicy(o GatewayOptions) Policy {
	var old Policy
	if o.Authorize != nil || o.Filter != nil {
		old = gatewayHooksPolicy{logger: o.Logger, authorize: o.Authorize, filter: o.Filter}
	}
	return Policies(o.Policy, old)
}

func (gatewayHooksPolicy) Write(context.Context, *AccessRequest) error { return nil }

// decide calls fn, a question to p, recovering a panic (logged, and a
// refusal) and mapping the answer to a Connect error: nil allows, a
// *connect.Error stays as it is, an error wrapping [ErrUnauthenticated]
// is CodeUnauthenticated and any other CodePermissionDenied. what names
// the call for the log and the refusal.
func decide(logger *slog.Logger, what string, fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			if logger == nil {
				logger = slog.Default()
			}
			logger.Error("ssotws: hook panicked", "hook", "Policy", "call", what, "panic", r, "stack", string(debug.Stack()))
			err = connect.NewError(connect.CodePermissionDenied, fmt.Errorf("ssotws: %s denied", what))
		}
	}()
	err = fn()
	var ce *connect.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ce):
		return err
	case errors.Is(err, ErrUnauthenticated):
		return unauthenticated(err)
	}
	return connect.NewError(connect.CodePermissionDenied, err)
}

// socketCode is the Error frame code of a refusal decide returned.
func socketCode(err error) wsv1.ErrorCode {
	if connect.CodeOf(err) == connect.CodeUnauthenticated {
		return wsv1.ErrorCode_ERROR_CODE_UNAUTHENTICATED
	}
	return wsv1.ErrorCode_ERROR_CODE_FORBIDDEN
}
