package ssotws

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"connectrpc.com/connect"
)

// AuthInterceptorOptions configures [NewAuthInterceptor]. A nil
// *AuthInterceptorOptions means the defaults.
type AuthInterceptorOptions struct {
	// RequireAuth refuses a call that carries no token with
	// CodeUnauthenticated. By default such a call goes on anonymously, and
	// the model's access rules decide (PUBLIC models serve it).
	RequireAuth bool
	// Logger receives Authenticator panics. Nil means slog.Default.
	Logger *slog.Logger
	// Now is the clock used to check Identity.Expires. Nil means time.Now.
	Now func() time.Time
}

// NewAuthInterceptor returns a Connect interceptor that authenticates the
// calls a handler receives with auth, the same [Authenticator] the
// [Gateway] uses. It reads the token from the "Authorization: Bearer
// <token>" request header (RFC 6750) and puts the [Identity] in the
// handler's context, where [IdentityFrom] and [Resource] find it.
//
//   - no Authorization header: the call is anonymous (or, with RequireAuth,
//     fails with CodeUnauthenticated);
//   - a header that is not a Bearer token, a token auth rejects, or an
//     identity that has already expired: CodeUnauthenticated, with a
//     "WWW-Authenticate: Bearer" header;
//   - an Authenticator that panics: CodeInternal; the panic is logged.
//
// Client-side calls pass through untouched. Mount it on the handlers (the
// generated constructor, which bounds requests before they are decoded):
//
//	path, h := chatv1ssotws.NewChatServiceHandler(svc,
//		connect.WithInterceptors(ssotws.NewAuthInterceptor(auth, nil)))
func NewAuthInterceptor(auth Authenticator, opts *AuthInterceptorOptions) connect.Interceptor {
	var o AuthInterceptorOptions
	if opts != nil {
		o = *opts
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &authInterceptor{auth: auth, opts: o}
}

// NewAuthFunc returns the authentication [NewAuthInterceptor] performs,
// for adapters to other RPC stacks (ssotws/connectv2 builds connect-go
// v2's interceptor on it): given a call's context and request headers, it
// returns the context carrying the caller's [Identity], or a
// *connect.Error as the interceptor's (CodeUnauthenticated with a
// "WWW-Authenticate: Bearer" metadata header, or CodeInternal).
func NewAuthFunc(auth Authenticator, opts *AuthInterceptorOptions) func(ctx context.Context, h http.Header) (context.Context, error) {
	return NewAuthInterceptor(auth, opts).(*authInterceptor).authenticate
}

type authInterceptor struct {
	auth Authenticator
	opts AuthInterceptorOptions
}

var _ connect.Interceptor = (*authInterceptor)(nil)

func (a *authInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if req.Spec().IsClient {
			return next(ctx, req)
		}
		ctx, err := a.authenticate(ctx, req.Header())
		if err != nil {
			return nil, err
		}
		return next(ctx, req)
	}
}

func (a *authInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (a *authInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		ctx, err := a.authenticate(ctx, conn.RequestHeader())
		if err != nil {
			return err
		}
		return next(ctx, conn)
	}
}

// authenticate returns ctx carrying the caller's identity, if any.
func (a *authInterceptor) authenticate(ctx context.Context, h http.Header) (context.Context, error) {
	token, present, err := BearerToken(h)
	if err != nil {
		return ctx, unauthenticated(err)
	}
	if !present {
		if a.opts.RequireAuth {
			return ctx, unauthenticated(errors.New("ssotws: an Authorization: Bearer token is required"))
		}
		return ctx, nil
	}
	id, err := a.call(ctx, token)
	switch {
	case errors.Is(err, errAuthenticatorPanicked):
		return ctx, connect.NewError(connect.CodeInternal, errors.New("ssotws: authentication failed"))
	case errors.Is(err, ErrTokenExpired):
		return ctx, unauthenticated(ErrTokenExpired)
	case err != nil || id == nil || id.Subject == "":
		// The Authenticator's own error stays on the server: it may say
		// more about the token than its bearer should learn.
		return ctx, unauthenticated(errors.New("ssotws: invalid token"))
	case id.Expired(a.opts.Now()):
		return ctx, unauthenticated(ErrTokenExpired)
	}
	return WithIdentity(ctx, id), nil
}

var errAuthenticatorPanicked = errors.New("ssotws: Authenticator panicked")

func (a *authInterceptor) call(ctx context.Context, token string) (id *Identity, err error) {
	defer func() {
		if r := recover(); r != nil {
			a.opts.Logger.Error("ssotws: hook panicked", "hook", "Authenticator", "panic", r, "stack", string(debug.Stack()))
			id, err = nil, errAuthenticatorPanicked
		}
	}()
	return a.auth.Authenticate(ctx, token)
}

func unauthenticated(err error) error {
	ce := connect.NewError(connect.CodeUnauthenticated, err)
	ce.Meta().Set("WWW-Authenticate", "Bearer")
	return ce
}

// BearerToken returns the token of an "Authorization: Bearer <token>"
// header. present is false when there is no Authorization header; err is
// set when there is one but it does not hold a Bearer token.
func BearerToken(h http.Header) (token string, present bool, err error) {
	v := h.Values("Authorization")
	if len(v) == 0 {
		return "", false, nil
	}
	if len(v) > 1 {
		return "", true, errors.New("ssotws: more than one Authorization header")
	}
	scheme, token, ok := strings.Cut(strings.TrimSpace(v[0]), " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", true, fmt.Errorf("ssotws: the Authorization header must be %q", "Bearer <token>")
	}
	return token, true, nil
}
