package ssotws

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Defaults of the revocation memory ([ClusterOptions]).
const (
	DefaultRevocationMemory = 5 * time.Minute
	DefaultMaxRevocations   = 10000
)

// errRevoked is what the revocation memory answers for a remembered token;
// the connection is closed with [CloseUnauthenticated].
var errRevoked = errors.New("ssotws: token revoked")

// revocations is a gateway's bounded memory of recent revocations, its own
// and (in a cluster) those of the other nodes. The [Authenticator] remains
// the authority that refuses a revoked token for good; the memory covers
// the moments until it does everywhere: a token revoked on one node and
// presented to another right after, a connection that authenticated while
// the revocation was on its way.
//
// A revoked token id is refused as long as it is remembered. A revoked
// subject refuses the tokens of that subject issued before the revocation
// ([Identity].IssuedAt); a token without IssuedAt cannot be told apart
// from the fresh token of a user who signed in again, so it is let
// through (to the Authenticator's judgement).
//
// Entries expire after ttl; past max entries the oldest are forgotten
// first. Every entry lives for the same ttl, so insertion order is expiry
// order and a FIFO of keys is enough.
type revocations struct {
	ttl time.Duration
	max int
	now func() time.Time // time.Now; tests move it

	mu      sync.Mutex
	entries map[string]revocation
	order   []revocationKey // oldest first
}

type revocation struct {
	at    time.Time // when it was revoked (on the node that revoked it)
	until time.Time // forgotten then (local clock)
}

type revocationKey struct {
	key   string
	until time.Time
}

func newRevocations(ttl time.Duration, max int) *revocations {
	if ttl <= 0 {
		ttl = DefaultRevocationMemory
	}
	if max <= 0 {
		max = DefaultMaxRevocations
	}
	return &revocations{ttl: ttl, max: max, now: time.Now, entries: make(map[string]revocation)}
}

func tokenKey(tokenID string) string   { return "t\x00" + tokenID }
func subjectKey(subject string) string { return "s\x00" + subject }

// add remembers a revocation made at at.
func (r *revocations) add(key string, at time.Time) {
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.expire(now)
	until := now.Add(r.ttl)
	if prev, ok := r.entries[key]; ok && prev.at.After(at) {
		at = prev.at
	}
	r.entries[key] = revocation{at: at, until: until}
	r.order = append(r.order, revocationKey{key, until})
	for len(r.entries) > r.max && len(r.order) > 0 {
		r.pop()
	}
}

// expire forgets the entries whose time is up. r.mu is held.
func (r *revocations) expire(now time.Time) {
	for len(r.order) > 0 && !now.Before(r.order[0].until) {
		r.pop()
	}
	if len(r.order) == 0 {
		r.order = nil // let a large burst's array go
	}
}

// pop forgets the oldest key, unless it was revoked again since (then a
// later element of order stands for it). r.mu is held.
func (r *revocations) pop() {
	k := r.order[0]
	r.order[0] = revocationKey{}
	r.order = r.order[1:]
	if e, ok := r.entries[k.key]; ok && e.until.Equal(k.until) {
		delete(r.entries, k.key)
	}
}

// revoked reports whether id is covered by a remembered revocation.
func (r *revocations) revoked(id *Identity) bool {
	if id == nil {
		return false
	}
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.entries) == 0 {
		return false
	}
	r.expire(now)
	if id.TokenID != "" {
		if _, ok := r.entries[tokenKey(id.TokenID)]; ok {
			return true
		}
	}
	if !id.IssuedAt.IsZero() {
		if e, ok := r.entries[subjectKey(id.Subject)]; ok && id.IssuedAt.Before(e.at) {
			return true
		}
	}
	return false
}

// len returns the number of remembered revocations.
func (r *revocations) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.expire(r.now())
	return len(r.entries)
}

// checkRevoked wraps the gateway's Authenticator: an identity the
// revocation memory covers is refused as a rejected token is.
type checkRevoked struct {
	Authenticator
	r *revocations
}

func (a checkRevoked) Authenticate(ctx context.Context, token string) (*Identity, error) {
	id, err := a.Authenticator.Authenticate(ctx, token)
	if err == nil && a.r.revoked(id) {
		return nil, errRevoked
	}
	return id, err
}

// Revoke closes every connection authenticated as subject with
// [CloseUnauthenticated] (reason "revoked") and returns how many it
// closed on this gateway (connections already closing are not counted).
// When the broker is a [ControlBroker], the gateways of the other nodes
// close theirs too, moments later. It does not stop the subject from
// connecting again: the [Authenticator] must refuse the revoked tokens from
// now on (a deny list, a token version, a short token lifetime). Call
// Revoke after updating it. Meanwhile, for [ClusterOptions].RevocationMemory,
// every gateway refuses the subject's tokens issued before the revocation
// (those whose [Identity].IssuedAt says so).
func (g *Gateway) Revoke(subject string) int {
	if subject == "" {
		return 0
	}
	at := time.Now()
	g.cluster.revoked(subject, "", at)
	return g.applyRevoke(subject, "", at)
}

// RevokeToken closes every connection authenticated with the token whose
// [Identity].TokenID is tokenID, like [Gateway.Revoke]. Connections of the
// same subject with other tokens stay open. An empty tokenID matches
// nothing. Every gateway refuses the token for
// [ClusterOptions].RevocationMemory.
func (g *Gateway) RevokeToken(tokenID string) int {
	if tokenID == "" {
		return 0
	}
	at := time.Now()
	g.cluster.revoked("", tokenID, at)
	return g.applyRevoke("", tokenID, at)
}

// applyRevoke remembers a revocation of subject or tokenID made at at
// (here or on another node) and closes the matching connections.
func (g *Gateway) applyRevoke(subject, tokenID string, at time.Time) int {
	switch {
	case tokenID != "":
		g.revoked.add(tokenKey(tokenID), at)
		return g.revoke(func(id *Identity) bool { return id.TokenID == tokenID })
	case subject != "":
		g.revoked.add(subjectKey(subject), at)
		return g.revoke(func(id *Identity) bool { return id.Subject == subject })
	}
	return 0
}

func (g *Gateway) revoke(match func(*Identity) bool) int {
	g.mu.Lock()
	var hit []*conn
	for c := range g.conns {
		if id := c.identity.Load(); id != nil && match(id) {
			hit = append(hit, c)
		}
	}
	g.mu.Unlock()
	n := 0
	for _, c := range hit {
		if c.refuse(refuseRevoked, "", "revoked") {
			n++
		}
	}
	return n
}
