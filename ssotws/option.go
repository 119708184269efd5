package ssotws

import (
	"log/slog"
	"time"

	"buf.build/go/protovalidate"
)

// ResourceOptions configures a [Resource] and the generated services built
// on it. nil means the defaults, as for [GatewayOptions].
type ResourceOptions struct {
	// DefaultPageSize is the page size of a List that asks for none
	// (default [DefaultPageSize], 50).
	DefaultPageSize int
	// MaxPageSize is the largest page a List may ask for (default 1000);
	// larger requests are coerced, as AIP-158 suggests.
	MaxPageSize int
	// MaxRecordBytes bounds the protobuf encoding of a record a Create or
	// Update stores (default [DefaultMaxRecordBytes]); a larger one is
	// refused with CodeInvalidArgument naming its size and the limit. Keep
	// it below every client's read limit: a change event carries the whole
	// record, and an event a client cannot receive cuts it off its channel.
	// A negative value removes the bound.
	MaxRecordBytes int
	// Policy is the application's authorization policy: Get and List ask
	// it the same questions a WebSocket subscription asks, and every
	// write asks its Write. Give the gateway the same one
	// ([GatewayOptions].Policy).
	Policy Policy
	// Authorizer adds custom rules to the access checks of the standard
	// methods.
	//
	// Deprecated: use Policy, which the gateway consults too. An
	// Authorizer still works: it is asked after Policy, on the paths it
	// always saw (Get, List, the record a write returns, every write).
	Authorizer Authorizer
	// Logger receives the failures that do not reach the caller (default
	// slog.Default()).
	Logger *slog.Logger
	// Validator checks every record a Create or Update would store
	// against the buf.validate rules of its model before anything is
	// written (see [ValidationError] for the error a violation is). nil
	// means protovalidate.GlobalValidator; give one built with
	// protovalidate.New for options of your own.
	Validator protovalidate.Validator
	// NoValidation turns those checks off: records are stored whatever
	// their rules say.
	NoValidation bool
}

// DefaultMaxRecordBytes is the default bound of one record's encoding:
// 1 MiB less 16 KiB, so that a record's change event (the record, its
// channel name, key and request id) stays within 1 MiB, far below the Go
// client's default read limit (16 MiB), and every subscriber can receive
// it. An event larger than the gateway's [Limits].MaxBatchBytes (64 KiB)
// is sent alone in its frame.
const DefaultMaxRecordBytes = 1<<20 - 16<<10

// resourceOptions are ResourceOptions with the defaults filled in.
type resourceOptions struct {
	maxPageSize     int
	defaultPageSize int
	logger          *slog.Logger
	now             func() time.Time
	policy          Policy
	maxRecordBytes  int
	validator       protovalidate.Validator
}

func newResourceOptions(opts *ResourceOptions) resourceOptions {
	o := resourceOptions{maxPageSize: 1000, defaultPageSize: DefaultPageSize, logger: slog.Default(), now: time.Now, maxRecordBytes: DefaultMaxRecordBytes,
		validator: newValidator(opts)}
	if opts == nil {
		return o
	}
	if opts.DefaultPageSize > 0 {
		o.defaultPageSize = opts.DefaultPageSize
	}
	if opts.MaxPageSize > 0 {
		o.maxPageSize = opts.MaxPageSize
	}
	if opts.MaxRecordBytes != 0 {
		o.maxRecordBytes = opts.MaxRecordBytes
	}
	if opts.Logger != nil {
		o.logger = opts.Logger
	}
	var old Policy
	if opts.Authorizer != nil {
		old = authorizerPolicy{a: opts.Authorizer, logger: o.logger}
	}
	o.policy = Policies(opts.Policy, old)
	if o.defaultPageSize > o.maxPageSize {
		o.defaultPageSize = o.maxPageSize
	}
	return o
}
