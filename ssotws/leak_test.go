package ssotws_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	chatv1 "github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1"
	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
)

// TestOwnerFilterNoLeak: over randomized runs, with users subscribed to
// model, room and item channels (their own records' and others'), a user
// receives exactly the events of their own records on each channel, in
// offset order, and never an event of another user's record.
// SSOTWS_LEAK_SEED=<seed> replays a run.
func TestOwnerFilterNoLeak(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("SSOTWS_LEAK_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("seed %d (replay with SSOTWS_LEAK_SEED=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, seed^0x5eed))
	for round := range 4 {
		t.Run(fmt.Sprint("round", round), func(t *testing.T) { leakRound(t, rng) })
	}
}

func leakRound(t *testing.T, rng *rand.Rand) {
	e := newSecEnv(t, secConfig{
		model:   ssotws.ModelConfig{Read: wsv1.Access_OWNER, Write: wsv1.Access_OWNER},
		gateway: ssotws.GatewayOptions{Limits: ssotws.Limits{MaxConnsPerUser: -1, FrameRate: -1}},
	})
	users := []string{"alice", "bob", "carol"}
	rooms := []string{"r1", "r2", "r3"}
	as := func(u string) context.Context {
		return ssotws.WithIdentity(context.Background(), &ssotws.Identity{Subject: u})
	}
	pick := func(s []string) string { return s[rng.IntN(len(s))] }

	// The oracle: every event the broker publishes, per channel. The
	// broker's history cannot serve: a deleted record's item channel keeps
	// only its DELETED event there.
	var seenMu sync.Mutex
	seen := make(map[string][]*wsv1.Event)
	stop := e.broker.Listen(func(evs []*wsv1.Event) {
		seenMu.Lock()
		defer seenMu.Unlock()
		for _, ev := range evs {
			seen[ev.GetChannel()] = append(seen[ev.GetChannel()], ev)
		}
	})
	defer stop()
	seenSince := func(channel string, since *wsv1.Position) []*wsv1.Event {
		seenMu.Lock()
		defer seenMu.Unlock()
		var out []*wsv1.Event
		for _, ev := range seen[channel] {
			if ev.GetPosition().GetOffset() > since.GetOffset() {
				out = append(out, ev)
			}
		}
		return out
	}

	// Records to watch, of every user.
	var keys []string
	for range 12 {
		m, err := e.messages.Create(as(pick(users)), nil, &chatv1.Message{RoomId: pick(rooms), Text: "seed"})
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, m.GetId())
	}

	// Each user opens one or two connections with random subscriptions.
	type sub struct {
		channel string
		from    *wsv1.Position
	}
	type watcher struct {
		user string
		c    *client
		subs []sub
	}
	var watchers []*watcher
	for _, u := range users {
		for range 1 + rng.IntN(2) {
			w := &watcher{user: u, c: e.dialAs(e.auth.issue(u, 0, nil))}
			channels := []string{"Message"}
			for _, r := range rooms {
				channels = append(channels, ssotws.ScopeChannel("Message", "room_id", r))
			}
			for _, k := range keys {
				channels = append(channels, ssotws.ItemChannel("Message", k))
			}
			rng.Shuffle(len(channels), func(i, j int) { channels[i], channels[j] = channels[j], channels[i] })
			for _, ch := range channels[:4+rng.IntN(8)] {
				w.subs = append(w.subs, sub{channel: ch, from: w.c.ack(ch, nil)})
			}
			watchers = append(watchers, w)
		}
	}

	// Random writes by random users; those on others' records fail.
	for range 80 {
		u := pick(users)
		switch op := rng.IntN(10); {
		case op < 4:
			m, err := e.messages.Create(as(u), nil, &chatv1.Message{RoomId: pick(rooms), Text: "new"})
			if err != nil {
				t.Fatal(err)
			}
			keys = append(keys, m.GetId())
		case op < 8:
			msg := &chatv1.Message{Id: pick(keys), Text: fmt.Sprint("edit ", rng.Int())}
			mask := &fieldmaskpb.FieldMask{Paths: []string{"text"}}
			if rng.IntN(3) == 0 {
				msg.RoomId, mask.Paths = pick(rooms), append(mask.Paths, "room_id")
			}
			_, _ = e.messages.Update(as(u), nil, msg, mask)
		default:
			_, _ = e.messages.Delete(as(u), nil, pick(keys))
		}
	}

	// Each watcher gets exactly its own records' events, per channel.
	ctx := context.Background()
	for _, w := range watchers {
		want := make(map[string][]*wsv1.Event)
		n := 0
		for _, s := range w.subs {
			// Wait until the oracle has every event the channel carried.
			pos, err := e.broker.Position(ctx, s.channel)
			require.NoError(t, err)
			require.Eventually(t, func() bool {
				evs := seenSince(s.channel, s.from)
				return pos.GetOffset() <= s.from.GetOffset() ||
					(len(evs) > 0 && evs[len(evs)-1].GetPosition().GetOffset() >= pos.GetOffset())
			}, 10*time.Second, time.Millisecond, "the broker's listener never saw %s up to offset %d", s.channel, pos.GetOffset())
			for _, ev := range seenSince(s.channel, s.from) {
				if authorOf(t, ev) == w.user {
					want[s.channel] = append(want[s.channel], ev)
					n++
				}
			}
		}
		got := make(map[string][]*wsv1.Event)
		for _, ev := range w.c.events(n) {
			if a := authorOf(t, ev); a != w.user {
				t.Fatalf("LEAK: %s received %s's record %s on %s", w.user, a, ev.GetKey(), ev.GetChannel())
			}
			got[ev.GetChannel()] = append(got[ev.GetChannel()], ev)
		}
		w.c.quiet() // and nothing more
		for ch, evs := range want {
			if len(got[ch]) != len(evs) {
				t.Fatalf("%s on %s: %d events, want %d", w.user, ch, len(got[ch]), len(evs))
			}
			for i, ev := range evs {
				if g := got[ch][i]; g.GetPosition().GetOffset() != ev.GetPosition().GetOffset() || g.GetKey() != ev.GetKey() {
					t.Fatalf("%s on %s, event %d: offset %d, want %d", w.user, ch, i, g.GetPosition().GetOffset(), ev.GetPosition().GetOffset())
				}
			}
		}
	}
}

func authorOf(t *testing.T, ev *wsv1.Event) string {
	t.Helper()
	var m chatv1.Message
	if err := proto.Unmarshal(ev.GetData(), &m); err != nil {
		t.Fatal(err)
	}
	return m.GetAuthor()
}
