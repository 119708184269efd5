package main

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"connectrpc.com/connect"
	notificationsv1 "github.com/ssot-codegen/ssot-ws/examples/notifications/gen/notifications/v1"
	"github.com/ssot-codegen/ssot-ws/examples/notifications/gen/notifications/v1/notificationsv1connect"
	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
)

// bearer returns a client option that signs every call in as user.
func bearer(user string) connect.ClientOption {
	return connect.WithInterceptors(connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			req.Header().Set("Authorization", "Bearer dev-"+user)
			return next(ctx, req)
		}
	}))
}

// TestSendReadMarkRead: the sender's notification is bob's alone (alice
// neither lists nor updates it), bob marks it read, and a call without a
// token is refused.
func TestSendReadMarkRead(t *testing.T) {
	ctx := context.Background()
	broker := ssotws.NewMemoryBroker(nil)
	defer broker.Close()
	srv, err := newServer(ssotws.NewMemoryStore(), broker, broker, "", slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	ts := httptest.NewServer(srv.mux)
	defer ts.Close()

	res, err := http.PostForm(ts.URL+"/dev/send", url.Values{"to": {"bob"}, "text": {"your build passed"}})
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)

	bob := notificationsv1connect.NewNotificationServiceClient(ts.Client(), ts.URL, bearer("bob"))
	alice := notificationsv1connect.NewNotificationServiceClient(ts.Client(), ts.URL, bearer("alice"))

	list, err := bob.ListNotifications(ctx, connect.NewRequest(&notificationsv1.ListNotificationsRequest{}))
	require.NoError(t, err)
	require.Len(t, list.Msg.GetNotifications(), 1)
	n := list.Msg.GetNotifications()[0]
	assert.Equal(t, "bob", n.GetUserId())
	assert.Equal(t, "your build passed", n.GetText())
	assert.False(t, n.GetRead())

	list, err = alice.ListNotifications(ctx, connect.NewRequest(&notificationsv1.ListNotificationsRequest{}))
	require.NoError(t, err)
	assert.Empty(t, list.Msg.GetNotifications(), "alice lists none of bob's")

	markRead := &notificationsv1.UpdateNotificationRequest{
		Notification: &notificationsv1.Notification{Id: n.GetId(), Read: true},
		UpdateMask:   &fieldmaskpb.FieldMask{Paths: []string{"read"}},
	}
	_, err = alice.UpdateNotification(ctx, connect.NewRequest(markRead))
	require.Error(t, err, "alice may not mark bob's notification read")
	assert.Equal(t, connect.CodePermissionDenied, connect.CodeOf(err))

	updated, err := bob.UpdateNotification(ctx, connect.NewRequest(markRead))
	require.NoError(t, err)
	assert.True(t, updated.Msg.GetNotification().GetRead())

	anonymous := notificationsv1connect.NewNotificationServiceClient(ts.Client(), ts.URL)
	_, err = anonymous.ListNotifications(ctx, connect.NewRequest(&notificationsv1.ListNotificationsRequest{}))
	assert.Equal(t, connect.CodeUnauthenticated, connect.CodeOf(err))
}

// TestDevTokens: only "dev-<name>" tokens with a plain name pass.
func TestDevTokens(t *testing.T) {
	id, err := devTokens.Authenticate(context.Background(), "dev-alice")
	require.NoError(t, err)
	assert.Equal(t, "alice", id.Subject)
	for _, bad := range []string{"", "alice", "dev-", "dev-Alice", "dev-a b", "dev-" + strings.Repeat("a", 40)} {
		_, err := devTokens.Authenticate(context.Background(), bad)
		assert.Error(t, err, "token %q", bad)
	}
}

// TestSendRefusesBadInput: the sender needs a user name and a text.
func TestSendRefusesBadInput(t *testing.T) {
	broker := ssotws.NewMemoryBroker(nil)
	defer broker.Close()
	srv, err := newServer(ssotws.NewMemoryStore(), broker, broker, "", slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	ts := httptest.NewServer(srv.mux)
	defer ts.Close()
	for _, form := range []url.Values{{"to": {"bob"}}, {"text": {"hi"}}, {"to": {"../x"}, "text": {"hi"}}} {
		res, err := http.PostForm(ts.URL+"/dev/send", form)
		require.NoError(t, err)
		res.Body.Close()
		assert.Equal(t, http.StatusBadRequest, res.StatusCode, "form %v", form)
	}
}
