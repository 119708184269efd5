// Package natsbroker is an [ssotws.Broker] on NATS JetStream: the engine
// for a service that runs on several nodes. A mutation committed on one node
// reaches the gateways of every node, and since the history of every channel
// lives in a JetStream stream, a client that reconnects to a restarted node
// (or to another one) resumes from its last position instead of refetching.
//
//	nc, err := nats.Connect(url)
//	js, err := jetstream.New(nc)
//	broker, err := natsbroker.New(ctx, js, nil) // stream "SSOTWS"
//	defer broker.Close()
//	svc := chatv1ssotws.NewChatService(store, broker, nil)
//	gw := ssotws.NewGateway(broker, nil)
//
// # Layout
//
// One stream (Options.Stream, default "SSOTWS") holds every channel. A
// channel is the subject <prefix>.<token>, where token is the channel name
// in unpadded base64url (NATS subject tokens cannot hold '.', '*', '>' or
// spaces) and prefix is Options.SubjectPrefix (default "ssotws"). A message
// is one [wsv1.Event], protobuf-encoded, with its Position already stamped.
// The stream keeps Options.HistorySize messages per subject
// (MaxMsgsPerSubject, default 1000) and optionally drops those older than
// Options.MaxAge.
//
// # Positions
//
// The epoch is the stream's creation time in microseconds since 1970
// (below 2^53, so JavaScript numbers hold it exactly): every node reads the
// same one, and deleting the stream (which loses the history) changes it, so
// clients that resume are told to refetch.
//
// A channel's offset is the offset of its last message plus one. Publish
// writes with JetStream's optimistic concurrency check
// (Nats-Expected-Last-Subject-Sequence: the stream sequence of the channel's
// last message): when another node published to the channel in between, the
// write is refused, the broker reads the channel's last message again and
// retries with the next offset. Two nodes therefore never assign one offset
// twice, and the offsets of a channel are gap-free in the stream's order.
// Each node remembers the (sequence, offset) of the channels it published
// to (up to 65536 of them), so an uncontended publish is one round trip;
// within a node,
// publishes to one channel are serialized, so conflicts only arise between
// nodes.
//
// Since the counter lives in the channel's last message, nothing may remove
// that message while the stream lives: MaxMsgsPerSubject never does. With
// MaxAge, a channel idle for longer loses every message; its next event
// then starts above every offset it could ever have had (the stream's last
// sequence plus one), so a position is never reused: a client resuming
// across that jump gets a Reset. Do not purge the stream by hand: delete it
// (the epoch changes) or let MaxAge act.
//
// # Publish
//
// The events of one Publish call are grouped by channel; the channels are
// written concurrently, the events of each channel one after the other, in
// order. Each event of a group says how many follow ([HeaderGroupLeft]):
// a listener holds what it reads until every group is complete, and hands
// each group over in one call, so that a subscriber gets a batch write's
// events of a channel in one frame. A group whose publisher failed
// half-way is handed over as it is after a second. A channel this node has not published to yet is first assumed
// empty (a new record's item channel is), which a refused write corrects.
// When a write fails, Publish returns the error once the other channels are
// done: whatever was written stays published (and delivered), the rest of
// that channel's events are not. The [ssotws.Resource] then answers
// Unavailable, and a retry with the same Idempotency-Key publishes every
// event again under new offsets; clients apply events by record version, so
// the repeats are harmless.
//
// # Listen and History
//
// Listen starts an ordered JetStream consumer on <prefix>.> from the
// stream's next sequence: it sees every stored event of every node, in the
// stream's order, which is each channel's offset order, and never a refused
// write (a core NATS subscription would see those). Messages are pulled in
// batches, so a slow listener never slows publishers: the stream holds the
// backlog.
//
// History reads the channel's last message and, when events are missing,
// walks back through the previous-message sequence each message carries in
// a header (short gaps) or reads the channel with an ordered consumer
// filtered to its subject (long ones). Reads go to the stream leader (the
// stream does not allow direct gets), so Position and History never lag
// behind what Listen has delivered.
//
// # Control messages
//
// A Broker is an [ssotws.ControlBroker]: the gateways of all nodes
// exchange revocations and per-user connection counts over the core NATS
// subject <prefix>_control (outside the stream, never stored; see
// docs/security.md). These are small JSON messages: one per revocation, one
// per change of a user's connection count on a node (changes made while
// one is being sent travel together), a heartbeat per node every Lease/3,
// and a node's full counts when a node joins or notices it missed one.
//
// # Concurrency
//
// A Broker is safe for concurrent use. Listen callbacks of one listener are
// never concurrent; each listener has its own consumer. Close stops the
// listeners but leaves the NATS connection to its owner.
package natsbroker
