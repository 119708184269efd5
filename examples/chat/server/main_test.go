package main

import (
	"bytes"
	"compress/gzip"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"

	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protowire"
)

// TestRequestBounds: the example's Connect handlers refuse a gzip bomb (a
// 256 MiB message compressed to a quarter MiB) before inflating it, as
// every server built with the generated handler constructor does. The
// process's allocations are measured, not time.
func TestRequestBounds(t *testing.T) {
	broker := ssotws.NewMemoryBroker(nil)
	defer broker.Close()
	srv, err := newServer(ssotws.NewMemoryStore(), broker, "", slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	ts := httptest.NewServer(srv.mux)
	defer ts.Close()

	const inflated = 256 << 20
	text := protowire.AppendTag(nil, 4, protowire.BytesType) // Message.text
	text = protowire.AppendVarint(text, inflated)
	head := protowire.AppendTag(nil, 1, protowire.BytesType) // CreateMessageRequest.message
	head = protowire.AppendVarint(head, uint64(len(text)+inflated))
	var body bytes.Buffer
	zw, err := gzip.NewWriterLevel(&body, gzip.BestCompression)
	require.NoError(t, err)
	_, err = zw.Write(append(head, text...))
	require.NoError(t, err)
	zeros := make([]byte, 1<<20)
	for range inflated / len(zeros) {
		_, err = zw.Write(zeros)
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())

	req, err := http.NewRequest(http.MethodPost, ts.URL+"/chat.v1.ChatService/CreateMessage", &body)
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/proto")
	req.Header.Set("Content-Encoding", "gzip")
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	answer, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
	res.Body.Close()
	runtime.ReadMemStats(&after)
	t.Logf("HTTP %d %s; %d bytes allocated", res.StatusCode, answer, after.TotalAlloc-before.TotalAlloc)
	assert.Contains(t, string(answer), "resource_exhausted")
	assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(64<<20), "bytes allocated while serving the bomb")
}
