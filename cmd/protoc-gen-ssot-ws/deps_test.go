package main

import (
	"testing"

	"github.com/ssot-codegen/ssot-ws/internal/godeps"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPluginDoesNotLinkTheRuntime keeps the plugin binary small and free of
// the server: it needs the protocol vocabulary (package protocol), never
// the gateway, Connect or a WebSocket library.
func TestPluginDoesNotLinkTheRuntime(t *testing.T) {
	deps := godeps.List(t, ".")
	require.Contains(t, deps, "github.com/ssot-codegen/ssot-ws/ssotws/protocol")
	assert.Empty(t, godeps.Matching(deps, "connectrpc.com/connect"), "the plugin links Connect")
	assert.Empty(t, godeps.Matching(deps, "github.com/coder/websocket"), "the plugin links the WebSocket library")
	assert.NotContains(t, deps, "github.com/ssot-codegen/ssot-ws/ssotws", "the plugin links the server runtime")
}
