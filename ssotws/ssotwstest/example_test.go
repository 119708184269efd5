package ssotwstest_test

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"

	chatv1 "github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1"
	"github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1/chatv1connect"
	"github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1/chatv1ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws/client"
	"github.com/ssot-codegen/ssot-ws/ssotws/ssotwstest"
	"github.com/stretchr/testify/require"
)

// testLiveChat is a test of the chat example's generated code as it
// would be written in an application (func TestLiveChat(t *testing.T)):
// alice posts in room r1, and bob, who watches the room, sees the message
// arrive live.
func testLiveChat(t testing.TB) {
	srv := ssotwstest.NewServer(t, nil)
	srv.RegisterChannels(chatv1ssotws.RegisterChannels)
	svc := chatv1ssotws.NewChatService(srv.Store, srv.Broker, nil)
	srv.Handle(chatv1ssotws.NewChatServiceHandler(svc, srv.HandlerOptions()...))
	ctx := srv.Context(t)

	// Each user: the generated hybrid client, over HTTP and a WebSocket
	// both signed in as that user.
	clientOf := func(user string) *client.Hybrid[*chatv1.Message] {
		api := chatv1connect.NewChatServiceClient(srv.HTTPClient(user), srv.URL)
		return chatv1ssotws.NewMessageClient(api, srv.Dial(t, user), nil)
	}
	alice, bob := clientOf("alice"), clientOf("bob")

	room := chatv1ssotws.MessageChannels.Room("r1")
	var mu sync.Mutex
	var seen []string
	defer bob.Subscribe(room, func(c client.Change[*chatv1.Message]) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, c.Type.String()+": "+c.Value.GetText())
	})()
	require.NoError(t, bob.WebSocket().WaitHydrated(ctx, room))

	_, err := alice.Create(ctx, &chatv1.Message{RoomId: "r1", Author: "alice", Text: "hello bob"})
	require.NoError(t, err)
	srv.WaitFor(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(seen) == 1
	}, "bob sees alice's message")
	fmt.Println("bob saw", seen[0])
}

// ExampleNewServer runs testLiveChat. In a test, write the function as a
// Test function and let go test pass its *testing.T.
func ExampleNewServer() {
	runAsTest(testLiveChat)
	// Output:
	// bob saw created: hello bob
}

// runAsTest runs f with a stand-in for the *testing.T an example does
// not have, then its cleanups, as go test would.
func runAsTest(f func(t testing.TB)) {
	t := &exampleT{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(t)
	}()
	<-done
	for i := len(t.cleanups) - 1; i >= 0; i-- {
		t.cleanups[i]()
	}
	if t.failed {
		fmt.Println("FAIL")
	}
}

// exampleT is the part of testing.TB that the example uses.
type exampleT struct {
	testing.TB
	ctx      context.Context
	cancel   context.CancelFunc
	cleanups []func()
	failed   bool
}

func (t *exampleT) Helper()                        {}
func (t *exampleT) Log(args ...any)                {}
func (t *exampleT) Errorf(format string, a ...any) { t.failed = true; fmt.Printf(format+"\n", a...) }
func (t *exampleT) FailNow()                       { t.failed = true; runtime.Goexit() }
func (t *exampleT) Fatalf(format string, a ...any) { t.Errorf(format, a...); t.FailNow() }
func (t *exampleT) Cleanup(f func())               { t.cleanups = append(t.cleanups, f) }

func (t *exampleT) Context() context.Context {
	if t.ctx == nil {
		t.ctx, t.cancel = context.WithCancel(context.Background())
		t.Cleanup(t.cancel)
	}
	return t.ctx
}
