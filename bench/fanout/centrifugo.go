package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// The Centrifugo target (-target centrifugo) runs the same clients and the
// same measurement against a Centrifugo server: the clients speak its JSON
// client protocol over WebSocket and the publisher calls its server HTTP
// API. The server runs in insecure client mode (anonymous connections that
// may subscribe to any channel, no token to verify), which matches the
// ssot-ws bench server: it has no authenticator either.

// centrifugoAPIKey is the server API key written into the generated
// configuration; the server listens on loopback only.
const centrifugoAPIKey = "fanout-bench-api-key"

// centrifugoHistory is the history size of every channel: ssot-ws's bench
// broker keeps 16 events per channel, and with a history Centrifugo stamps
// each publication with an offset, which the clients check for gaps.
const centrifugoHistory = 16

// centrifugoConfig returns the configuration of a Centrifugo v6 server
// on 127.0.0.1:port.
func centrifugoConfig(port int) ([]byte, error) {
	return json.MarshalIndent(map[string]any{
		"http_server": map[string]any{"address": "127.0.0.1", "port": port},
		"log":         map[string]any{"level": "error"},
		"client":      map[string]any{"insecure": true},
		"http_api":    map[string]any{"key": centrifugoAPIKey},
		"channel": map[string]any{"without_namespace": map[string]any{
			"history_size": centrifugoHistory, "history_ttl": "300s",
		}},
		"health":      map[string]any{"enabled": true},
		"debug":       map[string]any{"enabled": true},
		"usage_stats": map[string]any{"disabled": true},
	}, "", "  ")
}

// startCentrifugo starts the Centrifugo binary with a fresh configuration
// in a temporary directory and waits until it answers /health.
func startCentrifugo(cfg config) (*serverProc, error) {
	if cfg.CentrifugoBin == "" {
		return nil, errors.New("-target centrifugo needs -centrifugo-bin")
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "fanout-centrifugo-")
	if err != nil {
		return nil, err
	}
	conf, err := centrifugoConfig(port)
	if err != nil {
		return nil, err
	}
	confPath := filepath.Join(dir, "config.json")
	if err := os.WriteFile(confPath, conf, 0o600); err != nil {
		return nil, err
	}
	cmd := serverCommand(cfg, cfg.CentrifugoBin, "-c", confPath)
	cmd.Dir = dir
	cmd.Stdout = os.Stderr
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	stop := func() {
		_ = cmd.Process.Signal(os.Interrupt)
		waitOrKill(cmd)
		os.RemoveAll(dir)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			stop()
			return nil, fmt.Errorf("centrifugo did not answer /health on %s: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return &serverProc{addr: addr, pid: cmd.Process.Pid, stop: stop}, nil
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// dialCentrifugo connects to ws://addr/connection/websocket, sends the
// connect and subscribe commands in one message and waits for both replies.
func dialCentrifugo(ctx context.Context, addr, channel string, recordFrom *atomic.Int64) (*client, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws://"+addr+"/connection/websocket", &websocket.DialOptions{HTTPClient: dialHTTPClient})
	if err != nil {
		return nil, err
	}
	ws.SetReadLimit(16 << 20)
	chName, _ := json.Marshal(channel)
	cmds := `{"id":1,"connect":{}}` + "\n" + `{"id":2,"subscribe":{"channel":` + string(chName) + `}}`
	if err := ws.Write(ctx, websocket.MessageText, []byte(cmds)); err != nil {
		_ = ws.CloseNow()
		return nil, err
	}
	for replies := 0; replies < 2; {
		_, b, err := ws.Read(ctx)
		if err != nil {
			_ = ws.CloseNow()
			return nil, err
		}
		m, err := parseCentrifugo(b, func(uint64, int64) {})
		if err != nil {
			_ = ws.CloseNow()
			return nil, fmt.Errorf("connect/subscribe: %w", err)
		}
		replies += m.replies
	}
	return newClient(ws, recordFrom, centrifugoFrames), nil
}

// centrifugoFrames is the client's parser of Centrifugo messages: it
// answers a server ping with a pong.
func centrifugoFrames(b []byte, fn func(offset uint64, stamp int64)) ([]byte, error) {
	m, err := parseCentrifugo(b, fn)
	if m.ping {
		return []byte("{}"), err
	}
	return nil, err
}

// centrifugoMessage is what one WebSocket message of Centrifugo's JSON
// protocol carried.
type centrifugoMessage struct {
	replies int  // replies to commands (they carry an "id")
	pushes  int  // publications
	ping    bool // an empty object: the server's ping, to answer with {}
}

// parseCentrifugo reads one WebSocket message of Centrifugo's JSON client
// protocol: one JSON object per line. For each publication push it calls fn
// with the publication's offset and the publish stamp at the start of its
// data's "text" (0 when absent). An error reply, or a line that is not a
// JSON object, is an error.
//
// It scans for the few keys it needs instead of decoding the JSON, so the
// clients stay cheap; the publication data is the load generator's own
// (digits and letters, no escapes), which makes the scan unambiguous.
func parseCentrifugo(b []byte, fn func(offset uint64, stamp int64)) (centrifugoMessage, error) {
	var m centrifugoMessage
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		if len(line) < 2 || line[0] != '{' || line[len(line)-1] != '}' {
			return m, fmt.Errorf("%w: not a JSON object: %.80q", errMalformed, line)
		}
		if len(bytes.TrimSpace(line[1:len(line)-1])) == 0 {
			m.ping = true
			continue
		}
		if bytes.HasPrefix(line, []byte(`{"push":`)) {
			if !bytes.Contains(line, []byte(`"pub":`)) {
				continue // join, leave, unsubscribe…: not counted
			}
			off, _ := jsonNumberAfter(line, `"offset":`)
			fn(off, parseStamp(jsonStringAfter(line, `"text":"`)))
			m.pushes++
			continue
		}
		if i := bytes.Index(line, []byte(`"error":`)); i >= 0 {
			return m, fmt.Errorf("centrifugo error: %s", line[i+len(`"error":`):len(line)-1])
		}
		if !bytes.Contains(line, []byte(`"id":`)) {
			return m, fmt.Errorf("%w: neither push nor reply: %.80q", errMalformed, line)
		}
		m.replies++
	}
	return m, nil
}

// jsonNumberAfter returns the unsigned integer that follows key in line.
func jsonNumberAfter(line []byte, key string) (uint64, bool) {
	i := bytes.Index(line, []byte(key))
	if i < 0 {
		return 0, false
	}
	s := line[i+len(key):]
	var v uint64
	n := 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		v = v*10 + uint64(s[n]-'0')
		n++
	}
	return v, n > 0
}

// jsonStringAfter returns the bytes that follow key in line up to the next
// quote (nil when key is absent).
func jsonStringAfter(line []byte, key string) []byte {
	i := bytes.Index(line, []byte(key))
	if i < 0 {
		return nil
	}
	s := line[i+len(key):]
	if j := bytes.IndexByte(s, '"'); j >= 0 {
		return s[:j]
	}
	return s
}

// centrifugoPublish returns a publish call through Centrifugo's server
// HTTP API: POST /api/publish with the API key. The data mirrors the chat
// Message the ssot-ws target creates (room, author, text with the stamp).
func centrifugoPublish(hc *http.Client, base string) func(ctx context.Context, channel, room, text string) error {
	return func(ctx context.Context, channel, room, text string) error {
		body, _ := json.Marshal(map[string]any{
			"channel": channel,
			"data":    map[string]string{"room_id": room, "author": "bench", "text": text},
		})
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/publish", bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-API-Key", centrifugoAPIKey)
		resp, err := hc.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK || bytes.Contains(b, []byte(`"error"`)) {
			return fmt.Errorf("publish: %s: %s", resp.Status, bytes.TrimSpace(b))
		}
		return nil
	}
}

// serverCommand returns the command that runs a server child, pinned to
// cfg.ServerCPUs with taskset when set.
func serverCommand(cfg config, name string, args ...string) *exec.Cmd {
	if cfg.ServerCPUs != "" {
		return exec.Command("taskset", append([]string{"-c", cfg.ServerCPUs, name}, args...)...)
	}
	return exec.Command(name, args...)
}

// roomOf returns the room of subscriber or publish i over channels rooms.
func roomOf(base string, channels, i int) string {
	if channels <= 1 {
		return base
	}
	return base + "-" + strconv.Itoa(i%channels)
}
