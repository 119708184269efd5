package ssotws_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/coder/websocket"
	chatv1 "github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1"
	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
	"github.com/stretchr/testify/assert"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
)

// Outcomes of a hostile case, as strings so that the table reads well.
func closedWith(code websocket.StatusCode) string { return fmt.Sprintf("close %d", int(code)) }
func refusedWith(code wsv1.ErrorCode) string      { return "error " + code.String() }
func rpcFails(code connect.Code) string           { return "rpc " + code.String() }
func httpStatus(status int) string                { return fmt.Sprintf("HTTP %d", status) }

const (
	survives      = "survives"      // the connection still answers a Ping
	acked         = "ack"           // the request was acknowledged
	nothingLeaks  = "nothing leaks" // subscribed, but no event of another user arrives
	ownerIsCaller = "owner is the caller"
	dropped       = "dropped" // the server let go of the connection
	reset         = "reset"
)

// hostile is the stage of one hostile case: a server with an owned
// Message model (read and write OWNER), a witness (user wendy) that writes
// to room r1 over HTTP and listens to r1 over the gateway throughout, and
// an attacker (user mallory).
type hostile struct {
	*secEnv
	t       *testing.T
	wendy   string // token
	mallory string // token
	w       *witness
}

func (h *hostile) attacker() *client { return h.dialAs(h.mallory) }

// wendysRecord creates a record of wendy's outside r1.
func (h *hostile) wendysRecord() *chatv1.Message { return h.mustCreate(h.wendy, "private", "wendy's") }

// witness is a client subscribed to r1 while a writer creates records
// there: it must see every event of the channel it may see, in offset
// order, whatever the attack, and the store must keep every record.
type witness struct {
	e       *secEnv
	token   string
	subject string
	owner   bool // OWNER read: the witness sees its own records only
	c       *client
	from    *wsv1.Position

	mu       sync.Mutex
	keys     []string
	stop     chan struct{}
	stopOnce sync.Once
	done     chan struct{}
}

func (w *witness) halt() {
	w.stopOnce.Do(func() { close(w.stop) })
	<-w.done
}

func startWitness(e *secEnv, token, subject string, owner bool) *witness {
	w := &witness{e: e, token: token, subject: subject, owner: owner, stop: make(chan struct{}), done: make(chan struct{})}
	w.c = e.dialAs(token)
	w.from = w.c.ack(r1, nil)
	w.write()           // at least one before the attack
	e.t.Cleanup(w.halt) // before the server closes
	go func() {
		defer close(w.done)
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-w.stop:
				return
			case <-t.C:
			}
			if !w.write() {
				return
			}
		}
	}()
	return w
}

func (w *witness) write() bool {
	m, err := w.e.create(w.token, "r1", "witnessed")
	if err != nil {
		w.e.t.Errorf("the witness's write failed: %v", err)
		return false
	}
	w.mu.Lock()
	w.keys = append(w.keys, m.GetId())
	w.mu.Unlock()
	return true
}

// check stops the writer, writes a few more records (others keep
// receiving after the attack), and checks that nothing was lost.
func (w *witness) check() {
	t := w.e.t
	t.Helper()
	w.halt()
	for range 3 {
		w.write()
	}
	ctx := context.Background()
	history, err := w.e.broker.History(ctx, r1, w.from)
	if err != nil {
		t.Fatalf("history of %s: %v", r1, err)
	}
	var want []*wsv1.Event
	for _, ev := range history {
		var m chatv1.Message
		if err := proto.Unmarshal(ev.GetData(), &m); err != nil {
			t.Fatal(err)
		}
		if !w.owner || m.GetAuthor() == w.subject {
			want = append(want, ev)
		}
	}
	got := w.c.events(len(want))
	created := make(map[string]bool)
	for i, ev := range got {
		if ev.GetPosition().GetOffset() != want[i].GetPosition().GetOffset() || ev.GetKey() != want[i].GetKey() {
			t.Fatalf("witness event %d: offset %d key %s, want offset %d key %s",
				i, ev.GetPosition().GetOffset(), ev.GetKey(), want[i].GetPosition().GetOffset(), want[i].GetKey())
		}
		if ev.GetType() == wsv1.EventType_EVENT_TYPE_CREATED {
			created[ev.GetKey()] = true
		}
	}
	w.c.quiet()
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, k := range w.keys {
		if !created[k] {
			t.Fatalf("the witness missed the creation of %s", k)
		}
		if _, err := w.e.store.Get(ctx, "chat.v1.Message", k); err != nil {
			t.Fatalf("the store lost %s: %v", k, err)
		}
	}
	if len(w.keys) < 4 {
		t.Fatalf("only %d witnessed writes", len(w.keys))
	}
}

// subscribeFrame encodes a Subscribe by hand, so that it may carry any
// bytes as its channel.
func subscribeFrame(id uint32, channel []byte) []byte {
	var sub []byte
	sub = protowire.AppendTag(sub, 1, protowire.VarintType)
	sub = protowire.AppendVarint(sub, uint64(id))
	sub = protowire.AppendTag(sub, 2, protowire.BytesType)
	sub = protowire.AppendBytes(sub, channel)
	var b []byte
	b = protowire.AppendTag(b, 1, protowire.BytesType)
	return protowire.AppendBytes(b, sub)
}

func marshalMsg(m *chatv1.Message) []byte {
	b, err := proto.Marshal(m)
	if err != nil {
		panic(err)
	}
	return b
}

func marshal(f *wsv1.ClientFrame) []byte {
	b, err := proto.Marshal(f)
	if err != nil {
		panic(err)
	}
	return b
}

// errorCodes subscribes to each channel and returns the distinct Error
// codes, or "ack" for an Ack.
func (c *client) errorCodes(channels ...string) string {
	c.t.Helper()
	var out []string
	for _, ch := range channels {
		id := c.subscribe(ch, nil)
		f := c.next()
		s := acked
		if e := f.GetError(); e != nil && e.GetId() == id {
			s = refusedWith(e.GetCode())
		} else if f.GetAck().GetId() != id {
			c.t.Fatalf("Subscribe %q: got %v", truncateForLog(ch), f)
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	c.quiet()
	return strings.Join(out, ", ")
}

// afterRaw sends one raw message and returns the Error it gets, then
// checks that the connection survives.
func (c *client) afterRaw(b []byte) string {
	c.t.Helper()
	c.sendRaw(websocket.MessageBinary, b)
	f := c.next()
	if f.GetError() == nil {
		c.t.Fatalf("got %v, want an Error", f)
	}
	c.quiet()
	return refusedWith(f.GetError().GetCode())
}

// floodUntilClosed sends frames until a write fails or n were sent, and
// returns the close code and how many Acks arrived before it.
func (c *client) floodUntilClosed(n int, frame func(i int) []byte) (websocket.StatusCode, int) {
	c.t.Helper()
	for i := 0; i < n; i++ {
		if c.trySendRaw(websocket.MessageBinary, frame(i)) != nil {
			break
		}
	}
	acks := 0
	timeout := time.After(wait)
	for {
		select {
		case f, ok := <-c.frames:
			if !ok {
				<-c.done
				return websocket.CloseStatus(c.err), acks
			}
			if f.GetAck() != nil {
				acks++
			}
		case <-timeout:
			c.t.Fatal("connection still open after", wait)
		}
	}
}

type hostileCase struct {
	name string
	cfg  func(*secConfig)
	want string
	run  func(h *hostile) string
}

func hostileCases() []hostileCase {
	noRate := func(c *secConfig) { c.gateway.Limits.FrameRate = -1 }
	return []hostileCase{
		{name: "garbage bytes", want: closedWith(ssotws.CloseBadFrame), run: func(h *hostile) string {
			c := h.attacker()
			c.sendRaw(websocket.MessageBinary, []byte{0xff, 0xfe, 0x00, 0x13, 0x37})
			return closedWith(c.closed())
		}},
		{name: "truncated protobuf", want: closedWith(ssotws.CloseBadFrame), run: func(h *hostile) string {
			b := subscribeFrame(1, []byte(r1))
			c := h.attacker()
			c.sendRaw(websocket.MessageBinary, b[:len(b)-4])
			return closedWith(c.closed())
		}},
		{name: "wrong wire type", want: refusedWith(wsv1.ErrorCode_ERROR_CODE_BAD_REQUEST), run: func(h *hostile) string {
			// Field 1 as fixed32: protobuf keeps it as an unknown field.
			return h.attacker().afterRaw([]byte{0x0d, 1, 2, 3, 4})
		}},
		{name: "deeply nested groups", want: closedWith(ssotws.CloseBadFrame), run: func(h *hostile) string {
			c := h.attacker()
			c.sendRaw(websocket.MessageBinary, bytes.Repeat([]byte{0x2b}, 30_000)) // start group 5, 30k deep
			return closedWith(c.closed())
		}},
		{name: "empty ClientFrame", want: refusedWith(wsv1.ErrorCode_ERROR_CODE_BAD_REQUEST), run: func(h *hostile) string {
			return h.attacker().afterRaw(nil)
		}},
		{name: "unknown oneof field", want: refusedWith(wsv1.ErrorCode_ERROR_CODE_BAD_REQUEST), run: func(h *hostile) string {
			b := protowire.AppendTag(nil, 15, protowire.BytesType)
			b = protowire.AppendBytes(b, []byte{0x08, 0x01})
			return h.attacker().afterRaw(b)
		}},
		{name: "text frame", want: closedWith(ssotws.CloseBadFrame), run: func(h *hostile) string {
			c := h.attacker()
			c.sendRaw(websocket.MessageText, []byte(`{"subscribe":{"channel":"Message"}}`))
			return closedWith(c.closed())
		}},
		{name: "oversize frame", want: closedWith(ssotws.CloseTooLarge), run: func(h *hostile) string {
			c := h.attacker()
			c.sendRaw(websocket.MessageBinary, make([]byte, 64<<10+1))
			return closedWith(c.closed())
		}},
		{name: "1 MB channel name", want: closedWith(ssotws.CloseTooLarge), run: func(h *hostile) string {
			c := h.attacker()
			_ = c.trySendRaw(websocket.MessageBinary, subscribeFrame(1, bytes.Repeat([]byte("M"), 1<<20)))
			return closedWith(c.closed())
		}},
		{name: "60 KB channel name", want: refusedWith(wsv1.ErrorCode_ERROR_CODE_UNKNOWN_CHANNEL), run: func(h *hostile) string {
			return h.attacker().errorCodes("Message/" + strings.Repeat("k", 60<<10))
		}},
		{name: "control characters in channel names", want: refusedWith(wsv1.ErrorCode_ERROR_CODE_UNKNOWN_CHANNEL), run: func(h *hostile) string {
			return h.attacker().errorCodes("Message/\x00", "Message/a\x1b[2J", "Message?room_id=r1\r\nX-Injected: 1", "Message\x7f", "Message/\u0085")
		}},
		{name: "invalid UTF-8 channel name", want: closedWith(ssotws.CloseBadFrame), run: func(h *hostile) string {
			c := h.attacker()
			c.sendRaw(websocket.MessageBinary, subscribeFrame(1, []byte("Message/\xff\xfe")))
			return closedWith(c.closed())
		}},
		{name: "percent-garbage channel names", want: refusedWith(wsv1.ErrorCode_ERROR_CODE_UNKNOWN_CHANNEL), run: func(h *hostile) string {
			return h.attacker().errorCodes("Message/%zz", "Message/%", "Message?room_id=%%", "Message?room_id=%G0", "%4Dessage", "Message?room_id=a&x=b", "Message?=x", "Message/")
		}},
		{name: "unknown channel names", want: refusedWith(wsv1.ErrorCode_ERROR_CODE_UNKNOWN_CHANNEL), run: func(h *hostile) string {
			return h.attacker().errorCodes("Nope", "Nope/1", "Room", "message", "", "/", "?", "1Message")
		}},
		{name: "a scope on the owner field", want: refusedWith(wsv1.ErrorCode_ERROR_CODE_UNKNOWN_CHANNEL), run: func(h *hostile) string {
			return h.attacker().errorCodes("Message?author=wendy", "Message?text=hi")
		}},
		{name: "duplicate subscribe", want: refusedWith(wsv1.ErrorCode_ERROR_CODE_BAD_REQUEST), run: func(h *hostile) string {
			c := h.attacker()
			c.ack(r1, nil)
			return c.errorCodes(r1, "Message?room_id=%72%31") // the same channel, escaped differently
		}},
		{name: "unsubscribe of an unknown channel", want: acked, run: func(h *hostile) string {
			c := h.attacker()
			c.send(&wsv1.ClientFrame{Frame: &wsv1.ClientFrame_Unsubscribe{Unsubscribe: &wsv1.Unsubscribe{Id: 5, Channel: "Nope/\x00%zz"}}})
			if f := c.next(); f.GetAck().GetId() != 5 {
				return fmt.Sprint(f)
			}
			c.quiet()
			return acked
		}},
		{name: "10k subscribes", want: closedWith(ssotws.CloseTooSlow), run: func(h *hostile) string {
			c := h.attacker()
			code, acks := c.floodUntilClosed(10_000, func(i int) []byte { return subscribeFrame(uint32(i+1), fmt.Appendf(nil, "Message/k%d", i)) })
			if acks > 50 {
				return fmt.Sprintf("%d Acks", acks)
			}
			return closedWith(code)
		}},
		{name: "subscriptions past the limit", cfg: noRate, want: refusedWith(wsv1.ErrorCode_ERROR_CODE_TOO_MANY_SUBSCRIPTIONS), run: func(h *hostile) string {
			c := h.attacker()
			for i := range 50 {
				c.ack(fmt.Sprintf("Message/k%d", i), nil)
			}
			return c.errorCodes("Message/k50", "Message/k51", r1)
		}},
		{name: "subscribe and unsubscribe flood", cfg: noRate, want: survives, run: func(h *hostile) string {
			c := h.attacker()
			// 6 rounds of 50 pairs: the send queue bounds the Acks in flight.
			for round := range 6 {
				for i := 50 * round; i < 50*(round+1); i++ {
					c.send(&wsv1.ClientFrame{Frame: &wsv1.ClientFrame_Subscribe{Subscribe: &wsv1.Subscribe{Id: uint32(2*i + 1), Channel: r2}}})
					c.send(&wsv1.ClientFrame{Frame: &wsv1.ClientFrame_Unsubscribe{Unsubscribe: &wsv1.Unsubscribe{Id: uint32(2*i + 2), Channel: r2}}})
				}
				for i := 100 * round; i < 100*(round+1); i++ {
					if f := c.next(); f.GetAck().GetId() != uint32(i+1) {
						return fmt.Sprint(f)
					}
				}
			}
			c.quiet()
			return survives
		}},
		{name: "Ping flood", want: closedWith(ssotws.CloseTooSlow), run: func(h *hostile) string {
			c := h.attacker()
			code, _ := c.floodUntilClosed(2000, func(i int) []byte { return marshal(pingFrame(uint64(i))) })
			return closedWith(code)
		}},
		// WebSocket control frames count against the frame rate (issue #9):
		// the library answers pings without the gateway seeing them.
		{name: "WebSocket ping flood", want: closedWith(ssotws.CloseTooSlow), run: func(h *hostile) string {
			c := h.attacker()
			for range 300 {
				ctx, cancel := context.WithTimeout(context.Background(), wait)
				err := c.ws.Ping(ctx)
				cancel()
				if err != nil {
					break
				}
			}
			return closedWith(c.closed())
		}},
		{name: "another user's item channel", want: nothingLeaks, run: func(h *hostile) string {
			m := h.wendysRecord()
			c := h.attacker()
			c.ack(ssotws.ItemChannel("Message", m.GetId()), nil)
			if _, err := h.chat(h.wendy).UpdateMessage(context.Background(), connect.NewRequest(&chatv1.UpdateMessageRequest{Message: &chatv1.Message{Id: m.GetId(), Text: "secret"}})); err != nil {
				h.t.Fatal(err)
			}
			if _, err := h.chat(h.wendy).DeleteMessage(context.Background(), connect.NewRequest(&chatv1.DeleteMessageRequest{Id: m.GetId()})); err != nil {
				h.t.Fatal(err)
			}
			c.quiet()
			return nothingLeaks
		}},
		{name: "another user's room and model channels", want: nothingLeaks, run: func(h *hostile) string {
			c := h.attacker()
			c.ack(r1, nil)
			c.ack("Message", nil)
			time.Sleep(20 * time.Millisecond) // the witness writes meanwhile
			own := h.mustCreate(h.mallory, "r1", "mallory's")
			for _, ev := range c.events(2) { // on r1 and on Message
				if ev.GetKey() != own.GetId() {
					return "leaked " + ev.GetKey()
				}
			}
			c.quiet()
			return nothingLeaks
		}},
		{name: "forged owner on create (HTTP)", want: ownerIsCaller, run: func(h *hostile) string {
			res, err := h.chat(h.mallory).CreateMessage(context.Background(), connect.NewRequest(&chatv1.CreateMessageRequest{
				Message: &chatv1.Message{RoomId: "r1", Author: "wendy", Text: "framed"},
			}))
			if err != nil {
				return err.Error()
			}
			if res.Msg.GetAuthor() == "mallory" {
				return ownerIsCaller
			}
			return "author " + res.Msg.GetAuthor()
		}},
		{name: "forged owner on update (HTTP)", want: rpcFails(connect.CodeInvalidArgument), run: func(h *hostile) string {
			m := h.mustCreate(h.mallory, "r1", "mine")
			_, err := h.chat(h.mallory).UpdateMessage(context.Background(), connect.NewRequest(&chatv1.UpdateMessageRequest{
				Message: &chatv1.Message{Id: m.GetId(), Author: "wendy"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"author"}},
			}))
			return rpcFails(codeOf(err))
		}},
		{name: "update another user's record (HTTP)", want: rpcFails(connect.CodePermissionDenied), run: func(h *hostile) string {
			m := h.wendysRecord()
			_, err := h.chat(h.mallory).UpdateMessage(context.Background(), connect.NewRequest(&chatv1.UpdateMessageRequest{Message: &chatv1.Message{Id: m.GetId(), Text: "defaced"}}))
			return rpcFails(codeOf(err))
		}},
		{name: "delete another user's record (HTTP)", want: rpcFails(connect.CodePermissionDenied), run: func(h *hostile) string {
			m := h.wendysRecord()
			_, err := h.chat(h.mallory).DeleteMessage(context.Background(), connect.NewRequest(&chatv1.DeleteMessageRequest{Id: m.GetId()}))
			return rpcFails(codeOf(err))
		}},
		{name: "read another user's record (HTTP)", want: rpcFails(connect.CodePermissionDenied), run: func(h *hostile) string {
			m := h.wendysRecord()
			_, err := h.chat(h.mallory).GetMessage(context.Background(), connect.NewRequest(&chatv1.GetMessageRequest{Id: m.GetId()}))
			return rpcFails(codeOf(err))
		}},
		{name: "bad bearer token (HTTP)", want: rpcFails(connect.CodeUnauthenticated), run: func(h *hostile) string {
			_, err := h.create("forged.jwt.token", "r1", "x")
			return rpcFails(codeOf(err))
		}},
		{name: "anonymous write (HTTP)", want: rpcFails(connect.CodeUnauthenticated), run: func(h *hostile) string {
			_, err := h.create("", "r1", "x")
			return rpcFails(codeOf(err))
		}},
		{name: "expired token", want: closedWith(ssotws.CloseTokenExpired), run: func(h *hostile) string {
			return closedWith(h.dialAs(h.auth.issue("mallory", -time.Second, nil)).closed())
		}},
		{name: "token expiring on an open connection", want: closedWith(ssotws.CloseTokenExpired), run: func(h *hostile) string {
			c := h.dialAs(h.auth.issue("mallory", 100*time.Millisecond, nil))
			c.ack(r1, nil)
			return closedWith(c.closed())
		}},
		{name: "malformed token in the subprotocol", want: closedWith(ssotws.CloseUnauthenticated), run: func(h *hostile) string {
			c, _, err := h.dialOpts(h.url, &websocket.DialOptions{Subprotocols: []string{ssotws.Subprotocol, ssotws.AuthSubprotocolPrefix + "***"}})
			if err != nil {
				return err.Error()
			}
			c.startReading()
			return closedWith(c.closed())
		}},
		{name: "unknown token in an Auth frame", want: closedWith(ssotws.CloseUnauthenticated), run: func(h *hostile) string {
			c := h.dialAs("")
			c.send(authFrame(strings.Repeat("A", 60<<10)))
			return closedWith(c.closed())
		}},
		{name: "Auth frame with another user's token", want: closedWith(ssotws.CloseForbidden), run: func(h *hostile) string {
			c := h.attacker()
			c.ack(r1, nil)
			c.send(authFrame(h.auth.issue("wendy", 0, nil)))
			return closedWith(c.closed())
		}},
		{name: "revoked token", want: closedWith(ssotws.CloseUnauthenticated), run: func(h *hostile) string {
			c := h.attacker()
			c.ack(r1, nil)
			h.auth.revoke(h.mallory)
			h.gateway.Revoke("mallory")
			return closedWith(c.closed())
		}},
		{name: "panicking Authenticator", want: closedWith(ssotws.CloseUnauthenticated), run: func(h *hostile) string {
			tok := h.auth.issue("mallory", 0, nil)
			h.auth.mu.Lock()
			h.auth.panics = tok
			h.auth.mu.Unlock()
			return closedWith(h.dialAs(tok).closed())
		}},
		{name: "wrong Origin", want: httpStatus(http.StatusForbidden), run: func(h *hostile) string {
			_, res, err := h.dialOpts(h.url, &websocket.DialOptions{
				HTTPHeader:   http.Header{"Origin": {"https://evil.example"}},
				Subprotocols: []string{ssotws.Subprotocol, ssotws.AuthSubprotocol(h.mallory)},
			})
			if err == nil || res == nil {
				return fmt.Sprint("handshake: ", err)
			}
			return httpStatus(res.StatusCode)
		}},
		{name: "token in the URL when disabled", want: closedWith(ssotws.CloseUnauthenticated), run: func(h *hostile) string {
			c, _, err := h.dialOpts(h.url+"?token="+h.mallory, nil)
			if err != nil {
				return err.Error()
			}
			c.startReading()
			return closedWith(c.closed())
		}},
		{name: "Subscribe before Auth (RequireAuth)", cfg: func(c *secConfig) { c.gateway.RequireAuth = true }, want: closedWith(ssotws.CloseUnauthenticated), run: func(h *hostile) string {
			c := h.dialAs("")
			c.subscribe(r1, nil)
			return closedWith(c.closed())
		}},
		{name: "no Auth in time (RequireAuth)", cfg: func(c *secConfig) {
			c.gateway.RequireAuth, c.gateway.AuthTimeout = true, 100*time.Millisecond
		}, want: closedWith(ssotws.CloseUnauthenticated), run: func(h *hostile) string {
			return closedWith(h.dialAs("").closed())
		}},
		{name: "sixth connection of a user", want: closedWith(ssotws.CloseTooSlow), run: func(h *hostile) string {
			for range 5 {
				h.attacker().quiet()
			}
			return closedWith(h.attacker().closed())
		}},
		{name: "client stops reading", cfg: func(c *secConfig) { c.gateway.Limits.SendQueue = 8 }, want: closedWith(ssotws.CloseTooSlow), run: func(h *hostile) string {
			c := h.dialAsNoRead(h.mallory)
			c.subscribe(ssotws.ScopeChannel("Message", "room_id", "bulk"), nil)
			// Big events straight through the broker: the network's
			// buffers fill after a few megabytes.
			bulk := ssotws.ScopeChannel("Message", "room_id", "bulk")
			data := marshalMsg(&chatv1.Message{Id: "b", RoomId: "bulk", Author: "mallory", Text: strings.Repeat("x", 1<<20)})
			deadline := time.Now().Add(2 * wait)
			for i := 0; !h.sawClose(ssotws.CloseTooSlow); i++ {
				if time.Now().After(deadline) {
					return "not closed"
				}
				ev := &wsv1.Event{Channel: bulk, Type: wsv1.EventType_EVENT_TYPE_CREATED, Key: fmt.Sprint(i), Data: data}
				if err := h.broker.Publish(context.Background(), []*wsv1.Event{ev}); err != nil {
					return err.Error()
				}
			}
			c.startReading()
			return closedWith(c.closed())
		}},
		{name: "client stops reading, default limits, large events", want: closedWith(ssotws.CloseTooSlow), run: func(h *hostile) string {
			c := h.dialAsNoRead(h.mallory)
			bulk := ssotws.ScopeChannel("Message", "room_id", "bulk")
			c.subscribe(bulk, nil)
			// Read the Ack, so the subscription is live, then read nothing.
			ctx, cancel := context.WithTimeout(context.Background(), wait)
			_, b, err := c.ws.Read(ctx)
			cancel()
			var ack wsv1.ServerFrame
			if err != nil || proto.Unmarshal(b, &ack) != nil || ack.GetAck() == nil {
				return fmt.Sprintf("no Ack: %v %v", err, &ack)
			}
			// 1 MiB events: the network's buffers hold a few of them, the
			// send queue's byte bound (1 MiB) one more. The frame bound
			// alone (8192) would let the server hold gigabytes.
			data := marshalMsg(&chatv1.Message{Id: "b", RoomId: "bulk", Author: "mallory", Text: strings.Repeat("x", 1<<20)})
			for i := range 64 {
				ev := &wsv1.Event{Channel: bulk, Type: wsv1.EventType_EVENT_TYPE_CREATED, Key: fmt.Sprint(i), Data: data}
				if err := h.broker.Publish(context.Background(), []*wsv1.Event{ev}); err != nil {
					return err.Error()
				}
			}
			// The fan-out runs after Publish returns: give it time to
			// reach the connection, then read what was sent.
			closed := func() bool { return h.sawClose(ssotws.CloseTooSlow) }
			if !assert.Eventually(h.t, closed, 2*wait, 5*time.Millisecond) {
				return "not closed after 64 MiB of events"
			}
			c.startReading()
			return closedWith(c.closed())
		}},
		{name: "TCP without close", cfg: func(c *secConfig) { c.gateway.KeepAlive = 100 * time.Millisecond }, want: dropped, run: func(h *hostile) string {
			before := h.gateway.Conns()
			host := strings.TrimPrefix(h.server.URL, "http://")
			conn, err := net.Dial("tcp", host)
			if err != nil {
				return err.Error()
			}
			defer conn.Close()
			key := make([]byte, 16)
			_, _ = rand.Read(key)
			fmt.Fprintf(conn, "GET /ws HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
				"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: %s, %s\r\n\r\n",
				host, base64.StdEncoding.EncodeToString(key), ssotws.Subprotocol, ssotws.AuthSubprotocol(h.mallory))
			status, err := bufio.NewReader(conn).ReadString('\n')
			if err != nil || !strings.Contains(status, " 101 ") {
				return fmt.Sprint("handshake: ", status, err)
			}
			// Silence: no frame, no pong, no close, no FIN.
			deadline := time.Now().Add(wait)
			for h.gateway.Conns() > before {
				if time.Now().After(deadline) {
					return "still open"
				}
				time.Sleep(10 * time.Millisecond)
			}
			return dropped
		}},
		{name: "since ahead of the channel", want: reset, run: func(h *hostile) string {
			c := h.attacker()
			for _, since := range []*wsv1.Position{{Epoch: h.w.from.GetEpoch(), Offset: 1 << 62}, {Epoch: 12345, Offset: 1}} {
				c.subscribe(r1, since)
				f := c.next()
				if f.GetReset_() == nil {
					return fmt.Sprint(f)
				}
				c.send(&wsv1.ClientFrame{Frame: &wsv1.ClientFrame_Unsubscribe{Unsubscribe: &wsv1.Unsubscribe{Channel: r1}}})
				c.next()
			}
			return reset
		}},
	}
}

// TestHostileInput runs each attack against a live server while a witness
// writes and listens: each attack gets its expected answer, and the
// witness gets every event it may see, in order, and the store keeps
// every record.
func TestHostileInput(t *testing.T) {
	cases := hostileCases()
	if len(cases) < 25 {
		t.Fatalf("%d cases", len(cases))
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := secConfig{model: ssotws.ModelConfig{Read: wsv1.Access_OWNER, Write: wsv1.Access_OWNER}}
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			e := newSecEnv(t, cfg)
			h := &hostile{secEnv: e, t: t, wendy: e.auth.issue("wendy", 0, nil), mallory: e.auth.issue("mallory", 0, nil)}
			h.w = startWitness(e, h.wendy, "wendy", true)
			if got := tc.run(h); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
			h.w.check()
		})
	}
}
