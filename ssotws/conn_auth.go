package ssotws

import (
	"context"
	"encoding/base64"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"
)

// A connection's authentication: the credentials of the handshake, the
// admission of a connection, Auth frames and the token's expiry.

// credentialsOf finds the token of a handshake: in the subprotocols or,
// when allowed, in the "token" query parameter. The subprotocol wins when
// both are offered. A "token" query parameter while they are not allowed
// refuses the handshake even next to a subprotocol token: the client put a
// secret in a URL, and it must hear so rather than have it ignored.
func credentialsOf(r *http.Request, allowQuery bool) credentials {
	q := r.URL.Query()
	if q.Has("token") && !allowQuery {
		return credentials{queryRefused: true}
	}
	if token, ok := tokenFromProtocols(r.Header); ok {
		return credentials{token: token, hasToken: true}
	}
	if !q.Has("token") {
		return credentials{}
	}
	return credentials{token: q.Get("token"), hasToken: true}
}

// tokenFromProtocols finds the token offered as an "ssot.auth.<base64url>"
// subprotocol.
func tokenFromProtocols(h http.Header) (string, bool) {
	for _, v := range h.Values("Sec-WebSocket-Protocol") {
		for p := range strings.SplitSeq(v, ",") {
			p = strings.TrimSpace(p)
			if enc, ok := strings.CutPrefix(p, AuthSubprotocolPrefix); ok {
				b, err := base64.RawURLEncoding.DecodeString(enc)
				if err != nil {
					return "", true // an offered but unreadable token fails authentication
				}
				return string(b), true
			}
		}
	}
	return "", false
}

// admit authenticates the connection with what its handshake offered. It
// returns false when the connection is closing.
func (c *conn) admit(cred credentials) bool {
	o := &c.g.opts
	switch {
	case o.RequireAuth && o.Authenticator == nil:
		c.refuse(refuseAuthRequired, "", "authentication required", slog.String("detail", "RequireAuth without an Authenticator"))
		return false
	case cred.queryRefused:
		c.refuse(refuseTokenInURL, "", "a token in the URL is not accepted")
		return false
	case cred.hasToken:
		return c.authenticate(cred.token)
	case o.RequireAuth:
		c.authDeadline = time.AfterFunc(o.AuthTimeout, func() {
			if c.identity.Load() == nil {
				c.refuse(refuseAuthRequired, "", "no Auth frame in time")
			}
		})
	}
	return true
}

// authenticate checks token and adopts its identity; it runs on the read
// loop. A connection keeps one subject: a token for another subject closes
// it with [CloseForbidden]. A fresh token for the same subject refreshes
// the connection: its expiry moves, and every subscription is authorized
// again (those no longer allowed are dropped with an Error frame). It
// returns false when the connection is closing.
func (c *conn) authenticate(token string) bool {
	a := c.g.opts.Authenticator
	if a == nil {
		return true // nobody to ask: the connection stays anonymous
	}
	var id *Identity
	err := c.g.safe("Authenticator", func() error {
		var err error
		id, err = a.Authenticate(c.ctx, token)
		return err
	})
	switch {
	case errors.Is(err, ErrTokenExpired) || err == nil && id.Expired(time.Now()):
		user := ""
		if id != nil {
			user = id.Subject
		}
		c.refuse(refuseExpired, user, "token expired", errAttr(err, token))
		return false
	case err != nil || id == nil || id.Subject == "":
		c.refuse(refuseToken, "", "unauthenticated", errAttr(err, token))
		return false
	}
	prev := c.identity.Load()
	if prev != nil && prev.Subject != id.Subject {
		c.refuse(refuseIdentityChanged, prev.Subject, "identity changed", slog.String("new_user", id.Subject))
		return false
	}
	if prev == nil {
		if !c.g.acquireUser(id.Subject) {
			c.refuse(refuseUserLimit, id.Subject, "too many connections for this user",
				slog.Int("limit", c.g.opts.Limits.MaxConnsPerUser))
			return false
		}
		c.user = id.Subject
	}
	c.identity.Store(id)
	if logger := c.g.logger; logger != nil && logger.Enabled(context.Background(), slog.LevelDebug) {
		msg := "ssotws: connection authenticated"
		if prev != nil {
			msg = "ssotws: connection reauthenticated"
		}
		logger.LogAttrs(context.Background(), slog.LevelDebug, msg,
			slog.Uint64("conn", c.seq), slog.String("user", id.Subject), slog.Time("expires", id.Expires))
	}
	c.armExpiry(id)
	c.recheck()
	c.g.presence.recheck(c)
	return true
}

// armExpiry closes the connection with [CloseTokenExpired] when id
// expires, unless another identity was adopted by then.
func (c *conn) armExpiry(id *Identity) {
	if c.expiry != nil {
		c.expiry.Stop()
		c.expiry = nil
	}
	if id.Expires.IsZero() {
		return
	}
	c.expiry = time.AfterFunc(time.Until(id.Expires), func() {
		if c.identity.Load() == id {
			c.refuse(refuseExpired, "", "token expired")
		}
	})
}
