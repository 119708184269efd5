package ssotws

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"weak"

	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// Tracing links a mutation to its fan-out. A [TracingPublisher] wraps the
// Publisher a [Resource] is given: each Publish runs in a span
// ("ssotws.publish") that is a child of the request's span (the Resource
// hands Publish the request's context), and remembers, for each event, that
// span's context. A gateway that receives the same events from its broker
// (in this process) starts one span per event ("ssotws.fanout"), a child of
// the publish span, that ends once the event is queued for every
// subscriber: the request, its publish and its fan-out form one trace.
//
// The events carry no trace context on the wire: a gateway on another node
// (behind a NATS broker) sees other event values and starts no fan-out
// span. Both spans carry the event's request id ("ssotws.request_id", the
// client's Idempotency-Key) to find them by.

// publishSpans maps the events published through a TracingPublisher to
// the span context of their publish. It holds the events weakly: an entry
// goes once its event was collected (a broker's history keeps events for
// a while; the map never outgrows it).
var publishSpans struct {
	mu sync.Mutex
	m  map[weak.Pointer[wsv1.Event]]trace.SpanContext
	// n counts the entries, read without the lock: a gateway whose
	// events were never traced pays one atomic load per batch.
	n atomic.Int64
}

func rememberSpan(ev *wsv1.Event, sc trace.SpanContext) {
	wp := weak.Make(ev)
	publishSpans.mu.Lock()
	if publishSpans.m == nil {
		publishSpans.m = make(map[weak.Pointer[wsv1.Event]]trace.SpanContext)
	}
	_, had := publishSpans.m[wp]
	publishSpans.m[wp] = sc
	publishSpans.mu.Unlock()
	if !had {
		publishSpans.n.Add(1)
		runtime.AddCleanup(ev, forgetSpan, wp)
	}
}

func forgetSpan(wp weak.Pointer[wsv1.Event]) {
	publishSpans.mu.Lock()
	if _, ok := publishSpans.m[wp]; ok {
		delete(publishSpans.m, wp)
		publishSpans.n.Add(-1)
	}
	publishSpans.mu.Unlock()
}

func spanOf(ev *wsv1.Event) (trace.SpanContext, bool) {
	publishSpans.mu.Lock()
	defer publishSpans.mu.Unlock()
	sc, ok := publishSpans.m[weak.Make(ev)]
	return sc, ok
}

// TracingPublisher returns pub with each Publish traced (see above). tp
// nil means the global TracerProvider of go.opentelemetry.io/otel. When
// pub is also a [PositionReader] (a [Broker] is), so is the result: give it
// to [NewResource] (or the generated constructors) in pub's place.
func TracingPublisher(pub Publisher, tp trace.TracerProvider) Publisher {
	t := &tracingPublisher{pub: pub, tracer: newTracer(tp)}
	if pr, ok := pub.(PositionReader); ok {
		return &tracingPositionPublisher{t, pr}
	}
	return t
}

type tracingPublisher struct {
	pub    Publisher
	tracer trace.Tracer
}

type tracingPositionPublisher struct {
	*tracingPublisher
	PositionReader
}

// Publish implements [Publisher].
func (t *tracingPublisher) Publish(ctx context.Context, events []*wsv1.Event) error {
	ctx, span := t.tracer.Start(ctx, "ssotws.publish", trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(eventAttrs(events)...))
	defer span.End()
	if sc := span.SpanContext(); sc.IsValid() && sc.IsSampled() {
		// Before Publish: a listener may fan the events out before it
		// returns.
		for _, ev := range events {
			if ev != nil {
				rememberSpan(ev, sc)
			}
		}
	}
	err := t.pub.Publish(ctx, events)
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, "publish failed")
	}
	return err
}

func eventAttrs(events []*wsv1.Event) []attribute.KeyValue {
	channels := make([]string, 0, len(events))
	reqID := ""
	for _, ev := range events {
		if ev == nil {
			continue
		}
		channels = append(channels, ev.GetChannel())
		if reqID == "" {
			reqID = ev.GetRequestId()
		}
	}
	return []attribute.KeyValue{
		attribute.String("ssotws.request_id", reqID),
		attribute.StringSlice("ssotws.channels", channels),
		attribute.Int("ssotws.events", len(channels)),
	}
}

func newTracer(tp trace.TracerProvider) trace.Tracer {
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	return tp.Tracer(instrumentationName)
}

// startFanout starts the fan-out span of each event published through a
// TracingPublisher; it returns nil (and allocates nothing) when there is
// none.
func (g *Gateway) startFanout(events []*wsv1.Event) []trace.Span {
	if publishSpans.n.Load() == 0 || g.tracer == nil {
		return nil
	}
	var spans []trace.Span
	for i, ev := range events {
		sc, ok := spanOf(ev)
		if !ok {
			continue
		}
		if spans == nil {
			spans = make([]trace.Span, len(events))
		}
		_, spans[i] = g.tracer.Start(trace.ContextWithSpanContext(context.Background(), sc), "ssotws.fanout",
			trace.WithSpanKind(trace.SpanKindConsumer),
			trace.WithAttributes(
				attribute.String("ssotws.channel", ev.GetChannel()),
				attribute.String("ssotws.request_id", ev.GetRequestId()),
				attribute.String("ssotws.position", FormatPosition(ev.GetPosition())),
			))
	}
	return spans
}

// endFanout ends the spans of startFanout, once the events were queued for
// every subscriber.
func (g *Gateway) endFanout(events []*wsv1.Event, spans []trace.Span) {
	for i, span := range spans {
		if span == nil {
			continue
		}
		span.SetAttributes(attribute.Int("ssotws.subscribers", g.hub.count(events[i].GetChannel())))
		span.End()
	}
}
