package ssotws_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/coder/websocket"
	batchv1 "github.com/ssot-codegen/ssot-ws/internal/golden/batch/v1"
	"github.com/ssot-codegen/ssot-ws/internal/golden/batch/v1/batchv1connect"
	"github.com/ssot-codegen/ssot-ws/internal/golden/batch/v1/batchv1ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
)

// The golden batch case's Task: notes are read: OWNER (its assignee),
// estimate read: AUTHENTICATED. The values below are easy to find in
// bytes: the notes as text, the estimate as its field's encoding.
const (
	secretNotes    = "SECRET-NOTES"
	secretEstimate = 987_654_321
)

var estimateBytes = protowire.AppendVarint(protowire.AppendTag(nil, 7, protowire.VarintType), secretEstimate)

type redactEnv struct {
	t      *testing.T
	auth   *testAuth
	server *httptest.Server
	url    string
}

func newRedactEnv(t *testing.T) *redactEnv {
	t.Helper()
	e := &redactEnv{t: t, auth: newTestAuth()}
	broker := ssotws.NewMemoryBroker(nil)
	gateway := ssotws.NewGateway(broker, &ssotws.GatewayOptions{Authenticator: e.auth})
	require.NoError(t, batchv1ssotws.RegisterChannels(gateway))
	svc := batchv1ssotws.NewTaskService(ssotws.NewMemoryStore(), broker, nil)
	mux := http.NewServeMux()
	mux.Handle("/ws", gateway)
	mux.Handle(batchv1ssotws.NewTaskServiceHandler(svc, connect.WithInterceptors(ssotws.NewAuthInterceptor(e.auth, nil))))
	e.server = httptest.NewServer(mux)
	e.url = "ws" + strings.TrimPrefix(e.server.URL, "http") + "/ws"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		assert.NoError(t, gateway.Shutdown(ctx))
		e.server.Close()
		broker.Close()
	})
	return e
}

// tasks returns a TaskService client sending token ("" for none).
func (e *redactEnv) tasks(token string) batchv1connect.TaskServiceClient {
	return batchv1connect.NewTaskServiceClient(e.server.Client(), e.server.URL, connect.WithInterceptors(bearer(token)))
}

// bearer sends token as a bearer token ("" sends none).
func bearer(token string) connect.UnaryInterceptorFunc {
	return func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			if token != "" {
				req.Header().Set("Authorization", "Bearer "+token)
			}
			return next(ctx, req)
		}
	}
}

// raw calls a method with the Connect protocol's JSON encoding and returns
// the response body as received.
func (e *redactEnv) raw(token, method, body string) []byte {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.server.URL+"/batch.v1.TaskService/"+method, strings.NewReader(body))
	require.NoError(e.t, err)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := e.server.Client().Do(req)
	require.NoError(e.t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(e.t, err)
	require.Equal(e.t, http.StatusOK, res.StatusCode, "%s: %s", method, b)
	return b
}

// byteConn is a WebSocket that keeps every message as received.
type byteConn struct {
	t    *testing.T
	ws   *websocket.Conn
	msgs chan []byte
}

func (e *redactEnv) dial(token string) *byteConn {
	e.t.Helper()
	protos := []string{ssotws.Subprotocol}
	if token != "" {
		protos = append(protos, ssotws.AuthSubprotocol(token))
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, e.url, &websocket.DialOptions{Subprotocols: protos})
	require.NoError(e.t, err)
	c := &byteConn{t: e.t, ws: ws, msgs: make(chan []byte, 1024)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(c.msgs)
		for {
			_, b, err := ws.Read(context.Background())
			if err != nil {
				return
			}
			c.msgs <- b
		}
	}()
	e.t.Cleanup(func() {
		_ = ws.CloseNow()
		<-done
	})
	return c
}

// subscribe subscribes, with deltas, from since (nil: now), and returns
// the events replayed before the Ack, with the raw messages that carried
// them.
func (c *byteConn) subscribe(channel string, since *wsv1.Position) ([]*wsv1.Event, []byte) {
	c.t.Helper()
	b, err := proto.Marshal(&wsv1.ClientFrame{Frame: &wsv1.ClientFrame_Subscribe{Subscribe: &wsv1.Subscribe{Id: 1, Channel: channel, Since: since, Deltas: true}}})
	require.NoError(c.t, err)
	require.NoError(c.t, c.ws.Write(context.Background(), websocket.MessageBinary, b))
	var evs []*wsv1.Event
	var raw []byte
	for {
		msg, f := c.next()
		if f.GetAck() != nil {
			return evs, raw
		}
		require.NotNil(c.t, f.GetEvents(), "got %v", f)
		evs, raw = append(evs, f.GetEvents().GetEvents()...), append(raw, msg...)
	}
}

func (c *byteConn) next() ([]byte, *wsv1.ServerFrame) {
	c.t.Helper()
	select {
	case b, ok := <-c.msgs:
		require.True(c.t, ok, "connection ended")
		var f wsv1.ServerFrame
		require.NoError(c.t, proto.Unmarshal(b, &f))
		return b, &f
	case <-time.After(wait):
		c.t.Fatal("no message within", wait)
		return nil, nil
	}
}

// events reads n events and returns them with the raw messages.
func (c *byteConn) events(n int) ([]*wsv1.Event, []byte) {
	c.t.Helper()
	var evs []*wsv1.Event
	var raw []byte
	for len(evs) < n {
		msg, f := c.next()
		require.NotNil(c.t, f.GetEvents(), "got %v", f)
		evs, raw = append(evs, f.GetEvents().GetEvents()...), append(raw, msg...)
	}
	require.Len(c.t, evs, n)
	return evs, raw
}

// sees asserts what raw bytes hold of the redacted fields.
func sees(t *testing.T, who, path string, raw []byte, notes, estimate bool) {
	t.Helper()
	assert.Equal(t, notes, bytes.Contains(raw, []byte(secretNotes)), "%s, %s: notes in the bytes", who, path)
	assert.Equal(t, estimate, bytes.Contains(raw, estimateBytes), "%s, %s: estimate in the bytes", who, path)
}

// seesJSON is sees for a JSON body.
func seesJSON(t *testing.T, who, path string, raw []byte, notes, estimate bool) {
	t.Helper()
	assert.Equal(t, notes, bytes.Contains(raw, []byte(secretNotes)), "%s, %s: notes in the body %s", who, path, raw)
	assert.Equal(t, estimate, bytes.Contains(raw, []byte("987654321")), "%s, %s: estimate in the body %s", who, path, raw)
}

// TestRedactedFieldsNeverLeave: a field with read: OWNER reaches its
// owner only, one with read: AUTHENTICATED authenticated users only, on
// every path: HTTP Get, List and mutation responses (batch ones too), and
// WebSocket events live (field-level deltas included) and replayed. The
// assertions are on the bytes received.
func TestRedactedFieldsNeverLeave(t *testing.T) {
	e := newRedactEnv(t)
	alice, bob := e.auth.issue("alice", 0, nil), e.auth.issue("bob", 0, nil)
	type reader struct {
		name            string
		token           string
		notes, estimate bool
	}
	readers := []reader{{"alice (owner)", alice, true, true}, {"bob", bob, false, true}, {"anonymous", "", false, false}}
	conns := make([]*byteConn, len(readers))
	for i, r := range readers {
		conns[i] = e.dial(r.token)
		conns[i].subscribe("Task", nil)
	}
	ctx := context.Background()

	created, err := e.tasks(alice).CreateTask(ctx, connect.NewRequest(&batchv1.CreateTaskRequest{
		Task: &batchv1.Task{BoardId: "b1", Title: "write docs", Notes: secretNotes, Estimate: secretEstimate}}))
	require.NoError(t, err)
	assert.Equal(t, secretNotes, created.Msg.GetNotes(), "the owner's own create returns everything")
	id := created.Msg.GetId()
	var epoch uint64
	for i, r := range readers {
		evs, raw := conns[i].events(1)
		sees(t, r.name, "live create", raw, r.notes, r.estimate)
		epoch = evs[0].GetPosition().GetEpoch()
	}

	// A change of the notes alone: a field-level delta would carry them.
	_, err = e.tasks(alice).UpdateTask(ctx, connect.NewRequest(&batchv1.UpdateTaskRequest{
		Task:       &batchv1.Task{Id: id, Notes: secretNotes + "-2"},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"notes"}}}))
	require.NoError(t, err)
	for i, r := range readers {
		evs, raw := conns[i].events(1)
		if r.notes { // the owner: a delta of the notes alone
			assert.NotEmpty(t, evs[0].GetDeltaMask())
			sees(t, r.name, "live delta update", raw, true, false)
			continue
		}
		assert.Empty(t, evs[0].GetDeltaMask(), "%s: a redacted event is sent whole, never as a delta", r.name)
		sees(t, r.name, "live update", raw, false, r.estimate)
	}
	// A change of another field: the owner gets a delta of the title
	// alone, bob the whole record without the notes, nobody the whole
	// record without either.
	_, err = e.tasks(bob).UpdateTask(ctx, connect.NewRequest(&batchv1.UpdateTaskRequest{
		Task:       &batchv1.Task{Id: id, Title: "write more docs"},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title"}}}))
	require.NoError(t, err)
	evs, raw := conns[0].events(1)
	assert.NotEmpty(t, evs[0].GetDeltaMask(), "the owner still gets deltas")
	sees(t, readers[0].name, "live delta of another field", raw, false, false)
	_, raw = conns[1].events(1)
	sees(t, readers[1].name, "live update of another field", raw, false, true)
	_, raw = conns[2].events(1)
	sees(t, readers[2].name, "live update of another field", raw, false, false)

	for _, r := range readers {
		seesJSON(t, r.name, "Get", e.raw(r.token, "GetTask", `{"id":"`+id+`"}`), r.notes, r.estimate)
		seesJSON(t, r.name, "List", e.raw(r.token, "ListTasks", `{"boardId":"b1"}`), r.notes, r.estimate)
		replayed, raw := e.dial(r.token).subscribe("Task", &wsv1.Position{Epoch: epoch})
		require.Len(t, replayed, 3, "%s: the whole history is replayed", r.name)
		sees(t, r.name, "replay", raw, r.notes, r.estimate)
	}

	body := e.raw(bob, "UpdateTask", `{"task":{"id":"`+id+`","title":"t3"},"updateMask":"title"}`)
	seesJSON(t, "bob", "Update response", body, false, true)
	body = e.raw(bob, "BatchUpdateTasks", `{"requests":[{"task":{"id":"`+id+`","title":"t4"},"updateMask":"title"}]}`)
	seesJSON(t, "bob", "BatchUpdate response", body, false, true)
	body = e.raw(alice, "BatchCreateTasks", `{"requests":[{"task":{"boardId":"b1","notes":"`+secretNotes+`","estimate":987654321}}]}`)
	seesJSON(t, "alice", "BatchCreate response", body, true, true)
	for i, r := range readers {
		_, raw := conns[i].events(3) // t3, t4 and the batch's create
		if i > 0 {
			sees(t, r.name, "live updates and batch", raw, false, r.estimate)
		}
	}
	_, raw = e.dial(bob).subscribe("Task", &wsv1.Position{Epoch: epoch})
	sees(t, "bob", "replay after the batch", raw, false, true)
}

// TestRedactedFieldsKeptByFullUpdate: an update of every field (mask "*")
// by a reader who cannot see a redacted field keeps that field as it is:
// the reader's record cannot hold it.
func TestRedactedFieldsKeptByFullUpdate(t *testing.T) {
	e := newRedactEnv(t)
	alice, bob := e.auth.issue("alice", 0, nil), e.auth.issue("bob", 0, nil)
	ctx := context.Background()
	created, err := e.tasks(alice).CreateTask(ctx, connect.NewRequest(&batchv1.CreateTaskRequest{
		Task: &batchv1.Task{BoardId: "b1", Title: "t", Notes: secretNotes, Estimate: 5}}))
	require.NoError(t, err)
	got, err := e.tasks(bob).GetTask(ctx, connect.NewRequest(&batchv1.GetTaskRequest{Id: created.Msg.GetId()}))
	require.NoError(t, err)
	require.Empty(t, got.Msg.GetNotes())
	edit := got.Msg
	edit.Title, edit.Estimate = "t2", 8
	_, err = e.tasks(bob).UpdateTask(ctx, connect.NewRequest(&batchv1.UpdateTaskRequest{Task: edit, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"*"}}}))
	require.NoError(t, err)
	mine, err := e.tasks(alice).GetTask(ctx, connect.NewRequest(&batchv1.GetTaskRequest{Id: created.Msg.GetId()}))
	require.NoError(t, err)
	assert.Equal(t, secretNotes, mine.Msg.GetNotes(), "bob's full update kept the notes he cannot see")
	assert.Equal(t, "t2", mine.Msg.GetTitle())
	assert.Equal(t, int32(8), mine.Msg.GetEstimate(), "a field bob sees is his to change")
}
