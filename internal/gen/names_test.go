package gen

import (
	"strings"
	"testing"
)

func TestNames(t *testing.T) {
	for in, want := range map[string]string{"Shelf": "Shelves", "Book": "Books", "Category": "Categories", "Day": "Days", "Box": "Boxes", "Match": "Matches", "Status": "Statuses"} {
		if got := plural(in); got != want {
			t.Errorf("plural(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{"room_id": "roomID", "shelf": "shelf", "type": "type_", "owner_url": "ownerURL", "ssotws": "ssotws_"} {
		if got := paramName(in); got != want {
			t.Errorf("paramName(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{"room_id": "Room", "status": "Status", "_id": "Id", "queue_group_id": "QueueGroup"} {
		if got := scopeMethod(in); got != want {
			t.Errorf("scopeMethod(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{"ChatMessage": "Message", "AuditEvent": "Event", "Prevent": "", "Room": ""} {
		if got := liveSuffix(in); got != want {
			t.Errorf("liveSuffix(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestParams checks realtime=on, an empty package_suffix and a custom
// connect_package_suffix on the chat case.
func TestParams(t *testing.T) {
	req := compileRequest(t, "testdata/auto", nil, []string{"auto/v1/auto.proto"},
		"module=github.com/ssot-codegen/ssot-ws,realtime=on,package_suffix=,connect_package_suffix=rpc")
	resp, err := run(req)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.File) != 1 || resp.File[0].GetName() != "internal/golden/auto/v1/auto.ssotws.go" {
		t.Fatalf("files %v", resp.File)
	}
	content := resp.File[0].GetContent()
	for _, want := range []string{"package autov1\n", "Setting is realtime: the plugin ran with realtime=on.", "AuditEvent is HTTP only: its model option sets realtime: false."} {
		if !strings.Contains(content, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if strings.Contains(content, "// Package") {
		t.Error("output in protoc-gen-go's package has a package comment")
	}
	req = compileRequest(t, "testdata/chat", nil, []string{"chat/v1/chat.proto"}, "connect_package_suffix=rpc")
	if resp, err = run(req); err != nil {
		t.Fatal(err)
	}
	if c := resp.File[0].GetContent(); !strings.Contains(c, `"github.com/ssot-codegen/ssot-ws/internal/golden/chat/v1/chatv1rpc"`) {
		t.Errorf("the handler is not imported from chatv1rpc:\n%s", c)
	}
}
