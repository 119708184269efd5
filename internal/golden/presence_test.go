package golden_test

import (
	"context"
	"net/http"
	"testing"

	editions2024v1 "github.com/ssot-codegen/ssot-ws/internal/golden/editions2024/v1"
	"github.com/ssot-codegen/ssot-ws/internal/golden/editions2024/v1/editions2024v1connect"
	"github.com/ssot-codegen/ssot-ws/internal/golden/editions2024/v1/editions2024v1ssotws"
	ed2023v1 "github.com/ssot-codegen/ssot-ws/internal/golden/presence/ed2023/v1"
	"github.com/ssot-codegen/ssot-ws/internal/golden/presence/ed2023/v1/ed2023v1connect"
	"github.com/ssot-codegen/ssot-ws/internal/golden/presence/ed2023/v1/ed2023v1ssotws"
	proto2v1 "github.com/ssot-codegen/ssot-ws/internal/golden/presence/proto2/v1"
	"github.com/ssot-codegen/ssot-ws/internal/golden/presence/proto2/v1/proto2v1connect"
	"github.com/ssot-codegen/ssot-ws/internal/golden/presence/proto2/v1/proto2v1ssotws"
	proto3v1 "github.com/ssot-codegen/ssot-ws/internal/golden/presence/proto3/v1"
	"github.com/ssot-codegen/ssot-ws/internal/golden/presence/proto3/v1/proto3v1connect"
	"github.com/ssot-codegen/ssot-ws/internal/golden/presence/proto3/v1/proto3v1ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// note and counter are what a presence test needs of a package's models,
// whatever its syntax, edition and Go API.
type note interface {
	proto.Message
	GetId() string
	GetRoomId() string
	GetText() string
	GetPinned() bool
}

type counter interface {
	proto.Message
	GetId() int64
	GetValue() int32
}

// presenceCase is one package of the presence goldens: a server and the
// generated clients, and constructors of its models.
type presenceCase[N note, C counter] struct {
	name       string
	serve      func(store ssotws.Store, pub ssotws.Publisher) (string, http.Handler)
	notes      func(hc *http.Client, url string) client.DataClient[N]
	counters   func(hc *http.Client, url string) client.DataClient[C]
	newNote    func(id, room, text string, pinned bool) N
	newCounter func(value int32) C
}

// TestPresence drives the generated code of every presence kind over
// HTTP: proto2 optional, proto3 optional, edition 2023 (explicit by default,
// some fields implicit) and edition 2024 (the opaque Go API).
func TestPresence(t *testing.T) {
	runPresence(t, presenceCase[*proto2v1.Note, *proto2v1.Counter]{
		name: "proto2",
		serve: func(store ssotws.Store, pub ssotws.Publisher) (string, http.Handler) {
			return proto2v1connect.NewNoteServiceHandler(proto2v1ssotws.NewNoteService(store, pub, nil))
		},
		notes: func(hc *http.Client, url string) client.DataClient[*proto2v1.Note] {
			return proto2v1ssotws.NewNoteClient(proto2v1connect.NewNoteServiceClient(hc, url), nil, nil)
		},
		counters: func(hc *http.Client, url string) client.DataClient[*proto2v1.Counter] {
			return proto2v1ssotws.NewCounterClient(proto2v1connect.NewNoteServiceClient(hc, url), nil, nil)
		},
		newNote: func(id, room, text string, pinned bool) *proto2v1.Note {
			return &proto2v1.Note{Id: optString(id), RoomId: proto.String(room), Text: proto.String(text), Pinned: proto.Bool(pinned)}
		},
		newCounter: func(v int32) *proto2v1.Counter { return &proto2v1.Counter{Value: proto.Int32(v)} },
	})
	runPresence(t, presenceCase[*proto3v1.Note, *proto3v1.Counter]{
		name: "proto3",
		serve: func(store ssotws.Store, pub ssotws.Publisher) (string, http.Handler) {
			return proto3v1connect.NewNoteServiceHandler(proto3v1ssotws.NewNoteService(store, pub, nil))
		},
		notes: func(hc *http.Client, url string) client.DataClient[*proto3v1.Note] {
			return proto3v1ssotws.NewNoteClient(proto3v1connect.NewNoteServiceClient(hc, url), nil, nil)
		},
		counters: func(hc *http.Client, url string) client.DataClient[*proto3v1.Counter] {
			return proto3v1ssotws.NewCounterClient(proto3v1connect.NewNoteServiceClient(hc, url), nil, nil)
		},
		newNote: func(id, room, text string, pinned bool) *proto3v1.Note {
			return &proto3v1.Note{Id: optString(id), RoomId: proto.String(room), Text: proto.String(text), Pinned: proto.Bool(pinned)}
		},
		newCounter: func(v int32) *proto3v1.Counter { return &proto3v1.Counter{Value: proto.Int32(v)} },
	})
	runPresence(t, presenceCase[*ed2023v1.Note, *ed2023v1.Counter]{
		name: "edition 2023",
		serve: func(store ssotws.Store, pub ssotws.Publisher) (string, http.Handler) {
			return ed2023v1connect.NewNoteServiceHandler(ed2023v1ssotws.NewNoteService(store, pub, nil))
		},
		notes: func(hc *http.Client, url string) client.DataClient[*ed2023v1.Note] {
			return ed2023v1ssotws.NewNoteClient(ed2023v1connect.NewNoteServiceClient(hc, url), nil, nil)
		},
		counters: func(hc *http.Client, url string) client.DataClient[*ed2023v1.Counter] {
			return ed2023v1ssotws.NewCounterClient(ed2023v1connect.NewNoteServiceClient(hc, url), nil, nil)
		},
		newNote: func(id, room, text string, pinned bool) *ed2023v1.Note {
			// text has implicit presence (a field override).
			return &ed2023v1.Note{Id: optString(id), RoomId: proto.String(room), Text: text, Pinned: proto.Bool(pinned)}
		},
		newCounter: func(v int32) *ed2023v1.Counter { return &ed2023v1.Counter{Value: proto.Int32(v)} },
	})
	runPresence(t, presenceCase[*editions2024v1.Note, *editions2024v1.Counter]{
		name: "edition 2024",
		serve: func(store ssotws.Store, pub ssotws.Publisher) (string, http.Handler) {
			return editions2024v1connect.NewNoteServiceHandler(editions2024v1ssotws.NewNoteService(store, pub, nil))
		},
		notes: func(hc *http.Client, url string) client.DataClient[*editions2024v1.Note] {
			return editions2024v1ssotws.NewNoteClient(editions2024v1connect.NewNoteServiceClient(hc, url), nil, nil)
		},
		counters: func(hc *http.Client, url string) client.DataClient[*editions2024v1.Counter] {
			return editions2024v1ssotws.NewCounterClient(editions2024v1connect.NewNoteServiceClient(hc, url), nil, nil)
		},
		newNote: func(id, room, text string, pinned bool) *editions2024v1.Note {
			n := &editions2024v1.Note{}
			if id != "" {
				n.SetId(id)
			}
			n.SetRoomId(room)
			n.SetText(text)
			n.SetPinned(pinned)
			return n
		},
		newCounter: func(v int32) *editions2024v1.Counter {
			c := &editions2024v1.Counter{}
			c.SetValue(v)
			return c
		},
	})
}

func runPresence[N note, C counter](t *testing.T, tc presenceCase[N, C]) {
	t.Run(tc.name, func(t *testing.T) {
		ctx := context.Background()
		store, rec := ssotws.NewMemoryStore(), &recorder{}
		srv := serve(t)(tc.serve(store, rec))
		notes, counters := tc.notes(srv.Client(), srv.URL), tc.counters(srv.Client(), srv.URL)

		// Keys: given by the client (note_id) and made by the store.
		a, err := notes.Create(ctx, tc.newNote("a", "r1", "first", true))
		require.NoError(t, err)
		assert.Equal(t, "a", a.GetId())
		b, err := notes.Create(ctx, tc.newNote("", "r1", "second", false))
		require.NoError(t, err)
		require.NotEmpty(t, b.GetId())
		// A key set to "" holds no key, present or not: the store makes one.
		empty := tc.newNote("", "r3", "empty key", false)
		empty.ProtoReflect().Set(empty.ProtoReflect().Descriptor().Fields().ByName("id"), protoreflect.ValueOfString(""))
		e, err := notes.Create(ctx, empty)
		require.NoError(t, err)
		require.NotEmpty(t, e.GetId())
		_, err = notes.Delete(ctx, e.GetId())
		require.NoError(t, err)
		_, err = notes.Create(ctx, tc.newNote("c", "r2", "third", true))
		require.NoError(t, err)

		got, err := notes.Get(ctx, "a")
		require.NoError(t, err)
		assert.Equal(t, "first", got.GetText())

		// Optional filters: a present false filters on false.
		page, err := notes.List(ctx, client.ListParams{Filters: map[string]string{"room_id": "r1", "pinned": "false"}})
		require.NoError(t, err)
		require.Len(t, page.Items, 1)
		assert.Equal(t, b.GetId(), page.Items[0].GetId())

		// Paging through page_size, page_token and next_page_token.
		var ids []string
		token := ""
		for range 5 {
			page, err := notes.List(ctx, client.ListParams{PageSize: 1, PageToken: token})
			require.NoError(t, err)
			for _, n := range page.Items {
				ids = append(ids, n.GetId())
			}
			if token = page.NextPageToken; token == "" {
				break
			}
		}
		assert.Len(t, ids, 3)

		updated, err := notes.Update(ctx, tc.newNote("a", "r1", "edited", true), "text")
		require.NoError(t, err)
		assert.Equal(t, "edited", updated.GetText())
		ok, err := notes.Delete(ctx, "a")
		require.NoError(t, err)
		assert.True(t, ok)
		assert.NotEmpty(t, rec.take())

		// An integer key with explicit presence, wrapper responses.
		c, err := counters.Create(ctx, tc.newCounter(7))
		require.NoError(t, err)
		require.NotZero(t, c.GetId())
		key := ssotws.FormatKey(c.GetId())
		gotC, err := counters.Get(ctx, key)
		require.NoError(t, err)
		assert.Equal(t, int32(7), gotC.GetValue())
		cpage, err := counters.List(ctx, client.ListParams{Filters: map[string]string{"value": "7"}})
		require.NoError(t, err)
		assert.Len(t, cpage.Items, 1)
		ok, err = counters.Delete(ctx, key)
		require.NoError(t, err)
		assert.True(t, ok)
	})
}

// optString is s with explicit presence: nil (unset) when empty.
func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
