package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
	"google.golang.org/protobuf/proto"
)

// client is one subscriber: a real WebSocket connection on loopback.
type client struct {
	ws *websocket.Conn

	// recordFrom is shared: events stamped at or after it are measured.
	recordFrom *atomic.Int64

	events   atomic.Int64 // every event received
	frames   atomic.Int64 // every Events message received
	measured atomic.Int64 // events stamped at or after recordFrom
	lastRecv atomic.Int64 // Unix ns of the last measured event's receipt
	gaps     atomic.Int64 // offsets skipped

	lastOffset uint64
	lat        []uint32 // µs, measured events only; read after the loop ended

	closeCode websocket.StatusCode // how the server closed it, if it did
	done      chan struct{}

	parse frameParser
}

// frameParser reads one WebSocket message of the target's protocol,
// calling fn with the offset and publish stamp of each event, and returns
// what to send back (a pong), if anything.
type frameParser func(b []byte, fn func(offset uint64, stamp int64)) (reply []byte, err error)

// ssotwsFrames is the client's parser of ssot-ws ServerFrames.
func ssotwsFrames(b []byte, fn func(offset uint64, stamp int64)) ([]byte, error) {
	_, err := parseServerFrame(b, fn)
	return nil, err
}

// newClient starts the read loop of a subscribed connection.
func newClient(ws *websocket.Conn, recordFrom *atomic.Int64, parse frameParser) *client {
	c := &client{ws: ws, recordFrom: recordFrom, done: make(chan struct{}), parse: parse}
	go c.readLoop()
	return c
}

var dialHTTPClient = &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}

// dialClient connects to ws://addr/ws, subscribes to channel and waits for
// the Ack.
func dialClient(ctx context.Context, addr, channel string, recordFrom *atomic.Int64) (*client, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws://"+addr+"/ws", &websocket.DialOptions{
		HTTPClient:   dialHTTPClient,
		Subprotocols: []string{ssotws.Subprotocol},
	})
	if err != nil {
		return nil, err
	}
	ws.SetReadLimit(16 << 20)
	sub, _ := proto.Marshal(&wsv1.ClientFrame{Frame: &wsv1.ClientFrame_Subscribe{
		Subscribe: &wsv1.Subscribe{Id: 1, Channel: channel},
	}})
	if err := ws.Write(ctx, websocket.MessageBinary, sub); err != nil {
		_ = ws.CloseNow()
		return nil, err
	}
	_, b, err := ws.Read(ctx)
	if err != nil {
		_ = ws.CloseNow()
		return nil, err
	}
	kind, err := parseServerFrame(b, func(uint64, int64) {})
	if err != nil || kind != kindAck {
		_ = ws.CloseNow()
		return nil, fmt.Errorf("subscribe: want an Ack, got kind %d: %v", kind, err)
	}
	return newClient(ws, recordFrom, ssotwsFrames), nil
}

func (c *client) readLoop() {
	defer close(c.done)
	buf := make([]byte, 0, 4096)
	for {
		_, r, err := c.ws.Reader(context.Background())
		if err != nil {
			c.closeCode = websocket.CloseStatus(err)
			return
		}
		buf, err = readAll(r, buf[:0])
		if err != nil {
			c.closeCode = websocket.CloseStatus(err)
			return
		}
		now := time.Now().UnixNano()
		from := c.recordFrom.Load()
		var nev, nmeas int64
		reply, err := c.parse(buf, func(off uint64, stamp int64) {
			nev++
			if c.lastOffset != 0 && off > c.lastOffset+1 {
				c.gaps.Add(int64(off - c.lastOffset - 1))
			}
			c.lastOffset = off
			if stamp >= from && stamp > 0 {
				nmeas++
				d := (now - stamp) / 1000
				if d < 0 {
					d = 0
				}
				c.lat = append(c.lat, uint32(min(d, 1<<32-1)))
			}
		})
		if err != nil {
			_ = c.ws.CloseNow()
			return
		}
		if reply != nil {
			if err := c.ws.Write(context.Background(), websocket.MessageText, reply); err != nil {
				c.closeCode = websocket.CloseStatus(err)
				return
			}
		}
		if nev > 0 {
			c.frames.Add(1)
			c.events.Add(nev)
		}
		if nmeas > 0 {
			c.measured.Add(nmeas)
			c.lastRecv.Store(now)
		}
	}
}

// readAll reads r to its end into buf, growing it.
func readAll(r io.Reader, buf []byte) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if errors.Is(err, io.EOF) {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// dialFunc connects one client to addr and subscribes it to channel.
type dialFunc func(ctx context.Context, addr, channel string, recordFrom *atomic.Int64) (*client, error)

// dialAll opens n clients with bounded concurrency; client i subscribes to
// channel(i).
func dialAll(ctx context.Context, dial dialFunc, addr string, channel func(i int) string, n, concurrency int, recordFrom *atomic.Int64) ([]*client, error) {
	clients := make([]*client, n)
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		first   error
		workers = make(chan struct{}, concurrency)
	)
	for i := range n {
		wg.Add(1)
		workers <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-workers }()
			c, err := dial(ctx, addr, channel(i), recordFrom)
			if err != nil {
				mu.Lock()
				if first == nil {
					first = fmt.Errorf("client %d: %w", i, err)
				}
				mu.Unlock()
				return
			}
			clients[i] = c
		}()
	}
	wg.Wait()
	if first != nil {
		closeAll(clients)
		return nil, first
	}
	return clients, nil
}

// closeAll drops every client at once and waits for their read loops.
func closeAll(clients []*client) {
	for _, c := range clients {
		if c != nil {
			_ = c.ws.CloseNow()
		}
	}
	for _, c := range clients {
		if c != nil {
			<-c.done
		}
	}
}
