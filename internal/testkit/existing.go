package testkit

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	intkeyv1 "github.com/ssot-codegen/ssot-ws/internal/golden/intkey/v1"
	"github.com/ssot-codegen/ssot-ws/internal/golden/intkey/v1/intkeyv1connect"
	"github.com/ssot-codegen/ssot-ws/internal/golden/intkey/v1/intkeyv1ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws/sqlschema"
	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
)

// PlainSQL is a connection of the plain driver (database/sql, pgx) to the
// store's database: a writer that is not ssotws.
type PlainSQL struct {
	Exec     func(ctx context.Context, query string) error
	QueryRow func(ctx context.Context, query string, dest ...any) error
}

// helpdeskTable is the team's table, created before any store opens it:
// ticket 7 is assigned to bob (assignee is a column the proto does not
// declare, NOT NULL with a default).
const helpdeskTable = `CREATE TABLE helpdesk_tickets (
	ticket_no %[1]s PRIMARY KEY,
	queue_id  %[2]s NOT NULL DEFAULT 0,
	status    %[2]s NOT NULL DEFAULT 0,
	title     TEXT NOT NULL DEFAULT '',
	assignee  TEXT NOT NULL DEFAULT 'triage'
)`

// DriveExistingTable drives the generated ticket service of the intkey
// golden case, whose model option names the table helpdesk_tickets and
// whose field options map id and subject onto the columns ticket_no and
// title, over a table the team creates with plain SQL (db, in dialect d)
// before open opens the store on it and starts its relay publishing to
// pub.
//
// Over real HTTP the service lists and gets the ticket that was there,
// updates it without touching its assignee and creates one that gets the
// column's default; a ticket inserted and an assignee changed with plain
// SQL reach a subscriber on a real WebSocket.
func DriveExistingTable(t *testing.T, db PlainSQL, d sqlschema.Dialect, open func(pub ssotws.Publisher) (ssotws.Store, ssotws.ChangeRelay)) {
	t.Helper()
	ctx := context.Background()
	ddl := fmt.Sprintf(helpdeskTable, "INTEGER", "INTEGER")
	if d == sqlschema.Postgres {
		ddl = fmt.Sprintf(helpdeskTable, "bigint", "integer")
	}
	require.NoError(t, db.Exec(ctx, ddl))
	require.NoError(t, db.Exec(ctx, `INSERT INTO helpdesk_tickets (ticket_no, queue_id, status, title, assignee) VALUES (7, 1, 1, 'printer on fire', 'bob')`))
	broker := ssotws.NewMemoryBroker(nil)
	t.Cleanup(func() { broker.Close() })
	store, relay := open(broker)

	g := ssotws.NewGateway(broker, nil)
	require.NoError(t, intkeyv1ssotws.RegisterChannels(g))
	mux := http.NewServeMux()
	mux.Handle(intkeyv1ssotws.NewTicketServiceHandler(intkeyv1ssotws.NewTicketService(store, ssotws.RelayedPublisher(relay, broker), nil)))
	mux.Handle("/ws", g)
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		g.Shutdown(ctx)
		srv.Close()
	})
	c := intkeyv1connect.NewTicketServiceClient(srv.Client(), srv.URL)
	ws := dialRaw(t, "ws"+strings.TrimPrefix(srv.URL, "http")+"/ws")
	ws.subscribe(t, intkeyv1ssotws.TicketChannels.Queue(1))

	assignee := func(no int64) string {
		t.Helper()
		var a string
		require.NoError(t, db.QueryRow(ctx, "SELECT assignee FROM helpdesk_tickets WHERE ticket_no = "+ssotws.FormatKey(no), &a))
		return a
	}

	// The ticket that was there is served, as version 1.
	list, err := c.ListTickets(ctx, connect.NewRequest(&intkeyv1.ListTicketsRequest{QueueId: 1}))
	require.NoError(t, err)
	require.Len(t, list.Msg.GetTickets(), 1)
	old := list.Msg.GetTickets()[0]
	assert.Equal(t, int64(7), old.GetId())
	assert.Equal(t, "printer on fire", old.GetSubject())
	assert.Equal(t, intkeyv1.Status_STATUS_OPEN, old.GetStatus())
	assert.Equal(t, int64(1), old.GetVersion())

	// An update through the service writes the title, not the assignee.
	upd, err := c.UpdateTicket(ctx, connect.NewRequest(&intkeyv1.UpdateTicketRequest{
		Ticket:     &intkeyv1.Ticket{Id: 7, Subject: "printer fixed", Status: intkeyv1.Status_STATUS_CLOSED, Version: 1},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"subject", "status"}},
	}))
	require.NoError(t, err)
	assert.Equal(t, int64(2), upd.Msg.GetVersion())
	assert.Equal(t, "bob", assignee(7), "the update left the undeclared column alone")
	var title string
	require.NoError(t, db.QueryRow(ctx, "SELECT title FROM helpdesk_tickets WHERE ticket_no = 7", &title))
	assert.Equal(t, "printer fixed", title)
	ev := ws.event(t)
	assert.Equal(t, wsv1.EventType_EVENT_TYPE_UPDATED, ev.GetType())
	assert.Equal(t, "7", ev.GetKey())

	// A create through the service gets the column's default.
	created, err := c.CreateTicket(ctx, connect.NewRequest(&intkeyv1.CreateTicketRequest{
		Ticket: &intkeyv1.Ticket{QueueId: 1, Subject: "coffee machine"}, TicketId: 8,
	}))
	require.NoError(t, err)
	assert.Equal(t, int64(1), created.Msg.GetVersion())
	assert.Equal(t, "triage", assignee(8))
	ev = ws.event(t)
	assert.Equal(t, wsv1.EventType_EVENT_TYPE_CREATED, ev.GetType())
	assert.Equal(t, "8", ev.GetKey())

	// Plain SQL, naming the team's columns, is live.
	require.NoError(t, db.Exec(ctx, `INSERT INTO helpdesk_tickets (ticket_no, queue_id, status, title, assignee) VALUES (100, 1, 1, 'from SQL', 'carol')`))
	ev = ws.event(t)
	assert.Equal(t, wsv1.EventType_EVENT_TYPE_CREATED, ev.GetType())
	assert.Equal(t, "100", ev.GetKey())
	assert.Equal(t, int64(1), ev.GetVersion())
	got := &intkeyv1.Ticket{}
	require.NoError(t, proto.Unmarshal(ev.GetData(), got))
	assert.Equal(t, "from SQL", got.GetSubject())
	assert.Equal(t, int64(100), got.GetId())
	require.NoError(t, db.Exec(ctx, `UPDATE helpdesk_tickets SET assignee = 'dave' WHERE ticket_no = 100`))
	ev = ws.event(t)
	assert.Equal(t, wsv1.EventType_EVENT_TYPE_UPDATED, ev.GetType())
	assert.Equal(t, int64(2), ev.GetVersion(), "a writer that does not set the version still gets one")

	// And the service reads what SQL wrote.
	one, err := c.GetTicket(ctx, connect.NewRequest(&intkeyv1.GetTicketRequest{Id: 100}))
	require.NoError(t, err)
	assert.Equal(t, "from SQL", one.Msg.GetSubject())
	assert.Equal(t, int64(2), one.Msg.GetVersion())
}

// rawWS is a WebSocket subscriber speaking the frames of frame.proto.
type rawWS struct{ ws *websocket.Conn }

func dialRaw(t *testing.T, url string) *rawWS {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{ssotws.Subprotocol}})
	require.NoError(t, err)
	t.Cleanup(func() { ws.CloseNow() })
	return &rawWS{ws: ws}
}

func (c *rawWS) read(t *testing.T) *wsv1.ServerFrame {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, b, err := c.ws.Read(ctx)
	require.NoError(t, err)
	f := &wsv1.ServerFrame{}
	require.NoError(t, proto.Unmarshal(b, f))
	return f
}

// subscribe subscribes to channel and waits for the Ack.
func (c *rawWS) subscribe(t *testing.T, channel string) {
	t.Helper()
	b, err := proto.Marshal(&wsv1.ClientFrame{Frame: &wsv1.ClientFrame_Subscribe{Subscribe: &wsv1.Subscribe{Id: 1, Channel: channel}}})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, c.ws.Write(ctx, websocket.MessageBinary, b))
	f := c.read(t)
	require.NotNil(t, f.GetAck(), "subscribe %s: %v", channel, f)
}

// event reads the next frame, which must hold exactly one event.
func (c *rawWS) event(t *testing.T) *wsv1.Event {
	t.Helper()
	f := c.read(t)
	require.Len(t, f.GetEvents().GetEvents(), 1, "frame %v", f)
	return f.GetEvents().GetEvents()[0]
}
