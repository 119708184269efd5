package protocol

import "errors"

// Sentinel errors that server and clients share. The server returns them
// (wrapped or not) and maps them to Connect codes; their text is what the
// Connect error's message carries, so a client can tell them apart, and the
// Go client returns the same values so that errors.Is works on both sides.
var (
	// ErrNotFound: the record does not exist (or was deleted).
	ErrNotFound = errors.New("ssotws: record not found")
	// ErrAlreadyExists: a record with this key exists.
	ErrAlreadyExists = errors.New("ssotws: record already exists")
	// ErrVersionConflict: the record's version is not the expected one.
	ErrVersionConflict = errors.New("ssotws: version conflict")
	// ErrInvalidPageToken: the page token was not issued by this store.
	ErrInvalidPageToken = errors.New("ssotws: invalid page token")

	// ErrUnauthenticated: the caller has no identity, or not a valid one.
	ErrUnauthenticated = errors.New("ssotws: unauthenticated")
	// ErrForbidden: the identity may not do this.
	ErrForbidden = errors.New("ssotws: forbidden")
	// ErrTokenExpired: the token was valid but has expired. The gateway
	// closes with [CloseTokenExpired] rather than [CloseUnauthenticated],
	// and the Connect interceptor's Unauthenticated error carries this
	// text, so that a client knows to ask for a fresh token.
	ErrTokenExpired = errors.New("ssotws: token expired")
)
