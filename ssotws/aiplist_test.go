package ssotws_test

import (
	"context"
	"net/http"
	"testing"

	"connectrpc.com/connect"
	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestListFilterKinds: AIP-160 filters compare enums by value name,
// numbers and strings, combine with AND, OR and NOT, and refuse what the
// Resource does not evaluate; order_by sorts by any scalar field.
func TestListFilterKinds(t *testing.T) {
	ctx := context.Background()
	// wsv1.Event stands in for a model with an enum, numbers and strings.
	m, err := ssotws.NewModel((&wsv1.Event{}).ProtoReflect().Descriptor(), ssotws.ModelConfig{Key: "key"})
	require.NoError(t, err)
	r := ssotws.NewResource[*wsv1.Event](m, ssotws.NewMemoryStore(), nil, nil)
	for _, e := range []*wsv1.Event{
		{Key: "a", Type: wsv1.EventType_EVENT_TYPE_CREATED, TimeUnixMs: 30, Channel: "x"},
		{Key: "b", Type: wsv1.EventType_EVENT_TYPE_UPDATED, TimeUnixMs: 10, Channel: "y"},
		{Key: "c", Type: wsv1.EventType_EVENT_TYPE_DELETED, TimeUnixMs: 20, Channel: "x"},
		{Key: "d", Type: wsv1.EventType_EVENT_TYPE_UPDATED, TimeUnixMs: 40, Channel: "x"},
	} {
		_, err := r.Create(ctx, http.Header{}, e)
		require.NoError(t, err)
	}
	keys := func(filter, orderBy string) []string {
		t.Helper()
		page, err := r.List(ctx, ssotws.ListRequest{Filter: filter, OrderBy: orderBy})
		require.NoError(t, err)
		out := []string{}
		for _, e := range page.Items {
			out = append(out, e.GetKey())
		}
		return out
	}
	assert.Equal(t, []string{"b", "d"}, keys("type = EVENT_TYPE_UPDATED", ""))
	assert.Equal(t, []string{"a", "d"}, keys("time_unix_ms >= 20 AND NOT type = EVENT_TYPE_DELETED", ""))
	assert.Equal(t, []string{"b", "c"}, keys(`channel = "y" OR time_unix_ms = 20`, ""))
	assert.Equal(t, []string{"a", "c", "d"}, keys(`channel != "y"`, ""))
	assert.Equal(t, []string{"d", "a", "c", "b"}, keys("", "time_unix_ms desc"))
	assert.Equal(t, []string{"c", "d", "a"}, keys(`channel = "x"`, "type desc, key"), "enums by number")

	for filter, want := range map[string]string{
		"channel:*":          `":" is not supported`,
		"position.epoch = 1": "undeclared identifier 'position'",
		"type = NOT_A_TYPE":  "NOT_A_TYPE",
		// einride's checker compares enums for equality only.
		"type > EVENT_TYPE_CREATED": "no matching overload",
		`key = "a" AND (`:           "expected a",
	} {
		_, err := r.List(ctx, ssotws.ListRequest{Filter: filter})
		require.Error(t, err, filter)
		assert.Equal(t, connect.CodeInvalidArgument, connect.CodeOf(err), filter)
		assert.Contains(t, err.Error(), want, filter)
	}
}
