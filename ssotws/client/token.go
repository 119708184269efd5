package client

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"connectrpc.com/connect"
	"github.com/ssot-codegen/ssot-ws/ssotws/protocol"
)

// Token is a bearer token and, when the provider knows it, when it
// expires.
type Token struct {
	// Value is the bearer token; "" means anonymous.
	Value string
	// Expires is when the token stops being valid. A [Conn] refreshes the
	// token on its open socket shortly before (see [RefreshLead]). Zero
	// means unknown: no refresh, the server's 4408 says when.
	Expires time.Time
}

// A TokenSource returns the bearer token to present. One TokenSource
// serves both transports: [ConnOptions].TokenSource calls it before every
// WebSocket connect and before the token expires, [NewTokenInterceptor]
// before every HTTP call. [TokenReasonFrom] tells it why it is called: a
// source that caches its token must return a new one for any reason but
// [TokenCurrent]. It must be safe for concurrent use; [CachedTokens] adds
// the caching to a source that always fetches.
type TokenSource func(ctx context.Context) (Token, error)

// StaticToken returns a TokenSource that always returns token, with no
// known expiry.
func StaticToken(token string) TokenSource {
	return func(context.Context) (Token, error) { return Token{Value: token}, nil }
}

// TokenFunc adapts a provider of plain tokens (no known expiry) to a
// TokenSource.
func TokenFunc(f func(ctx context.Context) (string, error)) TokenSource {
	return func(ctx context.Context) (Token, error) {
		v, err := f(ctx)
		return Token{Value: v}, err
	}
}

// TokenReason says why a [TokenSource] is called.
type TokenReason int

// The reasons a token is asked for.
const (
	// TokenCurrent: a connect or an HTTP call; a cached token that is not
	// about to expire will do.
	TokenCurrent TokenReason = iota
	// TokenRefresh: the token of the open WebSocket expires soon; a token
	// that expires later is wanted, for the same user.
	TokenRefresh
	// TokenExpired: the server said the token had expired (close 4408, or
	// Unauthenticated "token expired" over HTTP).
	TokenExpired
	// TokenRejected: the server refused the token (close 4401, or
	// Unauthenticated over HTTP): it was revoked or is invalid. Return a
	// new one, or an error if the user must sign in again.
	TokenRejected
)

// String returns the reason's lowercase name.
func (r TokenReason) String() string {
	switch r {
	case TokenCurrent:
		return "current"
	case TokenRefresh:
		return "refresh"
	case TokenExpired:
		return "expired"
	case TokenRejected:
		return "rejected"
	}
	return "TokenReason(?)"
}

type tokenReasonKey struct{}

// WithTokenReason returns ctx telling a [TokenSource] why it is called.
func WithTokenReason(ctx context.Context, r TokenReason) context.Context {
	return context.WithValue(ctx, tokenReasonKey{}, r)
}

// TokenReasonFrom returns why the [TokenSource] receiving ctx is called
// ([TokenCurrent] when ctx does not say).
func TokenReasonFrom(ctx context.Context) TokenReason {
	r, _ := ctx.Value(tokenReasonKey{}).(TokenReason)
	return r
}

// RefreshLead is how long before expiry a token that lived lifetime is
// refreshed: 10 % of its lifetime, at most 30 s, but at least 1 s (half
// the lifetime of a token that lives less than 2 s), so that a round trip
// fits before the expiry.
func RefreshLead(lifetime time.Duration) time.Duration {
	if lifetime <= 0 {
		return 0
	}
	return min(30*time.Second, max(lifetime/10, min(time.Second, lifetime/2)))
}

// CachedTokens wraps src, which fetches a token each time it is called,
// with a cache: for [TokenCurrent] the cached token is returned until it
// comes within [RefreshLead] of its expiry (forever without one); every
// other reason fetches a new token. Concurrent callers share one fetch.
func CachedTokens(src TokenSource) TokenSource {
	var (
		mu      sync.Mutex
		cached  *Token
		fetched time.Time
	)
	return func(ctx context.Context) (Token, error) {
		mu.Lock()
		defer mu.Unlock()
		now := time.Now()
		if c := cached; c != nil && TokenReasonFrom(ctx) == TokenCurrent &&
			(c.Expires.IsZero() || now.Before(c.Expires.Add(-RefreshLead(c.Expires.Sub(fetched))))) {
			return *c, nil
		}
		t, err := src(ctx)
		if err != nil {
			cached = nil
			return Token{}, err
		}
		cached, fetched = &t, now
		return t, nil
	}
}

// NewTokenInterceptor returns a Connect client interceptor that sends
// "Authorization: Bearer <token>" from src on every call (nothing when the
// token is ""). When a unary call fails with CodeUnauthenticated, it asks
// src for a new token ([TokenExpired] or [TokenRejected]) and, if that
// gives another token, retries the call once (a mutation keeps its
// Idempotency-Key). Streaming calls get the header but no retry. Use it
// when building the connect-go client the generated constructors take:
//
//	api := chatv1connect.NewChatServiceClient(http.DefaultClient, url,
//		connect.WithInterceptors(client.NewTokenInterceptor(tokens)))
//
// src is called once per call: wrap a source that fetches over the network
// in [CachedTokens].
func NewTokenInterceptor(src TokenSource) connect.Interceptor {
	return &tokenInterceptor{src: src}
}

type tokenInterceptor struct {
	src TokenSource
}

var _ connect.Interceptor = (*tokenInterceptor)(nil)

func (t *tokenInterceptor) token(ctx context.Context, r TokenReason) (string, error) {
	tok, err := t.src(WithTokenReason(ctx, r))
	if err != nil {
		return "", connect.NewError(connect.CodeUnauthenticated, errors.Join(errTokenSource, err))
	}
	return tok.Value, nil
}

var errTokenSource = errors.New("ssotws/client: token source failed")

func setBearer(h http.Header, token string) {
	if token == "" {
		h.Del("Authorization")
		return
	}
	h.Set("Authorization", "Bearer "+token)
}

func (t *tokenInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if !req.Spec().IsClient {
			return next(ctx, req)
		}
		tok, err := t.token(ctx, TokenCurrent)
		if err != nil {
			return nil, err
		}
		setBearer(req.Header(), tok)
		res, err := next(ctx, req)
		if connect.CodeOf(err) != connect.CodeUnauthenticated || ctx.Err() != nil {
			return res, err
		}
		reason := TokenRejected
		if ce := new(connect.Error); errors.As(err, &ce) && ce.Message() == protocol.ErrTokenExpired.Error() {
			reason = TokenExpired
		}
		fresh, ferr := t.token(ctx, reason)
		if ferr != nil || fresh == tok {
			return res, err // nothing new to try
		}
		setBearer(req.Header(), fresh)
		return next(ctx, req)
	}
}

func (t *tokenInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return func(ctx context.Context, spec connect.Spec) connect.StreamingClientConn {
		conn := next(ctx, spec)
		if tok, err := t.token(ctx, TokenCurrent); err == nil {
			setBearer(conn.RequestHeader(), tok)
		}
		return conn
	}
}

func (t *tokenInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}
