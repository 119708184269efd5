package sqlitestore_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/ssot-codegen/ssot-ws/internal/crashtest"
	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws/sqlitestore"
)

func TestMain(m *testing.M) {
	if code, ok := crashtest.Child(openCrash); ok {
		os.Exit(code)
	}
	os.Exit(m.Run())
}

func openCrash(ctx context.Context, path string, pub ssotws.Publisher) (ssotws.Store, ssotws.ChangeRelay, func() error, error) {
	store, err := sqlitestore.OpenTables(ctx, path, crashtest.Models, nil)
	if err != nil {
		return nil, nil, nil, err
	}
	relay, err := store.StartRelay(ctx, pub, nil)
	return crashtest.Started(store, relay, err)
}

// TestKillNine: a process (this test binary again) commits a write on a
// SQLite file while its relay cannot publish and is killed with SIGKILL;
// a store reopened on the file publishes the write, and a client that
// resumes from before the crash gets it once, without Reset
// (crashtest.KillNine).
func TestKillNine(t *testing.T) {
	crashtest.KillNine(t, filepath.Join(t.TempDir(), "chat.db"), nil, openCrash)
}
