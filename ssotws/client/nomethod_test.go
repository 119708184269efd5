package client_test

import (
	"context"
	"errors"
	"testing"

	"connectrpc.com/connect"
	chatv1 "github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1"
	"github.com/ssot-codegen/ssot-ws/ssotws/client"
)

// A model whose service lacks a standard method gets a nil function in its
// adapter; calling it must fail cleanly, not panic.
func TestMissingMethodIsUnimplemented(t *testing.T) {
	c := client.NewHTTP(client.UnimplementedHTTP[*chatv1.Message]{}, nil)
	ctx := context.Background()
	checks := map[string]error{}
	_, checks["Get"] = c.Get(ctx, "k")
	_, checks["List"] = c.List(ctx, client.ListParams{})
	_, checks["Create"] = c.Create(ctx, &chatv1.Message{Text: "x"})
	_, checks["Update"] = c.Update(ctx, &chatv1.Message{Id: "k"})
	_, checks["Delete"] = c.Delete(ctx, "k")
	for method, err := range checks {
		if !errors.Is(err, client.ErrNoMethod) || connect.CodeOf(err) != connect.CodeUnimplemented {
			t.Errorf("%s: got %v, want ErrNoMethod with CodeUnimplemented", method, err)
		}
	}
}
