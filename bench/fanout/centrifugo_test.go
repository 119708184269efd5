package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Messages as Centrifugo v6.9.1 sends them over its JSON WebSocket
// protocol (captured from a real server, client ids shortened).
const (
	centConnectReplies = `{"id":1,"connect":{"client":"0cb59c92","version":"0.0.0 OSS","ping":25,"pong":true}}` + "\n" + `{"id":2,"subscribe":{}}`
	centSubscribeError = `{"id":1,"connect":{"client":"6a1518bf","version":"0.0.0 OSS","ping":25,"pong":true}}` + "\n" + `{"id":2,"error":{"code":103,"message":"permission denied"}}`
	centPushFormat     = `{"push":{"channel":"bench","pub":{"data":{"room_id":"bench","author":"bench","text":"%s"},"offset":%d}}}`
)

type centEvent struct {
	offset uint64
	stamp  int64
}

func parseCentEvents(t *testing.T, b string) (centrifugoMessage, []centEvent, error) {
	t.Helper()
	var evs []centEvent
	m, err := parseCentrifugo([]byte(b), func(off uint64, stamp int64) { evs = append(evs, centEvent{off, stamp}) })
	return m, evs, err
}

func TestParseCentrifugo(t *testing.T) {
	text := stampText(64)
	stamp := parseStamp([]byte(text))

	m, evs, err := parseCentEvents(t, centConnectReplies)
	require.NoError(t, err)
	assert.Equal(t, centrifugoMessage{replies: 2}, m)
	assert.Empty(t, evs)

	// Several pushes in one WebSocket message, one per line, as
	// Centrifugo's writer merges them; the second has no stamp.
	batch := strings.Join([]string{
		fmt.Sprintf(centPushFormat, text, 41),
		fmt.Sprintf(centPushFormat, "no stamp", 42),
		fmt.Sprintf(centPushFormat, text, 43),
	}, "\n")
	m, evs, err = parseCentEvents(t, batch)
	require.NoError(t, err)
	assert.Equal(t, centrifugoMessage{pushes: 3}, m)
	assert.Equal(t, []centEvent{{41, stamp}, {42, 0}, {43, stamp}}, evs)

	m, _, err = parseCentEvents(t, "{}")
	require.NoError(t, err)
	assert.True(t, m.ping, "an empty object is the server's ping")

	_, _, err = parseCentEvents(t, centSubscribeError)
	require.ErrorContains(t, err, "permission denied")

	// Pushes that are not publications are not counted.
	m, evs, err = parseCentEvents(t, `{"push":{"channel":"bench","join":{"info":{"client":"c"}}}}`)
	require.NoError(t, err)
	assert.Zero(t, m.pushes)
	assert.Empty(t, evs)

	for _, bad := range []string{
		fmt.Sprintf(centPushFormat, text, 41)[:50], // truncated
		`[1,2]`,
		`{"result":{}}`, // neither a push nor a reply
	} {
		_, _, err := parseCentEvents(t, bad)
		require.Error(t, err, "%q", bad)
	}
}

// TestCentrifugoFramesPong checks that a client answers a ping with a pong
// and nothing else with anything.
func TestCentrifugoFramesPong(t *testing.T) {
	reply, err := centrifugoFrames([]byte("{}"), func(uint64, int64) {})
	require.NoError(t, err)
	assert.Equal(t, "{}", string(reply))
	reply, err = centrifugoFrames([]byte(fmt.Sprintf(centPushFormat, "x", 1)), func(uint64, int64) {})
	require.NoError(t, err)
	assert.Nil(t, reply)
}

func TestCentrifugoConfig(t *testing.T) {
	b, err := centrifugoConfig(8123)
	require.NoError(t, err)
	var c struct {
		HTTPServer struct {
			Address string `json:"address"`
			Port    int    `json:"port"`
		} `json:"http_server"`
		Client struct {
			Insecure bool `json:"insecure"`
		} `json:"client"`
		HTTPAPI struct {
			Key string `json:"key"`
		} `json:"http_api"`
		Channel struct {
			WithoutNamespace struct {
				HistorySize int `json:"history_size"`
			} `json:"without_namespace"`
		} `json:"channel"`
	}
	require.NoError(t, json.Unmarshal(b, &c))
	assert.Equal(t, "127.0.0.1", c.HTTPServer.Address, "loopback only")
	assert.Equal(t, 8123, c.HTTPServer.Port)
	assert.True(t, c.Client.Insecure)
	assert.Equal(t, centrifugoAPIKey, c.HTTPAPI.Key)
	assert.Positive(t, c.Channel.WithoutNamespace.HistorySize, "offsets need a history")
}

func TestExpectedDeliveries(t *testing.T) {
	// 7 subscribers over 3 rooms: 3, 2, 2.
	assert.Equal(t, int64(10*3+11*2+12*2), expectedDeliveries([]int64{10, 11, 12}, 7))
	assert.Equal(t, int64(500), expectedDeliveries([]int64{100}, 5))
	assert.Zero(t, expectedDeliveries([]int64{100}, 0))
	for i := range 7 {
		assert.Equal(t, []string{"r-0", "r-1", "r-2"}[i%3], roomOf("r", 3, i))
	}
	assert.Equal(t, "r", roomOf("r", 1, 5))
	assert.Equal(t, "Message?room_id=r", targetChannel("ssotws", "r"))
	assert.Equal(t, "r", targetChannel("centrifugo", "r"))
}

func TestParseHeapProfileText(t *testing.T) {
	prof := "heap profile: 1: 2 [3: 4] @ heap/1048576\n# runtime.MemStats\n# Alloc = 10\n# HeapAlloc = 1234\n# HeapInuse = 5678\n# Stack = 98304 / 98304\n"
	m, err := parseHeapProfileText([]byte(prof))
	require.NoError(t, err)
	assert.Equal(t, goMem{HeapInuse: 5678, HeapAlloc: 1234, StackInuse: 98304}, m)
	_, err = parseHeapProfileText([]byte("# HeapAlloc = 1\n"))
	require.Error(t, err)
}

func TestReport(t *testing.T) {
	var buf bytes.Buffer
	runs := []result{
		{Target: "ssotws", Label: "sat", N: 10, Delivered: 2000, Expected: 2000, Frames: 1000, Elapsed: time.Second, ServerCPU: 0.01, Achieved: 200},
		{Target: "centrifugo", Label: "sat", N: 10, Delivered: 1000, Expected: 1010, Gaps: 3, Frames: 500, Elapsed: time.Second, ServerCPU: 0.01, Achieved: 100},
		{Target: "ssotws", Label: "sat", N: 10, Delivered: 4000, Expected: 4000, Frames: 1000, Elapsed: time.Second, ServerCPU: 0.01, Achieved: 400},
		{Target: "ssotws", Label: "idle", N: 10, Idle: true, HeapPerConn: 10 << 10},
		{Target: "centrifugo", Label: "idle", N: 10, Idle: true, HeapPerConn: 40 << 10},
	}
	for _, r := range runs {
		b, err := json.Marshal(r)
		require.NoError(t, err)
		buf.Write(append(b, '\n'))
	}
	rs, err := readResults(&buf)
	require.NoError(t, err)
	require.Equal(t, runs, rs)

	var out bytes.Buffer
	writeReport(&out, rs)
	s := out.String()
	assert.Contains(t, s, "| sat | deliveries/s | 1000 | 2000–4000 | 3.00 |")
	assert.Contains(t, s, "| sat | lost deliveries (missing + gaps) | 13 | 0 | 0.00 |")
	assert.Contains(t, s, "| idle | heap+stack per idle connection | 40.0 KiB | 10.0 KiB | 0.25 |")
	assert.NotContains(t, s, "| idle | deliveries/s")
}
