package sqlitestore_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/ssot-codegen/ssot-ws/internal/testkit"
	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws/sqlitestore"
)

// TestChatService drives the generated chat service over HTTP against the
// SQLite store, then again after reopening the file.
func TestChatService(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "chat.db")
	store, err := sqlitestore.Open(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	testkit.DriveChatService(t, store, func() ssotws.Store {
		if err := store.Close(); err != nil {
			t.Fatal(err)
		}
		reopened, err := sqlitestore.Open(ctx, path, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { reopened.Close() })
		return reopened
	})
}
