package protovalidateproto_test

import (
	"context"
	"io"
	"testing"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"github.com/bufbuild/protocompile"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"

	protovalidateproto "github.com/ssot-codegen/ssot-ws/third_party/protovalidate"
)

// TestVendoredValidateProto holds the vendored file to the descriptor of
// the generated Go package the runtime validates with: the rules a user's
// protos compile against are the rules the server enforces.
func TestVendoredValidateProto(t *testing.T) {
	c := protocompile.Compiler{Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{
		Accessor: func(path string) (io.ReadCloser, error) { return protovalidateproto.FS.Open(path) },
	})}
	files, err := c.Compile(context.Background(), protovalidateproto.Path)
	require.NoError(t, err)
	got := protodesc.ToFileDescriptorProto(files[0])
	got.SourceCodeInfo = nil // comments: the generated descriptor has none
	want := protodesc.ToFileDescriptorProto(validate.File_buf_validate_validate_proto)
	det := proto.MarshalOptions{Deterministic: true}
	gotBytes, err := det.Marshal(got)
	require.NoError(t, err)
	wantBytes, err := det.Marshal(want)
	require.NoError(t, err)
	require.Equal(t, wantBytes, gotBytes, "third_party/protovalidate/buf/validate/validate.proto differs from the descriptor of %s", validate.File_buf_validate_validate_proto.Path())
}
