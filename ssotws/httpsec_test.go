package ssotws_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"connectrpc.com/connect"
	chatv1 "github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1"
	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protowire"
)

// deleteWithKey deletes id as token's bearer with a fresh Idempotency-Key.
func (e *secEnv) deleteWithKey(token, id, key string) error {
	req := connect.NewRequest(&chatv1.DeleteMessageRequest{Id: id})
	req.Header().Set(ssotws.HeaderIdempotencyKey, key)
	_, err := e.chat(token).DeleteMessage(context.Background(), req)
	return err
}

// TestDeleteRaceNoForeignDelete: bob deletes a key over and over, each
// time with a fresh Idempotency-Key, while alice creates a record with
// that key. A delete that found the key absent must not delete the record
// created in between: the owner check holds against the record actually
// deleted. And the Authorizer never decides a delete without the record.
func TestDeleteRaceNoForeignDelete(t *testing.T) {
	var blind atomic.Int32
	e := newSecEnv(t, secConfig{
		model: ssotws.ModelConfig{Read: wsv1.Access_AUTHENTICATED, Write: wsv1.Access_OWNER},
		authorizer: func(ctx context.Context, req *ssotws.AccessRequest) error {
			if req.Op == ssotws.OpDelete && req.Current == nil {
				blind.Add(1)
			}
			return nil
		},
	})
	alice := e.auth.issue("alice", 0, nil)
	bob := e.auth.issue("bob", 0, nil)
	aliceCtx := ssotws.WithIdentity(context.Background(), &ssotws.Identity{Subject: "alice"})

	const rounds = 300
	var bobDeleted, attempts atomic.Int32
	for i := range rounds {
		key := fmt.Sprintf("k%d", i)
		var created atomic.Bool
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Until alice's create returned, and once more after it.
			for n := 0; ; n++ {
				after := created.Load()
				err := e.deleteWithKey(bob, key, fmt.Sprintf("bob-%d-%d", i, n))
				attempts.Add(1)
				if err == nil {
					bobDeleted.Add(1)
				} else if c := connect.CodeOf(err); c != connect.CodeNotFound && c != connect.CodePermissionDenied {
					t.Errorf("bob's delete of %s: %v", key, err)
				}
				if after || n > 1000 {
					return
				}
			}
		}()
		_, err := e.chat(alice).CreateMessage(context.Background(), connect.NewRequest(&chatv1.CreateMessageRequest{
			Message: &chatv1.Message{Id: key, RoomId: "r", Text: "alice's"},
		}))
		created.Store(true)
		require.NoError(t, err, "alice's create of %s", key)
		wg.Wait()
	}
	foreign := 0
	for i := range rounds {
		if _, _, err := e.messages.Get(aliceCtx, fmt.Sprintf("k%d", i)); err != nil {
			foreign++
		}
	}
	t.Logf("%d deletes by bob", attempts.Load())
	assert.Zero(t, foreign, "alice's records deleted by bob")
	assert.Zero(t, bobDeleted.Load(), "deletes by bob that succeeded")
	assert.Zero(t, blind.Load(), "deletes authorized without the record")

	// A retried delete (same key) of the owner's own record still answers
	// with the first result, and the Authorizer sees the record.
	require.NoError(t, e.deleteWithKey(alice, "k0", "alice-del"))
	require.NoError(t, e.deleteWithKey(alice, "k0", "alice-del"))
	assert.Zero(t, blind.Load(), "retried delete authorized without the record")
	// Another user replaying that key gets nothing of alice's.
	assert.Equal(t, connect.CodeNotFound, connect.CodeOf(e.deleteWithKey(bob, "k0", "alice-del")))
}

// TestRecordSizeBound: a record over the resource's size bound is refused
// with InvalidArgument naming its size and the limit, on Create and on
// Update, so that no record is too large to reach every subscriber.
func TestRecordSizeBound(t *testing.T) {
	// Without chat.proto's rules, which refuse a text over 4096 bytes
	// first: the bound holds for records whose rules allow them.
	e := newSecEnv(t, secConfig{
		model: ssotws.ModelConfig{Read: wsv1.Access_AUTHENTICATED, Write: wsv1.Access_OWNER},
		ropts: ssotws.ResourceOptions{NoValidation: true},
	})
	alice := e.auth.issue("alice", 0, nil)
	big := strings.Repeat("x", ssotws.DefaultMaxRecordBytes)

	_, err := e.chat(alice).CreateMessage(context.Background(), connect.NewRequest(&chatv1.CreateMessageRequest{
		Message: &chatv1.Message{RoomId: "r", Text: big},
	}))
	require.Equal(t, connect.CodeInvalidArgument, connect.CodeOf(err), "create: %v", err)
	assert.Contains(t, err.Error(), fmt.Sprint(ssotws.DefaultMaxRecordBytes))
	assert.Contains(t, err.Error(), "bytes")

	m := e.mustCreate(alice, "r", "small")
	_, err = e.chat(alice).UpdateMessage(context.Background(), connect.NewRequest(&chatv1.UpdateMessageRequest{
		Message: &chatv1.Message{Id: m.GetId(), Text: big},
	}))
	require.Equal(t, connect.CodeInvalidArgument, connect.CodeOf(err), "update: %v", err)

	// Just under the bound passes; the option moves the bound.
	_, err = e.chat(alice).CreateMessage(context.Background(), connect.NewRequest(&chatv1.CreateMessageRequest{
		Message: &chatv1.Message{RoomId: "r", Text: big[:ssotws.DefaultMaxRecordBytes-64]},
	}))
	require.NoError(t, err)
	small := newSecEnv(t, secConfig{
		model: ssotws.ModelConfig{Read: wsv1.Access_AUTHENTICATED, Write: wsv1.Access_OWNER},
		ropts: ssotws.ResourceOptions{MaxRecordBytes: 1000, NoValidation: true},
	})
	_, err = small.chat(small.auth.issue("alice", 0, nil)).CreateMessage(context.Background(), connect.NewRequest(&chatv1.CreateMessageRequest{
		Message: &chatv1.Message{RoomId: "r", Text: strings.Repeat("x", 1000)},
	}))
	require.Equal(t, connect.CodeInvalidArgument, connect.CodeOf(err), "create over WithMaxRecordBytes: %v", err)
	assert.Contains(t, err.Error(), "1000 bytes")
}

// TestWritePublicReadOwner: on a model anyone may write and only the owner
// may read, a mutation's response carries nothing the caller may not read,
// and an anonymous creator cannot name an owner.
func TestWritePublicReadOwner(t *testing.T) {
	e := newSecEnv(t, secConfig{model: ssotws.ModelConfig{Read: wsv1.Access_OWNER, Write: wsv1.Access_PUBLIC}})
	alice := e.auth.issue("alice", 0, nil)
	bob := e.auth.issue("bob", 0, nil)
	aliceCtx := ssotws.WithIdentity(context.Background(), &ssotws.Identity{Subject: "alice"})
	m := e.mustCreate(alice, "r", "alice's secret")
	require.Equal(t, "alice", m.GetAuthor())

	// Get is refused; an empty Update must not hand the record over either.
	_, err := e.chat("").GetMessage(context.Background(), connect.NewRequest(&chatv1.GetMessageRequest{Id: m.GetId()}))
	require.Equal(t, connect.CodeUnauthenticated, connect.CodeOf(err))
	for name, token := range map[string]string{"anonymous": "", "bob": bob} {
		res, err := e.chat(token).UpdateMessage(context.Background(), connect.NewRequest(&chatv1.UpdateMessageRequest{
			Message: &chatv1.Message{Id: m.GetId()},
		}))
		if err == nil {
			assert.Empty(t, res.Msg.GetText(), "%s's update response", name)
			assert.Empty(t, res.Msg.GetAuthor(), "%s's update response", name)
			assert.Empty(t, res.Msg.GetRoomId(), "%s's update response", name)
		}
	}
	got, _, err := e.messages.Get(aliceCtx, m.GetId())
	require.NoError(t, err)
	assert.Equal(t, "alice's secret", got.GetText())

	// An anonymous creator names alice as the owner: the owner is the
	// caller, nobody.
	res, err := e.chat("").CreateMessage(context.Background(), connect.NewRequest(&chatv1.CreateMessageRequest{
		Message: &chatv1.Message{RoomId: "r", Author: "alice", Text: "planted"},
	}))
	require.NoError(t, err)
	_, _, err = e.messages.Get(aliceCtx, res.Msg.GetId())
	assert.Equal(t, connect.CodePermissionDenied, connect.CodeOf(err), "alice reads the planted record: %v", err)
	page, err := e.messages.List(aliceCtx, ssotws.ListRequest{})
	require.NoError(t, err)
	for _, it := range page.Items {
		assert.NotEqual(t, "planted", it.GetText(), "alice's list holds a planted record")
	}
	rec, err := e.store.Get(context.Background(), "chat.v1.Message", res.Msg.GetId())
	require.NoError(t, err)
	assert.NotContains(t, string(rec.Data), "alice", "stored owner of an anonymous create")
}

// TestUnauthenticatedWWWAuthenticate: every 401 over HTTP carries
// "WWW-Authenticate: Bearer" (RFC 6750): a missing token with
// RequireAuth, a bad token, and an anonymous call to a model that needs
// an identity.
func TestUnauthenticatedWWWAuthenticate(t *testing.T) {
	post := func(t *testing.T, url, auth string) *http.Response {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, url+"/chat.v1.ChatService/GetMessage", strings.NewReader(`{"id":"x"}`))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		res.Body.Close()
		return res
	}
	required := newSecEnv(t, secConfig{requireAuth: true})
	optional := newSecEnv(t, secConfig{model: ssotws.ModelConfig{Read: wsv1.Access_AUTHENTICATED}})
	for _, tc := range []struct {
		name string
		url  string
		auth string
	}{
		{"RequireAuth, no token", required.server.URL, ""},
		{"bad token", required.server.URL, "Bearer nonsense"},
		{"not a bearer token", optional.server.URL, "Basic YWxpY2U6cHc="},
		{"anonymous call to an AUTHENTICATED model", optional.server.URL, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := post(t, tc.url, tc.auth)
			assert.Equal(t, http.StatusUnauthorized, res.StatusCode)
			assert.Equal(t, "Bearer", res.Header.Get("WWW-Authenticate"))
		})
	}
}

// gzipBomb returns a gzip-compressed CreateMessageRequest whose message
// text is n zero bytes: a quarter MiB on the wire for n = 256 MiB.
func gzipBomb(t testing.TB, n int) []byte {
	t.Helper()
	text := protowire.AppendTag(nil, 4, protowire.BytesType) // Message.text
	text = protowire.AppendVarint(text, uint64(n))
	head := protowire.AppendTag(nil, 1, protowire.BytesType) // CreateMessageRequest.message
	head = protowire.AppendVarint(head, uint64(len(text)+n))
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	require.NoError(t, err)
	_, err = zw.Write(append(head, text...))
	require.NoError(t, err)
	zeros := make([]byte, 1<<20)
	for written := 0; written < n; written += len(zeros) {
		_, err = zw.Write(zeros[:min(len(zeros), n-written)])
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

// postBomb sends body as a gzip-compressed Connect call of CreateMessage,
// with a token the server refuses, and returns the status, the answer and
// the bytes the process allocated meanwhile.
func postBomb(t *testing.T, url string, body []byte) (int, string, uint64) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+"/chat.v1.ChatService/CreateMessage", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/proto")
	req.Header.Set("Content-Encoding", "gzip")
	req.Header.Set("Authorization", "Bearer not-a-token")
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	answer, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
	res.Body.Close()
	runtime.ReadMemStats(&after)
	return res.StatusCode, string(answer), after.TotalAlloc - before.TotalAlloc
}

// TestGzipBombRefused: a 256 MiB message gzip-compressed to a quarter MiB
// is refused before it is inflated, with CodeResourceExhausted, although
// its token is bad (authentication comes after decoding in Connect): the
// process allocates nowhere near the inflated size. Memory, not time, is
// measured.
func TestGzipBombRefused(t *testing.T) {
	e := newSecEnv(t, secConfig{})
	const inflated = 256 << 20
	body := gzipBomb(t, inflated)
	t.Logf("bomb: %d bytes on the wire, %d inflated", len(body), inflated)
	status, answer, alloc := postBomb(t, e.server.URL, body)
	t.Logf("HTTP %d %s; %d bytes allocated", status, answer, alloc)
	assert.Less(t, alloc, uint64(64<<20), "bytes allocated while serving the bomb")
	assert.Contains(t, answer, "resource_exhausted")
	assert.NotEqual(t, http.StatusOK, status)

	// A body over the bound on the wire is refused too, before it is read
	// whole.
	big := bytes.Repeat([]byte{0}, ssotws.DefaultMaxRequestBytes+1)
	req, err := http.NewRequest(http.MethodPost, e.server.URL+"/chat.v1.ChatService/CreateMessage", bytes.NewReader(big))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/proto")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	out, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
	res.Body.Close()
	assert.Contains(t, string(out), "resource_exhausted")
}

// TestSmallResponsesUncompressed: a client that accepts gzip gets a small
// response (a created record) as it is, and a large one (a page of a List)
// compressed; both decode.
func TestSmallResponsesUncompressed(t *testing.T) {
	e := newSecEnv(t, secConfig{})
	alice := e.auth.issue("alice", 0, nil)
	call := func(method, body string) (*http.Response, []byte) {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, e.server.URL+"/chat.v1.ChatService/"+method, strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept-Encoding", "gzip")
		req.Header.Set("Authorization", "Bearer "+alice)
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		out, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, res.StatusCode, string(out))
		return res, out
	}
	text := strings.Repeat("a long line of chat ", 5)
	for range 20 {
		res, out := call("CreateMessage", `{"message":{"roomId":"r1","text":"`+text+`"}}`)
		require.Empty(t, res.Header.Get("Content-Encoding"), "a %d-byte response compressed", len(out))
		require.Contains(t, string(out), text)
	}
	res, out := call("ListMessages", `{"roomId":"r1"}`)
	require.Equal(t, "gzip", res.Header.Get("Content-Encoding"))
	zr, err := gzip.NewReader(bytes.NewReader(out))
	require.NoError(t, err)
	page, err := io.ReadAll(zr)
	require.NoError(t, err)
	require.Greater(t, len(page), ssotws.DefaultCompressMinBytes)
	require.Equal(t, 20, strings.Count(string(page), text))
}
