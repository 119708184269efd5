package client_test

import (
	"testing"

	"github.com/ssot-codegen/ssot-ws/internal/testkit"
)

// proxy is a TCP proxy on loopback that can cut every connection it
// carries, to simulate a network failure between clients and the server
// (testkit.Proxy, shared with the multi-node convergence test).
type proxy struct{ p *testkit.Proxy }

func newProxy(t testing.TB, target string) *proxy {
	t.Helper()
	return &proxy{testkit.NewProxy(t, target)}
}

func (p *proxy) addr() string { return p.p.Addr() }

// cut closes every connection the proxy carries now. It returns how many
// client connections it cut.
func (p *proxy) cut() int { return p.p.Cut() }

// cutRandom closes each connection pair the proxy carries with
// probability one half.
func (p *proxy) cutRandom(r interface{ IntN(int) int }) { p.p.CutRandom(r) }
