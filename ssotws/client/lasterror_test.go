package client_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLastErrorAndStateLogs follows a Conn through a server restart:
// LastError is nil while connected, says why while reconnecting (the
// server going away, then a server that cannot be reached) and is nil
// again once connected, while LastDrop keeps what ended the last
// connection or attempt. Each change of state is logged at Info with
// its reason in words; the failed attempts in between at Debug.
func TestLastErrorAndStateLogs(t *testing.T) {
	srv := startServer(t, ssotws.NewMemoryStore(), "127.0.0.1:0")
	logs := &logRecorder{}
	conn := client.NewConn(srv.WSURL(), &client.ConnOptions{Backoff: fast, Logger: slog.New(logs)})
	t.Cleanup(func() { conn.Close() })
	assert.NoError(t, conn.LastError(), "idle")

	conn.Connect()
	require.NoError(t, conn.WaitFor(testCtx(t), client.StateOpen))
	assert.NoError(t, conn.LastError(), "open")
	assert.NoError(t, conn.LastDrop(), "nothing has ended yet")
	logs.waitFor(t, slog.LevelInfo, "ssotws/client: connected")

	srv.stop()
	lost := logs.waitFor(t, slog.LevelInfo, "ssotws/client: connection lost; reconnecting")
	assert.Equal(t, "the server is going away (restarting or shutting down)", lost["reason"])
	assert.Equal(t, fmt.Sprint(int(ssotws.CloseGoingAway)), lost["code"])
	failed := logs.waitFor(t, slog.LevelDebug, "ssotws/client: connection attempt failed; retrying")
	assert.Equal(t, "the server could not be reached", failed["reason"])
	assert.Equal(t, client.StateReconnecting, conn.State())
	var refused *net.OpError
	assert.ErrorAs(t, conn.LastError(), &refused, "reconnecting: why the last attempt failed")
	assert.ErrorAs(t, conn.LastDrop(), &refused)

	srv.start(srv.addr)
	require.NoError(t, conn.WaitFor(testCtx(t), client.StateOpen))
	again := logs.waitFor(t, slog.LevelInfo, "ssotws/client: connected again; the channels resume")
	assert.NotEmpty(t, again["down_for"])
	assert.NoError(t, conn.LastError(), "open again: nothing keeps it from being open")
	require.Error(t, conn.LastDrop(), "the last drop is kept")
	assert.True(t, errors.As(conn.LastDrop(), &refused) || websocket.CloseStatus(conn.LastDrop()) == websocket.StatusGoingAway,
		"the last drop is the server going away or an attempt that did not reach it: %v", conn.LastDrop())

	require.NoError(t, conn.Close())
	assert.NoError(t, conn.LastError(), "closed on request")
	assert.Empty(t, logs.find(slog.LevelWarn, ""), "nothing stopped the Conn")
}

// TestSignedOutLog: a Conn that stops reconnecting says so at Warn, with
// the reason in words, and LastError matches ErrSignedOut.
func TestSignedOutLog(t *testing.T) {
	is := newIssuer(time.Minute)
	srv := startAuthServer(t, is, ssotws.Limits{})
	logs := &logRecorder{}
	conn := client.NewConn(srv.WSURL(), &client.ConnOptions{Backoff: fast, Logger: slog.New(logs),
		TokenSource: func(context.Context) (client.Token, error) { return client.Token{Value: "not a token"}, nil }})
	t.Cleanup(func() { conn.Close() })
	conn.Connect()
	require.NoError(t, conn.WaitFor(testCtx(t), client.StateUnauthenticated))
	stop := logs.waitFor(t, slog.LevelWarn, "ssotws/client: signed out; not reconnecting until Reconnect (after a new sign-in)")
	assert.Equal(t, "the server refused the token", stop["reason"])
	assert.Equal(t, "unauthenticated", stop["state"])
	assert.ErrorIs(t, conn.LastError(), client.ErrSignedOut)
	assert.Equal(t, websocket.StatusCode(ssotws.CloseUnauthenticated), websocket.CloseStatus(conn.LastDrop()))
}

// logRecorder is a slog.Handler that keeps every record, at every level.
type logRecorder struct {
	mu      sync.Mutex
	records []loggedRecord
}

// loggedRecord is one record: its level, message and attributes (values
// in text form).
type loggedRecord struct {
	level slog.Level
	msg   string
	attrs map[string]string
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logRecorder) WithGroup(string) slog.Handler            { return l }

func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	rec := loggedRecord{level: r.Level, msg: r.Message, attrs: map[string]string{}}
	r.Attrs(func(a slog.Attr) bool {
		rec.attrs[a.Key] = a.Value.String()
		return true
	})
	l.mu.Lock()
	defer l.mu.Unlock()
	l.records = append(l.records, rec)
	return nil
}

// find returns the attributes of the records of level and message msg
// ("" for any message).
func (l *logRecorder) find(level slog.Level, msg string) []map[string]string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]string
	for _, r := range l.records {
		if r.level == level && (msg == "" || r.msg == msg) {
			out = append(out, r.attrs)
		}
	}
	return out
}

// waitFor waits for a record of level and message msg and returns the
// attributes of the first.
func (l *logRecorder) waitFor(t *testing.T, level slog.Level, msg string) map[string]string {
	t.Helper()
	require.Eventually(t, func() bool { return len(l.find(level, msg)) > 0 }, 10*time.Second, 5*time.Millisecond,
		"no %v record %q; got %v", level, msg, l.messages())
	return l.find(level, msg)[0]
}

func (l *logRecorder) messages() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, r := range l.records {
		out = append(out, r.level.String()+" "+r.msg)
	}
	return slices.Clip(out)
}
