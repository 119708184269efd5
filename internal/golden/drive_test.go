// Package golden_test drives the generated golden code: each test mounts a
// generated service through protoc-gen-connect-go's handler on a real
// loopback HTTP server and calls it with a connect-go client.
package golden_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"connectrpc.com/connect"
	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
)

// recorder is a Publisher that records what was published.
type recorder struct {
	mu     sync.Mutex
	events []*wsv1.Event
}

func (r *recorder) Publish(_ context.Context, events []*wsv1.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, events...)
	return nil
}

// take returns the events recorded since the last take, as
// "TYPE channel key version request-id" lines.
func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.events {
		typ := strings.TrimPrefix(e.GetType().String(), "EVENT_TYPE_")
		out = append(out, strings.Join([]string{typ, e.GetChannel(), e.GetKey(), strconv.FormatInt(e.GetVersion(), 10), e.GetRequestId()}, " "))
	}
	r.events = nil
	return out
}

// serve returns a function that mounts a connect handler (the results of
// a generated New…Handler) on a loopback server, closed when t ends.
func serve(t *testing.T) func(path string, h http.Handler) *httptest.Server {
	return func(path string, h http.Handler) *httptest.Server {
		mux := http.NewServeMux()
		mux.Handle(path, h)
		srv := httptest.NewServer(mux)
		t.Cleanup(srv.Close)
		return srv
	}
}

// withKey sets the Idempotency-Key of a request.
func withKey[T any](msg *T, key string) *connect.Request[T] {
	req := connect.NewRequest(msg)
	if key != "" {
		req.Header().Set(ssotws.HeaderIdempotencyKey, key)
	}
	return req
}

func wantCode(t *testing.T, err error, code connect.Code, contains string) {
	t.Helper()
	if connect.CodeOf(err) != code {
		t.Fatalf("error %v: code %v, want %v", err, connect.CodeOf(err), code)
	}
	if contains != "" && !strings.Contains(err.Error(), contains) {
		t.Fatalf("error %q does not mention %q", err, contains)
	}
}

func wantEvents(t *testing.T, rec *recorder, want ...string) {
	t.Helper()
	got := rec.take()
	if !slices.Equal(got, want) {
		t.Fatalf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func mask(paths ...string) *fieldmaskpb.FieldMask { return &fieldmaskpb.FieldMask{Paths: paths} }

// registry records the models a RegisterChannels function registers.
type registry struct{ names []string }

func (r *registry) RegisterModel(m *ssotws.Model) error {
	r.names = append(r.names, m.Name())
	return nil
}

var errNope = errors.New("nope")

// failingRegistry fails every registration.
type failingRegistry struct{}

func (failingRegistry) RegisterModel(*ssotws.Model) error { return errNope }

// storedRecord reads a record straight from the store.
func storedRecord[T proto.Message](t *testing.T, store ssotws.Store, model, key string, into T) T {
	t.Helper()
	rec, err := store.Get(context.Background(), model, key)
	if err != nil {
		t.Fatalf("store.Get(%s, %s): %v", model, key, err)
	}
	if err := proto.Unmarshal(rec.Data, into); err != nil {
		t.Fatal(err)
	}
	return into
}
