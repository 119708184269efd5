package ssotws

import (
	"context"
	"log/slog"
	"time"

	"github.com/coder/websocket"
	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// What the gateway tells operators: slog records of each connection's
// lifecycle and of every refusal, and OpenTelemetry metrics. docs/operations.md
// lists every record and metric.
//
// The fan-out's hot path only calls instruments made once, with attribute
// sets made once: measuring a delivery allocates nothing.

// instrumentationName names the meter and the tracer of the gateway.
const instrumentationName = "github.com/ssot-codegen/ssot-ws/ssotws"

// refusal is a kind of refusal of a connection: why the gateway closed it
// (or refused its handshake) because of what the client did or was.
type refusal uint8

const (
	refuseToken           refusal = iota // a token the Authenticator rejected
	refuseTokenInURL                     // a ?token= while AllowQueryToken is off
	refuseAuthRequired                   // RequireAuth and no token first, or none in time
	refuseRevoked                        // the token or subject was revoked
	refuseExpired                        // the token expired
	refuseIdentityChanged                // an Auth frame for another subject
	refuseUserLimit                      // over Limits.MaxConnsPerUser
	refuseFrameRate                      // over Limits.FrameRate
	refuseTooSlow                        // the send queue overflowed
	refuseBadFrame                       // a text frame, or not a ClientFrame
	refuseTooLarge                       // a frame over Limits.MaxMessageBytes
	refuseOrigin                         // a handshake from an origin not allowed (HTTP 403)
	numRefusals
)

// refusalInfo describes a kind of refusal: its name (the "reason" of
// records and metrics), the close code (an HTTP status for a refused
// handshake) and the level of its record. Refusals that point at an attack
// or a misconfiguration are warnings; those that happen in normal use
// (an expired token, a revocation, a slow network) are informational.
type refusalInfo struct {
	name  string
	code  int
	level slog.Level
}

var refusals = [numRefusals]refusalInfo{
	refuseToken:           {"token_rejected", int(CloseUnauthenticated), slog.LevelWarn},
	refuseTokenInURL:      {"token_in_url", int(CloseUnauthenticated), slog.LevelWarn},
	refuseAuthRequired:    {"auth_required", int(CloseUnauthenticated), slog.LevelWarn},
	refuseRevoked:         {"revoked", int(CloseUnauthenticated), slog.LevelInfo},
	refuseExpired:         {"token_expired", int(CloseTokenExpired), slog.LevelInfo},
	refuseIdentityChanged: {"identity_changed", int(CloseForbidden), slog.LevelWarn},
	refuseUserLimit:       {"user_limit", int(CloseTooSlow), slog.LevelWarn},
	refuseFrameRate:       {"frame_rate", int(CloseTooSlow), slog.LevelWarn},
	refuseTooSlow:         {"too_slow", int(CloseTooSlow), slog.LevelInfo},
	refuseBadFrame:        {"bad_frame", int(CloseBadFrame), slog.LevelWarn},
	refuseTooLarge:        {"too_large", int(CloseTooLarge), slog.LevelWarn},
	refuseOrigin:          {"origin", 403, slog.LevelWarn},
}

func (r refusal) closeCode() websocket.StatusCode { return websocket.StatusCode(refusals[r].code) }

// subRefusal is a kind of refused subscription (an Error frame; the
// connection stays open).
type subRefusal uint8

const (
	subUnknownChannel  subRefusal = iota // malformed name, unknown model or scope
	subDuplicate                         // already subscribed
	subTooMany                           // over Limits.MaxSubscriptions
	subUnauthenticated                   // read access needs an identity, or Authorize said so
	subForbidden                         // Authorize refused
	numSubRefusals
)

var subRefusals = [numSubRefusals]struct {
	name  string
	level slog.Level
}{
	subUnknownChannel:  {"unknown_channel", slog.LevelInfo},
	subDuplicate:       {"duplicate", slog.LevelInfo},
	subTooMany:         {"too_many_subscriptions", slog.LevelWarn},
	subUnauthenticated: {"unauthenticated", slog.LevelInfo},
	subForbidden:       {"forbidden", slog.LevelInfo},
}

// subRefusalOf maps the error code of a refused read to its kind.
func subRefusalOf(code wsv1.ErrorCode) subRefusal {
	switch code {
	case wsv1.ErrorCode_ERROR_CODE_UNAUTHENTICATED:
		return subUnauthenticated
	case wsv1.ErrorCode_ERROR_CODE_TOO_MANY_SUBSCRIPTIONS:
		return subTooMany
	case wsv1.ErrorCode_ERROR_CODE_UNKNOWN_CHANNEL:
		return subUnknownChannel
	case wsv1.ErrorCode_ERROR_CODE_BAD_REQUEST:
		return subDuplicate
	default:
		return subForbidden
	}
}

// dropReason is why a queued event was not written.
type dropReason uint8

const (
	dropNone         dropReason = iota
	dropFiltered                // the Filter hook said no (or panicked)
	dropUnsubscribed            // the subscription ended before the write
	dropOverflow                // the send queue overflowed: the connection closes as too slow
	numDropReasons
)

var dropNames = [numDropReasons]string{"", "filtered", "unsubscribed", "overflow"}

// telemetry holds a gateway's instruments, made once. A nil *telemetry
// measures nothing (tests build connections without a gateway's).
type telemetry struct {
	connections   metric.Int64UpDownCounter
	subscriptions metric.Int64UpDownCounter
	deliveries    metric.Int64Counter
	drops         metric.Int64Counter
	coalesced     metric.Int64Counter
	queueDepth    metric.Int64Histogram
	latency       metric.Float64Histogram
	refused       metric.Int64Counter
	subRefused    metric.Int64Counter

	// meter made the instruments; pace is observed from the gateway's
	// fan-out clock (observePace) until paceReg is unregistered.
	meter   metric.Meter
	pace    metric.Float64ObservableGauge
	paceReg metric.Registration

	dropOpts      [numDropReasons][]metric.AddOption
	refusedOpts   [numRefusals][]metric.AddOption
	subRefuseOpts [numSubRefusals][]metric.AddOption
}

// latencyBuckets are the bounds, in seconds, of the commit-to-write
// latency histogram: from a millisecond (the resolution of an event's
// commit time) to ten seconds.
var latencyBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// depthBuckets are the bounds of the queue depth histogram.
var depthBuckets = []float64{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024}

func newTelemetry(mp metric.MeterProvider, logger *slog.Logger) *telemetry {
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	m := mp.Meter(instrumentationName)
	t := &telemetry{meter: m}
	var errs []error
	note := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	var err error
	t.connections, err = m.Int64UpDownCounter("ssotws.gateway.connections",
		metric.WithDescription("Open WebSocket connections."), metric.WithUnit("{connection}"))
	note(err)
	t.subscriptions, err = m.Int64UpDownCounter("ssotws.gateway.subscriptions",
		metric.WithDescription("Active subscriptions, over all connections."), metric.WithUnit("{subscription}"))
	note(err)
	t.deliveries, err = m.Int64Counter("ssotws.gateway.deliveries",
		metric.WithDescription("Events written to connections (replays included)."), metric.WithUnit("{event}"))
	note(err)
	t.drops, err = m.Int64Counter("ssotws.gateway.drops",
		metric.WithDescription("Events queued for a connection but not written, by reason."), metric.WithUnit("{event}"))
	note(err)
	t.coalesced, err = m.Int64Counter("ssotws.gateway.coalesced",
		metric.WithDescription("UPDATED events dropped from a full send queue because a newer event of the same record superseded them."),
		metric.WithUnit("{event}"))
	note(err)
	t.queueDepth, err = m.Int64Histogram("ssotws.gateway.queue.depth",
		metric.WithDescription("Items a connection's write loop found queued each time it took them."),
		metric.WithUnit("{item}"), metric.WithExplicitBucketBoundaries(depthBuckets...))
	note(err)
	t.latency, err = m.Float64Histogram("ssotws.gateway.delivery.latency",
		metric.WithDescription("Time from an event's commit (its time_unix_ms) to its write on a connection; live events only."),
		metric.WithUnit("s"), metric.WithExplicitBucketBoundaries(latencyBuckets...))
	note(err)
	t.refused, err = m.Int64Counter("ssotws.gateway.refusals",
		metric.WithDescription("Connections closed, or handshakes refused, because of the client: by reason and close code (HTTP status for a handshake)."),
		metric.WithUnit("{connection}"))
	note(err)
	t.subRefused, err = m.Int64Counter("ssotws.gateway.subscription.refusals",
		metric.WithDescription("Subscriptions refused with an Error frame, by reason."), metric.WithUnit("{subscription}"))
	note(err)
	t.pace, err = m.Float64ObservableGauge("ssotws.gateway.write.pace",
		metric.WithDescription("How long each write loop waits before it takes, while the server is saturated; 0 when it is not."),
		metric.WithUnit("s"))
	note(err)
	if len(errs) > 0 && logger != nil {
		// The API hands back working no-op instruments along with the error.
		logger.Error("ssotws: creating metric instruments", "err", errs)
	}

	for r := dropNone + 1; r < numDropReasons; r++ {
		t.dropOpts[r] = addOpts(attribute.String("reason", dropNames[r]))
	}
	for r := range numRefusals {
		t.refusedOpts[r] = addOpts(attribute.String("reason", refusals[r].name), attribute.Int("code", refusals[r].code))
	}
	for r := range numSubRefusals {
		t.subRefuseOpts[r] = addOpts(attribute.String("reason", subRefusals[r].name))
	}
	return t
}

// observePace reports pace() as the write loops' pace at every
// collection, until stopObserving.
func (t *telemetry) observePace(pace func() time.Duration, logger *slog.Logger) {
	reg, err := t.meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		o.ObserveFloat64(t.pace, pace().Seconds())
		return nil
	}, t.pace)
	if err != nil {
		logger.Error("ssotws: observing the write pace", "err", err)
		return
	}
	t.paceReg = reg
}

// stopObserving ends observePace: a closed gateway's clock is not
// reported (nor kept alive by the meter provider).
func (t *telemetry) stopObserving() {
	if t.paceReg != nil {
		_ = t.paceReg.Unregister()
		t.paceReg = nil
	}
}

func addOpts(kv ...attribute.KeyValue) []metric.AddOption {
	return []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(kv...))}
}

// The methods below are safe on a nil *telemetry. None allocates.

func (t *telemetry) connOpened(n int64) {
	if t != nil {
		t.connections.Add(context.Background(), n)
	}
}

func (t *telemetry) subsChanged(n int64) {
	if t != nil {
		t.subscriptions.Add(context.Background(), n)
	}
}

func (t *telemetry) dropped(r dropReason, n int) {
	if t != nil && n > 0 {
		t.drops.Add(context.Background(), int64(n), t.dropOpts[r]...)
	}
}

func (t *telemetry) coalescedN(n int) {
	if t != nil && n > 0 {
		t.coalesced.Add(context.Background(), int64(n))
	}
}

func (t *telemetry) delivered(n int) {
	if t != nil && n > 0 {
		t.deliveries.Add(context.Background(), int64(n))
	}
}

func (t *telemetry) depth(n int) {
	if t != nil {
		t.queueDepth.Record(context.Background(), int64(n))
	}
}

// written records the commit-to-write latency of events committed at
// stamps (Unix milliseconds), written at now.
func (t *telemetry) written(now time.Time, stamps []int64) {
	if t == nil || len(stamps) == 0 {
		return
	}
	ms := float64(now.UnixMicro()) / 1e3
	for _, s := range stamps {
		// Clocks of different nodes may disagree: never negative.
		t.latency.Record(context.Background(), max(0, ms-float64(s))/1e3)
	}
}

// refusal records a refused connection: one record, one count.
func (t *telemetry) refusal(logger *slog.Logger, r refusal, attrs ...slog.Attr) {
	if t != nil {
		t.refused.Add(context.Background(), 1, t.refusedOpts[r]...)
	}
	if logger == nil {
		return
	}
	info := &refusals[r]
	logger.LogAttrs(context.Background(), info.level, "ssotws: connection refused",
		append([]slog.Attr{slog.String("reason", info.name), slog.Int("code", info.code)}, attrs...)...)
}

// subRefusal records a refused subscription.
func (t *telemetry) subRefusal(logger *slog.Logger, r subRefusal, attrs ...slog.Attr) {
	if t != nil {
		t.subRefused.Add(context.Background(), 1, t.subRefuseOpts[r]...)
	}
	if logger == nil {
		return
	}
	info := &subRefusals[r]
	logger.LogAttrs(context.Background(), info.level, "ssotws: subscription refused",
		append([]slog.Attr{slog.String("reason", info.name)}, attrs...)...)
}
