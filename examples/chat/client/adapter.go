package main

// This file is what protoc-gen-ssot-ws will emit, per model, in
// chatv1ssotws: the adapter between the generic client and the typed
// connect-go client, and the typed constructor of the hybrid DataClient.
// Until the generator emits it, the example carries it by hand.

import (
	"context"
	"net/http"

	chatv1 "github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1"
	"github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1/chatv1connect"
	"github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1/chatv1ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws/client"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
)

// MessageHTTP adapts the connect-go ChatServiceClient to client.HTTP for
// chat.v1.Message.
func MessageHTTP(c chatv1connect.ChatServiceClient) client.HTTP[*chatv1.Message] {
	return client.HTTP[*chatv1.Message]{
		Get: func(ctx context.Context, key string, h http.Header) (*chatv1.Message, http.Header, error) {
			res, err := c.GetMessage(ctx, client.NewRequest(&chatv1.GetMessageRequest{Id: key}, h))
			if err != nil {
				return nil, nil, err
			}
			return res.Msg, res.Header(), nil
		},
		List: func(ctx context.Context, p client.ListParams, h http.Header) ([]*chatv1.Message, string, http.Header, error) {
			req := &chatv1.ListMessagesRequest{PageSize: p.PageSize, PageToken: p.PageToken}
			if err := client.SetFilters(req, p.Filters); err != nil {
				return nil, "", nil, err
			}
			res, err := c.ListMessages(ctx, client.NewRequest(req, h))
			if err != nil {
				return nil, "", nil, err
			}
			return res.Msg.GetMessages(), res.Msg.GetNextPageToken(), res.Header(), nil
		},
		Create: func(ctx context.Context, item *chatv1.Message, h http.Header) (*chatv1.Message, error) {
			res, err := c.CreateMessage(ctx, client.NewRequest(&chatv1.CreateMessageRequest{Message: item}, h))
			if err != nil {
				return nil, err
			}
			return res.Msg, nil
		},
		Update: func(ctx context.Context, item *chatv1.Message, paths []string, h http.Header) (*chatv1.Message, error) {
			req := &chatv1.UpdateMessageRequest{Message: item}
			if len(paths) > 0 {
				req.UpdateMask = &fieldmaskpb.FieldMask{Paths: paths}
			}
			res, err := c.UpdateMessage(ctx, client.NewRequest(req, h))
			if err != nil {
				return nil, err
			}
			return res.Msg, nil
		},
		Delete: func(ctx context.Context, key string, h http.Header) error {
			_, err := c.DeleteMessage(ctx, client.NewRequest(&chatv1.DeleteMessageRequest{Id: key}, h))
			return err
		},
	}
}

// NewMessageClient returns the hybrid DataClient of chat.v1.Message.
func NewMessageClient(c chatv1connect.ChatServiceClient, conn *client.Conn, opts *client.Options) *client.Hybrid[*chatv1.Message] {
	return client.NewHybrid(chatv1ssotws.MessageModel, MessageHTTP(c), conn, opts)
}

// RoomHTTP adapts the connect-go ChatServiceClient to client.HTTP for
// chat.v1.Room.
func RoomHTTP(c chatv1connect.ChatServiceClient) client.HTTP[*chatv1.Room] {
	return client.HTTP[*chatv1.Room]{
		Get: func(ctx context.Context, key string, h http.Header) (*chatv1.Room, http.Header, error) {
			res, err := c.GetRoom(ctx, client.NewRequest(&chatv1.GetRoomRequest{Id: key}, h))
			if err != nil {
				return nil, nil, err
			}
			return res.Msg, res.Header(), nil
		},
		List: func(ctx context.Context, p client.ListParams, h http.Header) ([]*chatv1.Room, string, http.Header, error) {
			req := &chatv1.ListRoomsRequest{PageSize: p.PageSize, PageToken: p.PageToken}
			if err := client.SetFilters(req, p.Filters); err != nil {
				return nil, "", nil, err
			}
			res, err := c.ListRooms(ctx, client.NewRequest(req, h))
			if err != nil {
				return nil, "", nil, err
			}
			return res.Msg.GetRooms(), res.Msg.GetNextPageToken(), res.Header(), nil
		},
		Create: func(ctx context.Context, item *chatv1.Room, h http.Header) (*chatv1.Room, error) {
			res, err := c.CreateRoom(ctx, client.NewRequest(&chatv1.CreateRoomRequest{Room: item}, h))
			if err != nil {
				return nil, err
			}
			return res.Msg, nil
		},
		Update: func(ctx context.Context, item *chatv1.Room, paths []string, h http.Header) (*chatv1.Room, error) {
			req := &chatv1.UpdateRoomRequest{Room: item}
			if len(paths) > 0 {
				req.UpdateMask = &fieldmaskpb.FieldMask{Paths: paths}
			}
			res, err := c.UpdateRoom(ctx, client.NewRequest(req, h))
			if err != nil {
				return nil, err
			}
			return res.Msg, nil
		},
		Delete: func(ctx context.Context, key string, h http.Header) error {
			_, err := c.DeleteRoom(ctx, client.NewRequest(&chatv1.DeleteRoomRequest{Id: key}, h))
			return err
		},
	}
}

// NewRoomClient returns the hybrid DataClient of chat.v1.Room.
func NewRoomClient(c chatv1connect.ChatServiceClient, conn *client.Conn, opts *client.Options) *client.Hybrid[*chatv1.Room] {
	return client.NewHybrid(chatv1ssotws.RoomModel, RoomHTTP(c), conn, opts)
}
