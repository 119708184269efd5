package pgstore

import (
	"context"
	"os"
	"testing"

	"github.com/ssot-codegen/ssot-ws/internal/crashtest"
	"github.com/ssot-codegen/ssot-ws/ssotws"
)

// openCrash opens a store in the schema named schema of the test
// database ($SSOTWS_POSTGRES_URL in the drill's child process).
func openCrash(ctx context.Context, schema string, pub ssotws.Publisher) (ssotws.Store, ssotws.ChangeRelay, func() error, error) {
	url := testURL
	if url == "" {
		url = os.Getenv("SSOTWS_POSTGRES_URL")
	}
	store, err := OpenTables(ctx, url, crashtest.Models, &Options{Schema: schema})
	if err != nil {
		return nil, nil, nil, err
	}
	relay, err := store.StartRelay(ctx, pub, nil)
	return crashtest.Started(store, relay, err)
}

// TestKillNine: a process (this test binary again) commits a write while
// its relay cannot publish and is killed with SIGKILL; a store reopened
// on the schema publishes the write, and a client that resumes from
// before the crash gets it once, without Reset (crashtest.KillNine).
func TestKillNine(t *testing.T) {
	crashtest.KillNine(t, newSchema(t), []string{"SSOTWS_POSTGRES_URL=" + testURL}, openCrash)
}
