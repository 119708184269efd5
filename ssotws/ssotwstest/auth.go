package ssotwstest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"

	"github.com/ssot-codegen/ssot-ws/ssotws"
)

// errNotIssued is the error of a token the server did not issue. The
// interceptor and the gateway keep it on the server: the caller sees
// "invalid token".
var errNotIssued = errors.New("ssotwstest: a token this server did not issue")

// issuer issues opaque tokens for identities and is the
// [ssotws.Authenticator] that accepts them, and only them.
type issuer struct {
	mu      sync.Mutex
	byToken map[string]*ssotws.Identity
	byUser  map[string]string // the token Token(user) issued
	seq     int
}

func newIssuer() *issuer {
	return &issuer{byToken: make(map[string]*ssotws.Identity), byUser: make(map[string]string)}
}

// Authenticate implements [ssotws.Authenticator].
func (i *issuer) Authenticate(_ context.Context, token string) (*ssotws.Identity, error) {
	i.mu.Lock()
	defer i.mu.Unlock()
	id, ok := i.byToken[token]
	if !ok {
		return nil, errNotIssued
	}
	cp := *id
	return &cp, nil
}

// issue returns a new token for a copy of id.
func (i *issuer) issue(id ssotws.Identity) string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	i.mu.Lock()
	defer i.mu.Unlock()
	i.seq++
	if id.TokenID == "" {
		id.TokenID = fmt.Sprintf("test-token-%d", i.seq)
	}
	token := "ssotwstest." + hex.EncodeToString(b[:])
	i.byToken[token] = &id
	return token
}

// user returns the token of the user named name, issuing it the first
// time.
func (i *issuer) user(name string) string {
	i.mu.Lock()
	token, ok := i.byUser[name]
	i.mu.Unlock()
	if ok {
		return token
	}
	token = i.issue(ssotws.Identity{Subject: name})
	i.mu.Lock()
	defer i.mu.Unlock()
	if prev, ok := i.byUser[name]; ok {
		return prev // issued meanwhile by another goroutine; both are valid
	}
	i.byUser[name] = token
	return token
}

// Token returns the token the user named user presents: "" for the empty
// name (anonymous); with Options.Token, what it returns; with an
// Options.Authenticator and no Options.Token, the name itself; otherwise
// a token the server issues the first time the name is asked for (then
// the same one), for an [ssotws.Identity] whose Subject is user. The
// owner fields of records the user creates hold that name.
func (s *Server) Token(user string) string {
	switch {
	case user == "":
		return ""
	case s.tokenOf != nil:
		return s.tokenOf(user)
	case s.tokens == nil:
		return user
	}
	return s.tokens.user(user)
}

// Issue returns a new token for id (a copy of it): its Subject, Claims,
// and Expires, which the interceptor and the gateway enforce (a
// connection is closed with 4408 when it passes). A TokenID is made up
// when id has none. Each call issues another token. It fails the test
// when the server was given its own Options.Authenticator, which would
// not accept the token.
func (s *Server) Issue(id *ssotws.Identity) string {
	s.tb.Helper()
	if s.tokens == nil {
		s.tb.Fatalf("ssotwstest: Issue needs the server's own authenticator; Options.Authenticator is set")
	}
	if id == nil || id.Subject == "" {
		s.tb.Fatalf("ssotwstest: Issue needs an identity with a Subject")
	}
	return s.tokens.issue(*id)
}
