package connectv2_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestV1UsersDoNotLinkV2 holds the edge of this package: the runtime and
// the Go client, all a connect=v1 user builds, link neither connect-go v2
// nor this adapter.
func TestV1UsersDoNotLinkV2(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/ssot-codegen/ssot-ws/ssotws", "github.com/ssot-codegen/ssot-ws/ssotws/client").CombinedOutput()
	require.NoError(t, err, "%s", out)
	for _, dep := range strings.Fields(string(out)) {
		require.NotEqual(t, "connectrpc.com/connect/v2", dep)
		require.NotEqual(t, "github.com/ssot-codegen/ssot-ws/ssotws/connectv2", dep)
	}
}
