package testkit

import (
	"fmt"
	"slices"
	"strings"

	chatv1 "github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1"
	"github.com/ssot-codegen/ssot-ws/ssotws"
	"google.golang.org/protobuf/proto"
)

// DiffMessages compares the records of a channel in the store (want, live
// records) with what a client's cache holds for it (got) and describes
// every lost, stale or extra record, one per line, sorted; "" when they
// are equal record for record (the version included).
func DiffMessages(want []*ssotws.Record, got []*chatv1.Message) (string, error) {
	cached := make(map[string]*chatv1.Message, len(got))
	for _, m := range got {
		cached[m.GetId()] = m
	}
	var lines []string
	for _, rec := range want {
		m := &chatv1.Message{}
		if err := proto.Unmarshal(rec.Data, m); err != nil {
			return "", fmt.Errorf("record %s: %w", rec.Key, err)
		}
		m.Version = rec.Version
		c, ok := cached[rec.Key]
		delete(cached, rec.Key)
		switch {
		case !ok:
			lines = append(lines, fmt.Sprintf("  lost  %s: store v%d %v", rec.Key, rec.Version, m))
		case !proto.Equal(c, m):
			lines = append(lines, fmt.Sprintf("  stale %s: cache v%d %v, store v%d %v", rec.Key, c.GetVersion(), c, rec.Version, m))
		}
	}
	for k, c := range cached {
		lines = append(lines, fmt.Sprintf("  extra %s: cache v%d %v (not in the store)", k, c.GetVersion(), c))
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n"), nil
}
