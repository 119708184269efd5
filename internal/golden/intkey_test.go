package golden_test

import (
	"context"
	"testing"

	"connectrpc.com/connect"
	intkeyv1 "github.com/ssot-codegen/ssot-ws/internal/golden/intkey/v1"
	"github.com/ssot-codegen/ssot-ws/internal/golden/intkey/v1/intkeyv1connect"
	"github.com/ssot-codegen/ssot-ws/internal/golden/intkey/v1/intkeyv1ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws"
)

func TestIntKey(t *testing.T) {
	ctx := context.Background()
	store, rec := ssotws.NewMemoryStore(), &recorder{}
	srv := serve(t)(intkeyv1connect.NewTicketServiceHandler(intkeyv1ssotws.NewTicketService(store, rec, nil)))
	client := intkeyv1connect.NewTicketServiceClient(srv.Client(), srv.URL)

	// A zero key is generated from the store's sequence; ticket_id asks
	// for one.
	first, err := client.CreateTicket(ctx, connect.NewRequest(&intkeyv1.CreateTicketRequest{
		Ticket: &intkeyv1.Ticket{QueueId: 7, Status: intkeyv1.Status_STATUS_OPEN, Subject: "printer"},
	}))
	if err != nil {
		t.Fatal(err)
	}
	if first.Msg.GetId() == 0 {
		t.Fatal("no key generated")
	}
	id := first.Msg.GetId()
	wantEvents(t, rec,
		"CREATED Ticket "+ssotws.FormatKey(id)+" 1 ",
		"CREATED Ticket/"+ssotws.FormatKey(id)+" "+ssotws.FormatKey(id)+" 1 ",
		"CREATED Ticket?queue_id=7 "+ssotws.FormatKey(id)+" 1 ",
		"CREATED Ticket?status=1 "+ssotws.FormatKey(id)+" 1 ",
	)
	asked, err := client.CreateTicket(ctx, connect.NewRequest(&intkeyv1.CreateTicketRequest{
		Ticket: &intkeyv1.Ticket{QueueId: 8, Subject: "coffee"}, TicketId: 42,
	}))
	if err != nil || asked.Msg.GetId() != 42 {
		t.Fatalf("create 42: %v, %v", asked, err)
	}
	rec.take()

	got, err := client.GetTicket(ctx, connect.NewRequest(&intkeyv1.GetTicketRequest{Id: 42}))
	if err != nil || got.Msg.GetSubject() != "coffee" {
		t.Fatalf("get 42: %v, %v", got, err)
	}
	_, err = client.GetTicket(ctx, connect.NewRequest(&intkeyv1.GetTicketRequest{}))
	wantCode(t, err, connect.CodeInvalidArgument, "id is required")
	_, err = client.GetTicket(ctx, connect.NewRequest(&intkeyv1.GetTicketRequest{Id: 9}))
	wantCode(t, err, connect.CodeNotFound, "")

	// Filters on an int32 and an enum field.
	open, err := client.ListTickets(ctx, connect.NewRequest(&intkeyv1.ListTicketsRequest{Status: intkeyv1.Status_STATUS_OPEN}))
	if err != nil || len(open.Msg.GetTickets()) != 1 || open.Msg.GetTickets()[0].GetId() != id {
		t.Fatalf("open tickets: %v, %v", open, err)
	}
	queue8, err := client.ListTickets(ctx, connect.NewRequest(&intkeyv1.ListTicketsRequest{QueueId: 8}))
	if err != nil || len(queue8.Msg.GetTickets()) != 1 || queue8.Msg.GetTickets()[0].GetId() != 42 {
		t.Fatalf("queue 8: %v, %v", queue8, err)
	}

	if _, err := client.UpdateTicket(ctx, connect.NewRequest(&intkeyv1.UpdateTicketRequest{
		Ticket: &intkeyv1.Ticket{Id: 42, Status: intkeyv1.Status_STATUS_CLOSED}, UpdateMask: mask("status"),
	})); err != nil {
		t.Fatal(err)
	}
	wantEvents(t, rec,
		"UPDATED Ticket 42 2 ",
		"UPDATED Ticket/42 42 2 ",
		"UPDATED Ticket?queue_id=8 42 2 ",
		"UPDATED Ticket?status=2 42 2 ",
		"DELETED Ticket?status=0 42 2 ",
	)
	//nolint:staticcheck // DeleteTicket is deprecated in the proto; it still works.
	if _, err := client.DeleteTicket(ctx, connect.NewRequest(&intkeyv1.DeleteTicketRequest{Id: 42, Version: 2})); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Get(ctx, "intkey.v1.Ticket", "42"); err == nil {
		t.Fatal("ticket 42 still stored")
	}

	for got, want := range map[string]string{
		intkeyv1ssotws.TicketChannels.Item(42):                              "Ticket/42",
		intkeyv1ssotws.TicketChannels.Queue(7):                              "Ticket?queue_id=7",
		intkeyv1ssotws.TicketChannels.Status(intkeyv1.Status_STATUS_CLOSED): "Ticket?status=2",
	} {
		if got != want {
			t.Errorf("channel %q, want %q", got, want)
		}
	}
}
