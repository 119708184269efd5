package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"
	chatv1 "github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1"
	"github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1/chatv1connect"
)

// publishStats is what one publishing phase did.
type publishStats struct {
	PerRoom []int64         // accepted publishes per room (index as roomOf)
	Acks    []time.Duration // acknowledgement time of each accepted publish (from the load generator)
	Elapsed time.Duration   // from the first call to the last answer
}

func (p publishStats) total() int64 {
	var n int64
	for _, v := range p.PerRoom {
		n += v
	}
	return n
}

// ackQuantile returns the q-quantile of the acknowledgement times.
func (p publishStats) ackQuantile(q float64) time.Duration {
	if len(p.Acks) == 0 {
		return 0
	}
	a := slices.Clone(p.Acks)
	slices.Sort(a)
	return a[min(len(a)-1, int(q*float64(len(a))))]
}

// publisher publishes at rate for dur.
type publisher func(ctx context.Context, rate float64, dur time.Duration) (publishStats, error)

// newPublisher returns the publisher of cfg: CreateMessage over Connect or
// Centrifugo's HTTP API from the load generator (cfg.Workers concurrent
// calls, round robin over the rooms), or a paced loop inside the ssot-ws
// server (-publish create|broker, one room).
func newPublisher(cfg config, base string) publisher {
	if cfg.Publish != "http" {
		return serverPublisher(cfg, base)
	}
	hc := &http.Client{Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: cfg.Workers * 2}}
	var call func(ctx context.Context, channel, room, text string) error
	if cfg.Target == "centrifugo" {
		call = centrifugoPublish(hc, base)
	} else {
		chat := chatv1connect.NewChatServiceClient(hc, base)
		call = func(ctx context.Context, _, room, text string) error {
			_, err := chat.CreateMessage(ctx, connect.NewRequest(&chatv1.CreateMessageRequest{
				Message: &chatv1.Message{RoomId: room, Author: "bench", Text: text},
			}))
			return err
		}
	}
	rooms := max(cfg.Channels, 1)
	return func(ctx context.Context, rate float64, dur time.Duration) (publishStats, error) {
		perRoom := make([]atomic.Int64, rooms)
		var (
			next, failed atomic.Int64
			firstErr     atomic.Value
			mu           sync.Mutex
			acks         []time.Duration
		)
		start := time.Now()
		pace(ctx, rate, dur, cfg.Workers, func(ctx context.Context) {
			i := int(next.Add(1) - 1)
			room := roomOf(cfg.Room, rooms, i)
			t := time.Now()
			if err := call(ctx, targetChannel(cfg.Target, room), room, stampText(cfg.Size)); err != nil {
				failed.Add(1)
				firstErr.CompareAndSwap(nil, err.Error())
				return
			}
			d := time.Since(t)
			perRoom[i%rooms].Add(1)
			mu.Lock()
			acks = append(acks, d)
			mu.Unlock()
		})
		st := publishStats{PerRoom: make([]int64, rooms), Acks: acks, Elapsed: time.Since(start)}
		for i := range perRoom {
			st.PerRoom[i] = perRoom[i].Load()
		}
		if n := failed.Load(); n > 0 {
			return st, fmt.Errorf("publish: %d errors, first: %v", n, firstErr.Load())
		}
		return st, nil
	}
}

// serverPublisher publishes from inside the ssot-ws bench server
// (/bench/publish).
func serverPublisher(cfg config, base string) publisher {
	return func(ctx context.Context, rate float64, dur time.Duration) (publishStats, error) {
		u := fmt.Sprintf("%s/bench/publish?mode=%s&rate=%g&dur=%s&size=%d&room=%s", base, cfg.Publish, rate, dur, cfg.Size, cfg.Room)
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return publishStats{}, err
		}
		start := time.Now()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return publishStats{}, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b, _ := io.ReadAll(resp.Body)
			return publishStats{}, fmt.Errorf("publish: %s: %s", resp.Status, bytes.TrimSpace(b))
		}
		var pr publishResult
		if err := json.NewDecoder(resp.Body).Decode(&pr); err != nil {
			return publishStats{}, err
		}
		st := publishStats{PerRoom: []int64{pr.Published}, Elapsed: time.Since(start)}
		if pr.Errors > 0 {
			return st, fmt.Errorf("publish: %d errors, first: %s", pr.Errors, pr.FirstErr)
		}
		return st, nil
	}
}
