package client

import (
	"encoding/json"
	"math"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// policyTable is testdata/reconnect-policy.json, which the TypeScript
// tests read too (ts/test/policy.test.ts).
type policyTable struct {
	Backoff struct {
		Bounds []struct {
			Attempt int     `json:"attempt"`
			MinMs   float64 `json:"minMs"`
			MaxMs   float64 `json:"maxMs"`
		} `json:"bounds"`
	} `json:"backoff"`
	Cases []struct {
		Name string `json:"name"`
		Drop struct {
			Code        int  `json:"code"`
			Accepted    bool `json:"accepted"`
			TokenFailed bool `json:"tokenFailed"`
			TooLarge    bool `json:"tooLarge"`
		} `json:"drop"`
		State struct {
			Attempt     int    `json:"attempt"`
			AuthRetried bool   `json:"authRetried"`
			Reason      string `json:"reason"`
			Provider    bool   `json:"provider"`
		} `json:"state"`
		Want struct {
			Do      string `json:"do"`
			Backoff int    `json:"backoff"`
			Reason  string `json:"reason"`
			Report  bool   `json:"report"`
			Resume  bool   `json:"resume"`
			Next    struct {
				Attempt     int  `json:"attempt"`
				AuthRetried bool `json:"authRetried"`
			} `json:"next"`
		} `json:"want"`
	} `json:"cases"`
}

func readPolicyTable(t *testing.T) policyTable {
	t.Helper()
	b, err := os.ReadFile("../../testdata/reconnect-policy.json")
	require.NoError(t, err)
	var tab policyTable
	require.NoError(t, json.Unmarshal(b, &tab))
	require.NotEmpty(t, tab.Cases)
	require.NotEmpty(t, tab.Backoff.Bounds)
	return tab
}

func parseReason(t *testing.T, s string) TokenReason {
	t.Helper()
	for r := TokenCurrent; r <= TokenRejected; r++ {
		if r.String() == s || (s == "" && r == TokenCurrent) {
			return r
		}
	}
	require.Failf(t, "unknown token reason", "%q", s)
	return 0
}

func TestPolicyTable(t *testing.T) {
	for _, c := range readPolicyTable(t).Cases {
		t.Run(c.Name, func(t *testing.T) {
			got := policy(
				drop{Code: c.Drop.Code, Accepted: c.Drop.Accepted, TokenFailed: c.Drop.TokenFailed, TooLarge: c.Drop.TooLarge},
				redialState{Attempt: c.State.Attempt, AuthRetried: c.State.AuthRetried,
					Reason: parseReason(t, c.State.Reason), Provider: c.State.Provider},
			)
			assert.Equal(t, c.Want.Do, got.Do.String(), "do")
			if got.Do == redialAfterBackoff {
				assert.Equal(t, c.Want.Backoff, got.Backoff, "backoff")
			}
			assert.Equal(t, c.Want.Reason, got.Reason.String(), "reason")
			assert.Equal(t, c.Want.Report, got.Report, "report")
			assert.Equal(t, c.Want.Resume, got.Resume, "resume")
			assert.Equal(t, c.Want.Next.Attempt, got.Next.Attempt, "next attempt")
			assert.Equal(t, c.Want.Next.AuthRetried, got.Next.AuthRetried, "next authRetried")
			assert.Equal(t, got.Reason, got.Next.Reason, "the next dial's reason")
			assert.Equal(t, c.State.Provider, got.Next.Provider, "provider")
		})
	}
}

func TestBackoffBounds(t *testing.T) {
	var b Backoff // the defaults: 1 s doubling to 16 s
	for _, bound := range readPolicyTable(t).Backoff.Bounds {
		lo := time.Duration(bound.MinMs) * time.Millisecond
		hi := time.Duration(bound.MaxMs) * time.Millisecond
		assert.Equal(t, lo, b.delayAt(bound.Attempt, 0), "attempt %d, no jitter", bound.Attempt)
		assert.InDelta(t, float64(hi), float64(b.delayAt(bound.Attempt, math.Nextafter(1, 0))), float64(time.Microsecond),
			"attempt %d, most jitter", bound.Attempt)
		for range 50 {
			d := b.Delay(bound.Attempt)
			assert.GreaterOrEqual(t, d, lo, "attempt %d", bound.Attempt)
			assert.LessOrEqual(t, d, hi, "attempt %d", bound.Attempt)
		}
	}
}
