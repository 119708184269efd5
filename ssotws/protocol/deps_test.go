package protocol

import (
	"strings"
	"testing"

	"github.com/ssot-codegen/ssot-ws/internal/godeps"
	"github.com/stretchr/testify/assert"
)

// TestImportsNoServer keeps package protocol what clients and the plugin
// can import without the server: the standard library, protobuf and the
// wire types, and einride's resourcename (the standard library only), for
// AIP resource names; nothing else.
func TestImportsNoServer(t *testing.T) {
	deps := godeps.List(t, ".")
	assert.Empty(t, godeps.Matching(deps, "connectrpc.com/connect"))
	assert.Empty(t, godeps.Matching(deps, "github.com/coder/websocket"))
	for _, d := range deps {
		if rest, ok := strings.CutPrefix(d, "github.com/ssot-codegen/ssot-ws/"); ok {
			assert.Contains(t, []string{"ssotws/protocol", "ssotws/wsv1"}, rest, "protocol imports %s", d)
			continue
		}
		if strings.Contains(strings.SplitN(d, "/", 2)[0], ".") {
			assert.True(t, strings.HasPrefix(d, "google.golang.org/protobuf/") || d == "go.einride.tech/aip/resourcename", "protocol imports %s", d)
		}
	}
}
