package protocol

// HTTP headers used by ssot-ws on top of Connect.
const (
	// HeaderIdempotencyKey carries a mutation's request id. A retried request
	// with the same key is not applied twice, and the change events echo it.
	HeaderIdempotencyKey = "Idempotency-Key"
	// HeaderPosition is set on Get and List responses of realtime models: the
	// position of HeaderChannel, read before the store, as "<epoch>:<offset>".
	HeaderPosition = "Ssot-Position"
	// HeaderChannel names the channel whose position HeaderPosition gives.
	HeaderChannel = "Ssot-Channel"
)
