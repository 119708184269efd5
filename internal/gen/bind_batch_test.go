package gen

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBadBatchMethods: a batch method bound by its method option whose
// shape is not the AIP's is an error that names the place; one bound by
// its name is left to the user (TestGolden's batch case shows that).
func TestBadBatchMethods(t *testing.T) {
	const model = `message Thing { option (ssot.ws.v1.model) = {}; string id = 1; string text = 2; }
`
	tests := []struct {
		name  string
		proto string
		want  string
	}{
		{
			name: "batch create without requests",
			proto: model + `message Req { repeated Thing things = 1; }
message Res { repeated Thing things = 1; }
service S { rpc AddThings(Req) returns (Res) { option (ssot.ws.v1.method) = {standard: STANDARD_METHOD_BATCH_CREATE model: "Thing"}; } }`,
			want: `bad/v1/bad.proto:9:13: bad.v1.S.AddThings: bound by its method option to the standard BatchCreate of bad.v1.Thing: batch create request bad.v1.Req has no field requests; it must carry repeated CreateThingRequest requests (AIP-233)`,
		},
		{
			name: "batch update item without mask",
			proto: model + `message Item { Thing thing = 1; }
message Req { repeated Item requests = 1; }
message Res { repeated Thing things = 1; }
service S { rpc BatchUpdateThings(Req) returns (Res) { option (ssot.ws.v1.method) = {standard: STANDARD_METHOD_BATCH_UPDATE}; } }`,
			want: `bad/v1/bad.proto:10:13: bad.v1.S.BatchUpdateThings: bound by its method option to the standard BatchUpdate of bad.v1.Thing: update request bad.v1.Item has no update_mask field; add google.protobuf.FieldMask update_mask (AIP-134)`,
		},
		{
			name: "batch delete of the wrong key type",
			proto: model + `message Req { repeated int64 ids = 1; }
service S { rpc BatchDeleteThings(Req) returns (google.protobuf.Empty) { option (ssot.ws.v1.method) = {standard: STANDARD_METHOD_BATCH_DELETE}; } }`,
			want: `bad/v1/bad.proto:7:15: bad.v1.S.BatchDeleteThings: bound by its method option to the standard BatchDelete of bad.v1.Thing: batch delete request field "ids" is repeated int64 but the key of Thing is string; it must be repeated string`,
		},
		{
			name: "batch create response without records",
			proto: model + `message Item { Thing thing = 1; }
message Req { repeated Item requests = 1; }
service S { rpc BatchCreateThings(Req) returns (google.protobuf.Empty) { option (ssot.ws.v1.method) = {standard: STANDARD_METHOD_BATCH_CREATE}; } }`,
			want: `bad/v1/bad.proto:9:13: bad.v1.S.BatchCreateThings: bound by its method option to the standard BatchCreate of bad.v1.Thing: batch create response google.protobuf.Empty has no repeated bad.v1.Thing field (AIP-233)`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, generateErr(t, header+tt.proto, ""))
		})
	}
}

// TestBatchOnlyService: a service whose only method of a model is a batch
// method generates its handler in Go and nothing but the model in TS.
func TestBatchOnlyService(t *testing.T) {
	src := header + `message Thing { option (ssot.ws.v1.model) = {realtime: true}; string id = 1; }
message CreateThingRequest { Thing thing = 1; }
message Req { repeated CreateThingRequest requests = 1; }
message Res { repeated Thing things = 1; }
service S { rpc BatchCreateThings(Req) returns (Res); }
`
	goOut := generateOK(t, map[string]string{"bad/v1/bad.proto": src}, "")
	assert.Contains(t, goOut, "s.Things.BatchCreate(ctx, req.Header(), items)")
	resp, err := run(compileRequest(t, "", map[string]string{"bad/v1/bad.proto": src}, []string{"bad/v1/bad.proto"}, "lang=ts"))
	require.NoError(t, err)
	assert.NotEmpty(t, resp.File)
}
