package ssotws

import (
	"context"
	"time"
)

// Identity is an authenticated caller.
type Identity struct {
	// Subject identifies the user. Owner fields are compared with it.
	Subject string
	// TokenID identifies the token, for revocation. Optional.
	TokenID string
	// Expires is when the token stops being valid. Zero means never.
	Expires time.Time
	// IssuedAt is when the token was issued (a JWT's iat). Optional: with
	// it, a [Gateway.Revoke] of the subject also refuses, for a while, the
	// subject's tokens issued before the revocation (see
	// [ClusterOptions].RevocationMemory).
	IssuedAt time.Time
	// Claims holds whatever else the Authenticator wants to keep.
	Claims map[string]any
}

// An Authenticator turns a bearer token into an Identity. One Authenticator
// serves both the Connect interceptor and the gateway. It must be safe for
// concurrent use.
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (*Identity, error)
}

// AuthenticatorFunc adapts a function to [Authenticator].
type AuthenticatorFunc func(ctx context.Context, token string) (*Identity, error)

// Authenticate calls f.
func (f AuthenticatorFunc) Authenticate(ctx context.Context, token string) (*Identity, error) {
	return f(ctx, token)
}

type identityKey struct{}

// WithIdentity returns a context carrying id.
func WithIdentity(ctx context.Context, id *Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

// IdentityFrom returns the identity carried by ctx, or nil.
func IdentityFrom(ctx context.Context) *Identity {
	id, _ := ctx.Value(identityKey{}).(*Identity)
	return id
}

// Expired reports whether id's token has expired at now. An Identity with
// a zero Expires never expires.
func (id *Identity) Expired(now time.Time) bool {
	return id != nil && !id.Expires.IsZero() && !now.Before(id.Expires)
}
