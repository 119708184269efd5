package ssotws

import (
	"log/slog"

	"github.com/coder/websocket"
)

// SetOnClose makes g report every close it starts. Call it before serving.
func SetOnClose(g *Gateway, fn func(code websocket.StatusCode)) { g.onClose = fn }

func newDiscardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// Started returns how many subscriptions of channel have queued their
// replay (or Reset) and Ack and gone live.
func Started(g *Gateway, channel string) int {
	sh := g.hub.shard(channel)
	sh.mu.RLock()
	subs := append([]*subscription(nil), sh.subs[channel]...)
	sh.mu.RUnlock()
	n := 0
	for _, s := range subs {
		s.c.q.mu.Lock()
		if !s.pending {
			n++
		}
		s.c.q.mu.Unlock()
	}
	return n
}
