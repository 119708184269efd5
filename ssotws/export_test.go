package ssotws

import (
	"log/slog"

	"github.com/coder/websocket"
)

// SetOnClose makes g report every close it starts. Call it before serving.
func SetOnClose(g *Gateway, fn func(code websocket.StatusCode)) { g.onClose = fn }

func newDiscardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
