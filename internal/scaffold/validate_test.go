package scaffold

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestEmbeddedValidateProto: a model with buf.validate rules scaffolds
// with no copy of buf/validate/validate.proto on the import path: the
// binary carries it, as it carries the annotations.
func TestEmbeddedValidateProto(t *testing.T) {
	dir := tempProtos(t, map[string]string{"shop/v1/shop.proto": `syntax = "proto3";
package shop.v1;
import "buf/validate/validate.proto";
import "ssot/ws/v1/options.proto";
message Item {
  option (ssot.ws.v1.model) = {realtime: true};
  string id = 1;
  string name = 2 [(buf.validate.field).string.min_len = 1];
}
`})
	status, out, errOut := runMain(t, "-I", dir, "shop/v1/shop.proto")
	require.Equal(t, 0, status, errOut)
	assert.True(t, strings.Contains(out, "rpc CreateItem("), out)
}
