package natsbroker

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
)

// Defaults of [Options].
const (
	DefaultStream        = "SSOTWS"
	DefaultSubjectPrefix = "ssotws"
	DefaultHistorySize   = ssotws.DefaultHistorySize
	DefaultTimeout       = 10 * time.Second
)

// HeaderPrevSeq is the message header holding the stream sequence of the
// channel's previous message (0 for none). History walks back through it.
const HeaderPrevSeq = "Ssot-Prev-Seq"

// HeaderGroupLeft is the message header holding how many events of the
// same Publish on the same channel follow this one (absent: none).
// Listeners hold a channel's events until its group is complete, so that
// they reach subscribers together (group.go).
const HeaderGroupLeft = "Ssot-Group-Left"

// Tuning constants.
const (
	// maxAttempts bounds the optimistic-concurrency retries of one event.
	maxAttempts = 100
	// walkLimit is the longest gap History fills by walking back message
	// by message; longer gaps read the channel with a consumer.
	walkLimit = 32
	// maxCached bounds the channels whose last (sequence, offset) a node
	// remembers; past it, entries are dropped at random (a dropped entry
	// costs one read at the next publish).
	maxCached = 1 << 16
	// lockStripes serializes a node's publishes per channel.
	lockStripes = 256
)

// Options configures a [Broker]. A nil *Options means the defaults. Every
// node of a service must use the same Stream, SubjectPrefix, HistorySize
// and MaxAge: each New updates the stream to its own options.
type Options struct {
	// Stream is the JetStream stream's name (default [DefaultStream]).
	Stream string
	// SubjectPrefix is the subject prefix of the channels (default
	// [DefaultSubjectPrefix]); the stream captures <prefix>.>. It must be a
	// valid subject without wildcards, and no other stream may capture it.
	SubjectPrefix string
	// HistorySize is the number of events kept per channel
	// (MaxMsgsPerSubject). Zero means [DefaultHistorySize]; a negative
	// value keeps only the last event (which holds the channel's offset).
	HistorySize int
	// MaxAge, if positive, also drops events older than it. See the
	// package documentation for what happens to a channel whose events
	// all expired.
	MaxAge time.Duration
	// Replicas of the stream (default 1).
	Replicas int
	// Storage of the stream: jetstream.FileStorage (the zero value, the
	// default) or jetstream.MemoryStorage (history lost with the server).
	Storage jetstream.StorageType
	// Timeout bounds the calls Listen makes (which take no context) and
	// the reads of History that outlast its context (default
	// [DefaultTimeout]).
	Timeout time.Duration
	// Logger receives the errors of listeners (default slog.Default()).
	Logger *slog.Logger
}

// Broker is an [ssotws.Broker] on a NATS JetStream stream. See the package
// documentation for its design. It is safe for concurrent use.
type Broker struct {
	js          jetstream.JetStream
	stream      jetstream.Stream
	name        string
	prefix      string
	historySize int
	maxAge      time.Duration
	timeout     time.Duration
	logger      *slog.Logger

	epoch atomic.Uint64

	seed  maphash.Seed
	locks [lockStripes]sync.Mutex

	cacheMu sync.Mutex
	cache   map[string]chanState

	mu        sync.Mutex
	closed    bool
	listeners map[*listener]struct{}
}

// chanState is what a node knows of a channel's last message: its stream
// sequence (0 for none) and its offset.
type chanState struct {
	seq, off uint64
}

var _ ssotws.Broker = (*Broker)(nil)

// New returns a broker on js, creating the stream or updating it to opts.
func New(ctx context.Context, js jetstream.JetStream, opts *Options) (*Broker, error) {
	if js == nil {
		return nil, errors.New("natsbroker: nil JetStream")
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Stream == "" {
		o.Stream = DefaultStream
	}
	if o.SubjectPrefix == "" {
		o.SubjectPrefix = DefaultSubjectPrefix
	}
	if strings.ContainsAny(o.SubjectPrefix, "*> \t\r\n") || strings.HasPrefix(o.SubjectPrefix, ".") || strings.HasSuffix(o.SubjectPrefix, ".") || strings.Contains(o.SubjectPrefix, "..") {
		return nil, fmt.Errorf("natsbroker: invalid subject prefix %q", o.SubjectPrefix)
	}
	if o.HistorySize == 0 {
		o.HistorySize = DefaultHistorySize
	}
	if o.HistorySize < 1 {
		o.HistorySize = 1
	}
	if o.Replicas < 1 {
		o.Replicas = 1
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	cfg := jetstream.StreamConfig{
		Name:              o.Stream,
		Description:       "ssot-ws change events, one subject per channel",
		Subjects:          []string{o.SubjectPrefix + ".>"},
		Retention:         jetstream.LimitsPolicy,
		Discard:           jetstream.DiscardOld,
		MaxMsgsPerSubject: int64(o.HistorySize),
		MaxMsgs:           -1,
		MaxBytes:          -1,
		MaxAge:            o.MaxAge,
		Storage:           o.Storage,
		Replicas:          o.Replicas,
		// Reads go to the leader: a replica answering a direct get may lag
		// behind what a listener has already delivered.
		AllowDirect: false,
	}
	var (
		s   jetstream.Stream
		err error
	)
	// Two nodes starting together may race to create the stream.
	for range 3 {
		if s, err = js.CreateOrUpdateStream(ctx, cfg); err == nil {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("natsbroker: stream %s: %w", o.Stream, err)
	}
	b := &Broker{
		js:          js,
		stream:      s,
		name:        o.Stream,
		prefix:      o.SubjectPrefix,
		historySize: o.HistorySize,
		maxAge:      o.MaxAge,
		timeout:     o.Timeout,
		logger:      o.Logger,
		seed:        maphash.MakeSeed(),
		cache:       make(map[string]chanState),
		listeners:   make(map[*listener]struct{}),
	}
	b.epoch.Store(epochOf(s.CachedInfo().Created))
	return b, nil
}

// epochOf derives the epoch from the stream's creation time: microseconds
// since 1970, within 2^53 so that JavaScript numbers hold it exactly.
func epochOf(created time.Time) uint64 {
	e := uint64(created.UnixMicro()) & (1<<53 - 1)
	if e == 0 {
		e = 1
	}
	return e
}

// Epoch returns the epoch of the positions: the stream's creation time in
// microseconds.
func (b *Broker) Epoch() uint64 { return b.epoch.Load() }

// Subject returns the subject that carries channel.
func (b *Broker) Subject(channel string) string {
	return b.prefix + "." + base64.RawURLEncoding.EncodeToString([]byte(channel))
}

func (b *Broker) isClosed() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.closed
}

// Publish implements [ssotws.Broker]. See the package documentation for
// what a failure leaves published.
func (b *Broker) Publish(ctx context.Context, events []*wsv1.Event) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	for _, ev := range events {
		if ev == nil || ev.Channel == "" {
			return fmt.Errorf("natsbroker: publish: event without a channel")
		}
	}
	if b.isClosed() {
		return ssotws.ErrBrokerClosed
	}
	// Group the events by channel, keeping each channel's order.
	type group struct {
		channel string
		events  []*wsv1.Event
	}
	groups := make([]group, 0, len(events))
next:
	for _, ev := range events {
		for i := range groups {
			if groups[i].channel == ev.Channel {
				groups[i].events = append(groups[i].events, ev)
				continue next
			}
		}
		groups = append(groups, group{channel: ev.Channel, events: []*wsv1.Event{ev}})
	}
	if len(groups) == 1 {
		return b.publishChannel(ctx, groups[0].channel, groups[0].events)
	}
	// Channels are independent: write them concurrently, each in order.
	errs := make([]error, len(groups))
	var wg sync.WaitGroup
	for i, g := range groups {
		wg.Go(func() { errs[i] = b.publishChannel(ctx, g.channel, g.events) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (b *Broker) publishChannel(ctx context.Context, channel string, evs []*wsv1.Event) error {
	subj := b.Subject(channel)
	lock := &b.locks[maphash.String(b.seed, channel)%lockStripes]
	lock.Lock()
	defer lock.Unlock()

	st, known := b.cached(channel)
	if !known && b.maxAge <= 0 {
		// Guess that the channel is new (an item channel of a created
		// record usually is): a wrong guess costs a refused write and a
		// read, a right one saves the read.
		known = true
	}
	for i, ev := range evs {
		for attempt := 1; ; attempt++ {
			if !known {
				var err error
				if st, err = b.readState(ctx, subj); err != nil {
					b.forget(channel)
					return fmt.Errorf("natsbroker: publish %q: %w", channel, err)
				}
				known = true
			}
			ev.Position = &wsv1.Position{Epoch: b.epoch.Load(), Offset: st.off + 1}
			data, err := proto.Marshal(ev)
			if err != nil {
				b.forget(channel)
				return fmt.Errorf("natsbroker: publish %q: %w", channel, err)
			}
			msg := &nats.Msg{Subject: subj, Data: data, Header: nats.Header{}}
			msg.Header.Set(HeaderPrevSeq, strconv.FormatUint(st.seq, 10))
			if left := len(evs) - 1 - i; left > 0 {
				msg.Header.Set(HeaderGroupLeft, strconv.Itoa(left))
			}
			ack, err := b.js.PublishMsg(ctx, msg,
				jetstream.WithExpectStream(b.name),
				jetstream.WithExpectLastSequencePerSubject(st.seq))
			if err == nil {
				st = chanState{seq: ack.Sequence, off: st.off + 1}
				break
			}
			known = false
			if !isWrongLastSeq(err) || attempt >= maxAttempts || ctx.Err() != nil {
				b.forget(channel)
				ev.Position = nil
				if errors.Is(err, jetstream.ErrNoStreamResponse) {
					err = fmt.Errorf("%w (was stream %s deleted? restart the nodes to create it again)", err, b.name)
				}
				return fmt.Errorf("natsbroker: publish %q: %w", channel, err)
			}
			// Another node published to the channel: read its last
			// message again and retry with the next offset.
		}
	}
	b.remember(channel, st)
	return nil
}

func isWrongLastSeq(err error) bool {
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	return apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant
}

func (b *Broker) cached(channel string) (chanState, bool) {
	b.cacheMu.Lock()
	defer b.cacheMu.Unlock()
	st, ok := b.cache[channel]
	return st, ok
}

func (b *Broker) remember(channel string, st chanState) {
	b.cacheMu.Lock()
	defer b.cacheMu.Unlock()
	if _, ok := b.cache[channel]; !ok && len(b.cache) >= maxCached {
		for k := range b.cache {
			delete(b.cache, k)
			break
		}
	}
	b.cache[channel] = st
}

func (b *Broker) forget(channel string) {
	b.cacheMu.Lock()
	defer b.cacheMu.Unlock()
	delete(b.cache, channel)
}

// lastMsg is a channel's last message, decoded.
type lastMsg struct {
	seq  uint64
	prev uint64
	ev   *wsv1.Event
}

// last reads the last message of subj; nil when the subject has none.
func (b *Broker) last(ctx context.Context, subj string) (*lastMsg, error) {
	m, err := b.stream.GetLastMsgForSubject(ctx, subj)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return decodeRaw(m)
}

func decodeRaw(m *jetstream.RawStreamMsg) (*lastMsg, error) {
	ev := new(wsv1.Event)
	if err := proto.Unmarshal(m.Data, ev); err != nil {
		return nil, fmt.Errorf("message %d of %s: %w", m.Sequence, m.Subject, err)
	}
	if ev.GetPosition().GetOffset() == 0 {
		return nil, fmt.Errorf("message %d of %s has no position", m.Sequence, m.Subject)
	}
	prev, _ := strconv.ParseUint(m.Header.Get(HeaderPrevSeq), 10, 64)
	return &lastMsg{seq: m.Sequence, prev: prev, ev: ev}, nil
}

// readState reads what the next publish to subj must expect.
func (b *Broker) readState(ctx context.Context, subj string) (chanState, error) {
	m, err := b.last(ctx, subj)
	if err != nil {
		return chanState{}, err
	}
	if m != nil {
		return chanState{seq: m.seq, off: m.ev.GetPosition().GetOffset()}, nil
	}
	if b.maxAge <= 0 {
		return chanState{}, nil
	}
	// The channel may have lost its events to MaxAge: start above every
	// offset it can have had. Each of its events had an offset no larger
	// than its stream sequence, so the stream's last sequence is a bound.
	info, err := b.stream.Info(ctx)
	if err != nil {
		return chanState{}, err
	}
	return chanState{off: info.State.LastSeq}, nil
}

// Position implements [ssotws.Broker]. It reads the channel's last message
// from the stream leader.
func (b *Broker) Position(ctx context.Context, channel string) (*wsv1.Position, error) {
	if b.isClosed() {
		return nil, ssotws.ErrBrokerClosed
	}
	m, err := b.last(ctx, b.Subject(channel))
	if err != nil {
		return nil, fmt.Errorf("natsbroker: position of %q: %w", channel, err)
	}
	pos := &wsv1.Position{Epoch: b.epoch.Load()}
	if m != nil {
		pos.Offset = m.ev.GetPosition().GetOffset()
	}
	return pos, nil
}

// History implements [ssotws.Broker].
func (b *Broker) History(ctx context.Context, channel string, since *wsv1.Position) ([]*wsv1.Event, error) {
	if b.isClosed() {
		return nil, ssotws.ErrBrokerClosed
	}
	epoch := b.epoch.Load()
	if since.GetEpoch() != epoch {
		return nil, fmt.Errorf("%w: %q: epoch %d is not the current epoch", ssotws.ErrHistoryUnavailable, channel, since.GetEpoch())
	}
	subj := b.Subject(channel)
	last, err := b.last(ctx, subj)
	if err != nil {
		return nil, fmt.Errorf("natsbroker: history of %q: %w", channel, err)
	}
	var cur uint64
	if last != nil {
		cur = last.ev.GetPosition().GetOffset()
	}
	from := since.GetOffset()
	switch {
	case from > cur:
		return nil, fmt.Errorf("%w: %q: offset %d is ahead of the channel (%d)", ssotws.ErrHistoryUnavailable, channel, from, cur)
	case from == cur:
		return nil, nil
	}
	missing := cur - from
	if missing > uint64(b.historySize) {
		return nil, fmt.Errorf("%w: %q: offset %d is older than the history kept", ssotws.ErrHistoryUnavailable, channel, from)
	}
	if missing <= walkLimit {
		return b.walkBack(ctx, channel, last, from)
	}
	return b.readForward(ctx, channel, last, from)
}

func trimmed(channel string, from uint64) error {
	return fmt.Errorf("%w: %q: offset %d is older than the history kept", ssotws.ErrHistoryUnavailable, channel, from)
}

// walkBack collects the events after from by following the previous
// sequences back from last: one read per event.
func (b *Broker) walkBack(ctx context.Context, channel string, last *lastMsg, from uint64) ([]*wsv1.Event, error) {
	cur := last.ev.GetPosition().GetOffset()
	out := make([]*wsv1.Event, cur-from)
	m := last
	for i := len(out) - 1; ; i-- {
		if m.ev.GetPosition().GetOffset() != from+uint64(i)+1 {
			return nil, trimmed(channel, from) // the offsets jumped (MaxAge)
		}
		out[i] = m.ev
		if i == 0 {
			return out, nil
		}
		if m.prev == 0 {
			return nil, trimmed(channel, from)
		}
		raw, err := b.stream.GetMsg(ctx, m.prev)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return nil, trimmed(channel, from)
		}
		if err != nil {
			return nil, fmt.Errorf("natsbroker: history of %q: %w", channel, err)
		}
		if m, err = decodeRaw(raw); err != nil {
			return nil, fmt.Errorf("natsbroker: history of %q: %w", channel, err)
		}
	}
}

// readForward reads the channel's retained messages with an ordered
// consumer filtered to its subject, up to last.
func (b *Broker) readForward(ctx context.Context, channel string, last *lastMsg, from uint64) ([]*wsv1.Event, error) {
	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	cons, err := b.js.OrderedConsumer(ctx, b.name, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{b.Subject(channel)},
		DeliverPolicy:  jetstream.DeliverAllPolicy,
	})
	if err != nil {
		return nil, fmt.Errorf("natsbroker: history of %q: %w", channel, err)
	}
	it, err := cons.Messages()
	if err != nil {
		return nil, fmt.Errorf("natsbroker: history of %q: %w", channel, err)
	}
	defer it.Stop()
	out := make([]*wsv1.Event, 0, last.ev.GetPosition().GetOffset()-from)
	for {
		msg, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			return nil, fmt.Errorf("natsbroker: history of %q: %w", channel, err)
		}
		md, err := msg.Metadata()
		if err != nil {
			return nil, fmt.Errorf("natsbroker: history of %q: %w", channel, err)
		}
		if md.Sequence.Stream > last.seq {
			break // published after the read of the last message
		}
		ev := new(wsv1.Event)
		if err := proto.Unmarshal(msg.Data(), ev); err != nil {
			return nil, fmt.Errorf("natsbroker: history of %q: message %d: %w", channel, md.Sequence.Stream, err)
		}
		if off := ev.GetPosition().GetOffset(); off > from {
			if off != from+uint64(len(out))+1 {
				return nil, trimmed(channel, from)
			}
			out = append(out, ev)
		}
		if md.Sequence.Stream == last.seq {
			break
		}
	}
	if len(out) == 0 || out[len(out)-1].GetPosition().GetOffset() != last.ev.GetPosition().GetOffset() {
		return nil, trimmed(channel, from)
	}
	return out, nil
}

// listener is one Listen registration: an ordered consumer of every
// channel and the function it feeds.
type listener struct {
	b  *Broker
	fn func([]*wsv1.Event)

	mu       sync.Mutex // held while fn runs; serializes the deliveries
	stopped  bool
	stopOnce sync.Once
	cc       jetstream.ConsumeContext
	groups   groups // events held until their groups are complete (group.go)
	quit     chan struct{}
	done     chan struct{} // closed when the start goroutine ended
}

// Listen implements [ssotws.Broker]. It reads the stream's last sequence
// and starts an ordered consumer of every channel from the next one, so fn
// hears every event stored after Listen returns (and possibly a few stored
// while it ran). When NATS cannot be reached, it logs the error and keeps
// trying in the background from the same sequence.
func (b *Broker) Listen(fn func(events []*wsv1.Event)) (stop func()) {
	l := &listener{b: b, fn: fn, quit: make(chan struct{}), done: make(chan struct{})}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		close(l.done)
		return func() {}
	}
	b.listeners[l] = struct{}{}
	b.mu.Unlock()

	var start uint64
	ctx, cancel := context.WithTimeout(context.Background(), b.timeout)
	info, err := b.stream.Info(ctx)
	cancel()
	if err == nil {
		start = info.State.LastSeq + 1
		err = l.consume(start)
	}
	if err != nil {
		b.logger.Error("natsbroker: listen; retrying", "stream", b.name, "err", err)
		go l.retry(start)
	} else {
		close(l.done)
	}
	return l.stop
}

// retry starts the consumer until it works or the listener stops. start 0
// means "from now".
func (l *listener) retry(start uint64) {
	defer close(l.done)
	delay := 100 * time.Millisecond
	for {
		select {
		case <-l.quit:
			return
		case <-time.After(delay):
		}
		delay = min(2*delay, 5*time.Second)
		err := l.consume(start)
		if err == nil {
			return
		}
		l.b.logger.Error("natsbroker: listen; retrying", "stream", l.b.name, "err", err)
	}
}

func (l *listener) consume(start uint64) error {
	cfg := jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{l.b.prefix + ".>"},
		DeliverPolicy:  jetstream.DeliverNewPolicy,
	}
	if start > 0 {
		cfg.DeliverPolicy = jetstream.DeliverByStartSequencePolicy
		cfg.OptStartSeq = start
	}
	ctx, cancel := context.WithTimeout(context.Background(), l.b.timeout)
	defer cancel()
	cons, err := l.b.js.OrderedConsumer(ctx, l.b.name, cfg)
	if err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopped {
		return nil
	}
	cc, err := cons.Consume(l.handle, jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
		l.b.logger.Warn("natsbroker: listener", "stream", l.b.name, "err", err)
	}))
	if err != nil {
		return err
	}
	l.cc = cc
	return nil
}

func (l *listener) handle(msg jetstream.Msg) {
	ev := new(wsv1.Event)
	if err := proto.Unmarshal(msg.Data(), ev); err != nil {
		l.b.logger.Error("natsbroker: undecodable event", "subject", msg.Subject(), "err", err)
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopped {
		return
	}
	if held := l.groups.add(ev, groupLeft(msg), l.flushStale); held != nil {
		l.fn(held)
	}
}

func (l *listener) stop() { l.stopOnce.Do(l.doStop) }

func (l *listener) doStop() {
	l.mu.Lock()
	l.stopped = true
	cc := l.cc
	l.groups.stop()
	l.mu.Unlock()
	close(l.quit)
	<-l.done
	if cc != nil {
		cc.Stop()
	}
	l.b.mu.Lock()
	delete(l.b.listeners, l)
	l.b.mu.Unlock()
}

// Close implements [ssotws.Broker]: it stops every listener. Publish,
// Position and History then fail with [ssotws.ErrBrokerClosed]. It does not
// close the NATS connection, nor delete the stream.
func (b *Broker) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	ls := slices.Collect(maps.Keys(b.listeners))
	b.mu.Unlock()
	for _, l := range ls {
		l.stop()
	}
	return nil
}
