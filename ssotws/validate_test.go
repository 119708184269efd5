package ssotws_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"buf.build/go/protovalidate"
	"connectrpc.com/connect"
	chatv1 "github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1"
	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
)

// validatorFunc is a protovalidate.Validator made of a function.
type validatorFunc func(proto.Message) error

func (f validatorFunc) Validate(m proto.Message, _ ...protovalidate.ValidationOption) error {
	return f(m)
}

// TestValidationOptions: by default a record that breaks its rules is
// refused with InvalidArgument; ResourceOptions.NoValidation stores it;
// ResourceOptions.Validator replaces the validator, and a validator that
// fails for another reason than a violation (rules that do not compile)
// is Internal, and nothing is stored.
func TestValidationOptions(t *testing.T) {
	ctx := context.Background()
	model := ssotws.MustModel((&chatv1.Message{}).ProtoReflect().Descriptor(),
		ssotws.ModelConfig{Scopes: []string{"room_id"}, Realtime: true})
	long := &chatv1.Message{RoomId: "r1", Text: strings.Repeat("x", 4097)}

	store := ssotws.NewMemoryStore()
	res := ssotws.NewResource[*chatv1.Message](model, store, nil, nil)
	_, err := res.Create(ctx, nil, long)
	require.Equal(t, connect.CodeInvalidArgument, connect.CodeOf(err), "%v", err)
	var ce *connect.Error
	require.True(t, errors.As(err, &ce))
	require.Len(t, ce.Details(), 1, "the violations travel as one detail")
	assert.Equal(t, "buf.validate.Violations", ce.Details()[0].Type())

	off := ssotws.NewResource[*chatv1.Message](model, store, nil, &ssotws.ResourceOptions{NoValidation: true})
	stored, err := off.Create(ctx, nil, long)
	require.NoError(t, err)
	assert.Len(t, stored.GetText(), 4097)

	var seen []string
	broken := ssotws.NewResource[*chatv1.Message](model, store, nil, &ssotws.ResourceOptions{
		Validator: validatorFunc(func(m proto.Message) error {
			seen = append(seen, m.(*chatv1.Message).GetText())
			return &protovalidate.CompilationError{}
		}),
	})
	_, err = broken.Create(ctx, nil, &chatv1.Message{RoomId: "r1", Text: "fine"})
	assert.Equal(t, connect.CodeInternal, connect.CodeOf(err), "%v", err)
	assert.Equal(t, []string{"fine"}, seen)
	page, err := res.List(ctx, ssotws.ListRequest{})
	require.NoError(t, err)
	assert.Len(t, page.Items, 1, "only the record stored without validation")
}

// TestValidateInterceptor: the interceptor refuses a request that breaks
// its own rules before the handler runs, and leaves the model a request
// carries to the Resource: an Update's partial record is not judged
// alone.
func TestValidateInterceptor(t *testing.T) {
	ctx := context.Background()
	calls := 0
	next := func(context.Context, connect.AnyRequest) (connect.AnyResponse, error) {
		calls++
		return nil, nil
	}
	call := ssotws.NewValidateInterceptor(nil).WrapUnary(next)

	_, err := call(ctx, connect.NewRequest(&chatv1.ClearRoomRequest{}))
	require.Equal(t, connect.CodeInvalidArgument, connect.CodeOf(err), "%v", err)
	assert.Contains(t, err.Error(), "room_id")
	assert.Equal(t, 0, calls)

	_, err = call(ctx, connect.NewRequest(&chatv1.UpdateMessageRequest{Message: &chatv1.Message{Text: strings.Repeat("x", 4097)}}))
	require.NoError(t, err, "the record inside is the Resource's to check")
	_, err = call(ctx, connect.NewRequest(&chatv1.ClearRoomRequest{RoomId: "r1"}))
	require.NoError(t, err)
	assert.Equal(t, 2, calls)
}

// BenchmarkCreateValidation measures what the rules cost a Create: the
// same Create on the memory store, nothing published, with protovalidate
// and without.
func BenchmarkCreateValidation(b *testing.B) {
	model := ssotws.MustModel((&chatv1.Message{}).ProtoReflect().Descriptor(),
		ssotws.ModelConfig{Scopes: []string{"room_id"}, Realtime: true})
	for _, c := range []struct {
		name string
		opts *ssotws.ResourceOptions
	}{
		{"validation=on", nil},
		{"validation=off", &ssotws.ResourceOptions{NoValidation: true}},
	} {
		b.Run(c.name, func(b *testing.B) {
			res := ssotws.NewResource[*chatv1.Message](model, ssotws.NewMemoryStore(), nil, c.opts)
			ctx := context.Background()
			msg := &chatv1.Message{RoomId: "bench", Author: "bench", Text: strings.Repeat("x", 200)}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := res.Create(ctx, nil, msg); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
