package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/coder/websocket"
	chatv1 "github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1"
	"github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1/chatv1connect"
	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// TestRequestBounds: the example's Connect handlers refuse a gzip bomb (a
// 256 MiB message compressed to a quarter MiB) before inflating it, as
// every server built with the generated handler constructor does. The
// process's allocations are measured, not time.
func TestRequestBounds(t *testing.T) {
	broker := ssotws.NewMemoryBroker(nil)
	defer broker.Close()
	srv, err := newServer(ssotws.NewMemoryStore(), broker, broker, "", slog.New(slog.DiscardHandler))
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

// TestMetricsScrape: after a client subscribed and received a message,
// /metrics serves the gateway's series in Prometheus's text format, with
// values that match the traffic.
func TestMetricsScrape(t *testing.T) {
	broker := ssotws.NewMemoryBroker(nil)
	defer broker.Close()
	srv, err := newServer(ssotws.NewMemoryStore(), broker, broker, "", slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	ts := httptest.NewServer(srv.mux)
	defer ts.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(ts.URL, "http")+"/ws",
		&websocket.DialOptions{Subprotocols: []string{ssotws.Subprotocol}})
	require.NoError(t, err)
	defer ws.CloseNow()
	read := func() *wsv1.ServerFrame {
		_, b, err := ws.Read(ctx)
		require.NoError(t, err)
		var f wsv1.ServerFrame
		require.NoError(t, proto.Unmarshal(b, &f))
		return &f
	}
	room := ssotws.ScopeChannel("Message", "room_id", "r1")
	sub, err := proto.Marshal(&wsv1.ClientFrame{Frame: &wsv1.ClientFrame_Subscribe{Subscribe: &wsv1.Subscribe{Id: 1, Channel: room}}})
	require.NoError(t, err)
	require.NoError(t, ws.Write(ctx, websocket.MessageBinary, sub))
	require.NotNil(t, read().GetAck())

	chat := chatv1connect.NewChatServiceClient(ts.Client(), ts.URL)
	for _, text := range []string{"hello", "again"} {
		_, err = chat.CreateMessage(ctx, connect.NewRequest(&chatv1.CreateMessageRequest{Message: &chatv1.Message{RoomId: "r1", Text: text}}))
		require.NoError(t, err)
	}
	for n := 0; n < 2; {
		n += len(read().GetEvents().GetEvents())
	}

	scrape := func() map[string]float64 {
		res, err := ts.Client().Get(ts.URL + "/metrics")
		require.NoError(t, err)
		defer res.Body.Close()
		require.Equal(t, http.StatusOK, res.StatusCode)
		body, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		return parseSeries(string(body))
	}
	// The write loop counts a frame once written: maybe after the client
	// read it.
	var series map[string]float64
	require.Eventually(t, func() bool {
		series = scrape()
		return series["ssotws_gateway_deliveries_total"] == 2
	}, 10*time.Second, time.Millisecond, "%v", series)
	assert.Equal(t, 1.0, series["ssotws_gateway_connections"])
	assert.Equal(t, 1.0, series["ssotws_gateway_subscriptions"])
	assert.Equal(t, 2.0, series["ssotws_gateway_delivery_latency_seconds_count"])
	assert.GreaterOrEqual(t, series["ssotws_gateway_delivery_latency_seconds_sum"], 0.0)
	assert.Less(t, series["ssotws_gateway_delivery_latency_seconds_sum"], 10.0)
	assert.GreaterOrEqual(t, series["ssotws_gateway_queue_depth_count"], 1.0)
	pace, ok := series["ssotws_gateway_write_pace_seconds"]
	assert.True(t, ok, "the write pace is exported")
	assert.Zero(t, pace, "an idle server paces nothing")

	// A refused subscription, then the client leaves.
	bad, err := proto.Marshal(&wsv1.ClientFrame{Frame: &wsv1.ClientFrame_Subscribe{Subscribe: &wsv1.Subscribe{Id: 2, Channel: "Nothing"}}})
	require.NoError(t, err)
	require.NoError(t, ws.Write(ctx, websocket.MessageBinary, bad))
	require.NotNil(t, read().GetError())
	require.NoError(t, ws.Close(websocket.StatusNormalClosure, ""))
	require.Eventually(t, func() bool {
		series = scrape()
		return series["ssotws_gateway_connections"] == 0
	}, 10*time.Second, time.Millisecond, "%v", series)
	assert.Equal(t, 0.0, series["ssotws_gateway_subscriptions"])
	assert.Equal(t, 1.0, series[`ssotws_gateway_subscription_refusals_total{reason="unknown_channel"}`])
}

// parseSeries reads Prometheus's text format into series (name and
// labels, without the scope labels the exporter adds) and values.
func parseSeries(text string) map[string]float64 {
	out := make(map[string]float64)
	for line := range strings.SplitSeq(text, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		name, labels, _ := strings.Cut(line[:i], "{")
		var kept []string
		for l := range strings.SplitSeq(strings.TrimSuffix(labels, "}"), ",") {
			if l != "" && !strings.HasPrefix(l, "otel_scope_") {
				kept = append(kept, l)
			}
		}
		if len(kept) > 0 {
			name += "{" + strings.Join(kept, ",") + "}"
		}
		out[name] += v
	}
	return out
}
