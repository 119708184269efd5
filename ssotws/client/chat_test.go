package client_test

// This file holds, written by hand, what protoc-gen-ssot-ws generates for
// examples/chat: the models, the standard handler over ssotws.Resource, and
// the client adapter (a client.HTTP over the connect-go client) with its
// typed constructors. The tests use them as an application would.

import (
	"context"
	"net/http"

	"connectrpc.com/connect"
	chatv1 "github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1"
	"github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1/chatv1connect"
	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws/client"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
)

var (
	RoomModel = ssotws.MustModel((*chatv1.Room)(nil).ProtoReflect().Descriptor(), ssotws.ModelConfig{
		Key: "id", Realtime: true,
	})
	MessageModel = ssotws.MustModel((*chatv1.Message)(nil).ProtoReflect().Descriptor(), ssotws.ModelConfig{
		Key: "id", Scopes: []string{"room_id"}, Realtime: true,
	})
)

// --- server side (as in the generated chatv1ssotws.ChatService) ---

type chatService struct {
	chatv1connect.UnimplementedChatServiceHandler
	Rooms    *ssotws.Resource[*chatv1.Room]
	Messages *ssotws.Resource[*chatv1.Message]
}

func newChatService(store ssotws.Store, pub ssotws.Publisher) *chatService {
	return &chatService{
		Rooms:    ssotws.NewResource[*chatv1.Room](RoomModel, store, pub, nil),
		Messages: ssotws.NewResource[*chatv1.Message](MessageModel, store, pub, nil),
	}
}

func (s *chatService) GetRoom(ctx context.Context, req *connect.Request[chatv1.GetRoomRequest]) (*connect.Response[chatv1.Room], error) {
	res := connect.NewResponse[chatv1.Room](nil)
	msg, pos, err := s.Rooms.Get(ctx, req.Msg.GetId())
	if err != nil {
		return nil, err
	}
	pos.SetHeaders(res.Header())
	res.Msg = msg
	return res, nil
}

func (s *chatService) ListRooms(ctx context.Context, req *connect.Request[chatv1.ListRoomsRequest]) (*connect.Response[chatv1.ListRoomsResponse], error) {
	res := connect.NewResponse[chatv1.ListRoomsResponse](nil)
	page, err := s.Rooms.List(ctx, ssotws.ListRequest{
		PageSize: req.Msg.GetPageSize(), PageToken: req.Msg.GetPageToken(),
	})
	if err != nil {
		return nil, err
	}
	page.Position.SetHeaders(res.Header())
	res.Msg = &chatv1.ListRoomsResponse{Rooms: page.Items, NextPageToken: page.NextPageToken}
	return res, nil
}

func (s *chatService) CreateRoom(ctx context.Context, req *connect.Request[chatv1.CreateRoomRequest]) (*connect.Response[chatv1.Room], error) {
	res := connect.NewResponse[chatv1.Room](nil)
	msg, err := s.Rooms.Create(ctx, req.Header(), req.Msg.GetRoom())
	if err != nil {
		return nil, err
	}
	res.Msg = msg
	return res, nil
}

func (s *chatService) UpdateRoom(ctx context.Context, req *connect.Request[chatv1.UpdateRoomRequest]) (*connect.Response[chatv1.Room], error) {
	res := connect.NewResponse[chatv1.Room](nil)
	msg, err := s.Rooms.Update(ctx, req.Header(), req.Msg.GetRoom(), req.Msg.GetUpdateMask())
	if err != nil {
		return nil, err
	}
	res.Msg = msg
	return res, nil
}

func (s *chatService) DeleteRoom(ctx context.Context, req *connect.Request[chatv1.DeleteRoomRequest]) (*connect.Response[emptypb.Empty], error) {
	res := connect.NewResponse(&emptypb.Empty{})
	if _, err := s.Rooms.DeleteIfVersion(ctx, req.Header(), req.Msg.GetId(), req.Msg.GetVersion()); err != nil {
		return nil, err
	}
	return res, nil
}

func (s *chatService) GetMessage(ctx context.Context, req *connect.Request[chatv1.GetMessageRequest]) (*connect.Response[chatv1.Message], error) {
	res := connect.NewResponse[chatv1.Message](nil)
	msg, pos, err := s.Messages.Get(ctx, req.Msg.GetId())
	if err != nil {
		return nil, err
	}
	pos.SetHeaders(res.Header())
	res.Msg = msg
	return res, nil
}

func (s *chatService) ListMessages(ctx context.Context, req *connect.Request[chatv1.ListMessagesRequest]) (*connect.Response[chatv1.ListMessagesResponse], error) {
	res := connect.NewResponse[chatv1.ListMessagesResponse](nil)
	page, err := s.Messages.List(ctx, ssotws.ListRequest{
		Filters:  []ssotws.Filter{ssotws.Eq("room_id", req.Msg.GetRoomId())},
		PageSize: req.Msg.GetPageSize(), PageToken: req.Msg.GetPageToken(),
	})
	if err != nil {
		return nil, err
	}
	page.Position.SetHeaders(res.Header())
	res.Msg = &chatv1.ListMessagesResponse{Messages: page.Items, NextPageToken: page.NextPageToken}
	return res, nil
}

func (s *chatService) CreateMessage(ctx context.Context, req *connect.Request[chatv1.CreateMessageRequest]) (*connect.Response[chatv1.Message], error) {
	res := connect.NewResponse[chatv1.Message](nil)
	msg, err := s.Messages.Create(ctx, req.Header(), req.Msg.GetMessage())
	if err != nil {
		return nil, err
	}
	res.Msg = msg
	return res, nil
}

func (s *chatService) UpdateMessage(ctx context.Context, req *connect.Request[chatv1.UpdateMessageRequest]) (*connect.Response[chatv1.Message], error) {
	res := connect.NewResponse[chatv1.Message](nil)
	msg, err := s.Messages.Update(ctx, req.Header(), req.Msg.GetMessage(), req.Msg.GetUpdateMask())
	if err != nil {
		return nil, err
	}
	res.Msg = msg
	return res, nil
}

func (s *chatService) DeleteMessage(ctx context.Context, req *connect.Request[chatv1.DeleteMessageRequest]) (*connect.Response[emptypb.Empty], error) {
	res := connect.NewResponse(&emptypb.Empty{})
	if _, err := s.Messages.DeleteIfVersion(ctx, req.Header(), req.Msg.GetId(), req.Msg.GetVersion()); err != nil {
		return nil, err
	}
	return res, nil
}

// --- client side: the adapter generated code emits per model ---

// httpFuncs is a [client.HTTP] of functions, so that a test can replace
// one method of an adapter. A nil function fails as a missing method does.
type httpFuncs[T proto.Message] struct {
	GetFunc    func(ctx context.Context, key string, h http.Header) (T, http.Header, error)
	ListFunc   func(ctx context.Context, p client.ListParams, h http.Header) ([]T, string, http.Header, error)
	CreateFunc func(ctx context.Context, item T, h http.Header) (T, error)
	UpdateFunc func(ctx context.Context, item T, paths []string, h http.Header) (T, error)
	DeleteFunc func(ctx context.Context, key string, h http.Header) error
}

var _ client.HTTP[*chatv1.Message] = (*httpFuncs[*chatv1.Message])(nil)

func (f *httpFuncs[T]) Get(ctx context.Context, key string, h http.Header) (T, http.Header, error) {
	if f.GetFunc == nil {
		return client.UnimplementedHTTP[T]{}.Get(ctx, key, h)
	}
	return f.GetFunc(ctx, key, h)
}

func (f *httpFuncs[T]) List(ctx context.Context, p client.ListParams, h http.Header) ([]T, string, http.Header, error) {
	if f.ListFunc == nil {
		return client.UnimplementedHTTP[T]{}.List(ctx, p, h)
	}
	return f.ListFunc(ctx, p, h)
}

func (f *httpFuncs[T]) Create(ctx context.Context, item T, h http.Header) (T, error) {
	if f.CreateFunc == nil {
		return client.UnimplementedHTTP[T]{}.Create(ctx, item, h)
	}
	return f.CreateFunc(ctx, item, h)
}

func (f *httpFuncs[T]) Update(ctx context.Context, item T, paths []string, h http.Header) (T, error) {
	if f.UpdateFunc == nil {
		return client.UnimplementedHTTP[T]{}.Update(ctx, item, paths, h)
	}
	return f.UpdateFunc(ctx, item, paths, h)
}

func (f *httpFuncs[T]) Delete(ctx context.Context, key string, h http.Header) error {
	if f.DeleteFunc == nil {
		return client.UnimplementedHTTP[T]{}.Delete(ctx, key, h)
	}
	return f.DeleteFunc(ctx, key, h)
}

// MessageHTTP adapts the connect-go ChatServiceClient to client.HTTP for
// chat.v1.Message, as the generated MessageHTTP does, with methods a test
// can replace.
func MessageHTTP(c chatv1connect.ChatServiceClient) *httpFuncs[*chatv1.Message] {
	return &httpFuncs[*chatv1.Message]{
		GetFunc: func(ctx context.Context, key string, h http.Header) (*chatv1.Message, http.Header, error) {
			res, err := c.GetMessage(ctx, client.NewRequest(&chatv1.GetMessageRequest{Id: key}, h))
			if err != nil {
				return nil, nil, err
			}
			return res.Msg, res.Header(), nil
		},
		ListFunc: func(ctx context.Context, p client.ListParams, h http.Header) ([]*chatv1.Message, string, http.Header, error) {
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
		CreateFunc: func(ctx context.Context, item *chatv1.Message, h http.Header) (*chatv1.Message, error) {
			res, err := c.CreateMessage(ctx, client.NewRequest(&chatv1.CreateMessageRequest{Message: item}, h))
			if err != nil {
				return nil, err
			}
			return res.Msg, nil
		},
		UpdateFunc: func(ctx context.Context, item *chatv1.Message, paths []string, h http.Header) (*chatv1.Message, error) {
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
		DeleteFunc: func(ctx context.Context, key string, h http.Header) error {
			_, err := c.DeleteMessage(ctx, client.NewRequest(&chatv1.DeleteMessageRequest{Id: key}, h))
			return err
		},
	}
}

// NewMessageClient returns the hybrid DataClient of chat.v1.Message.
func NewMessageClient(c chatv1connect.ChatServiceClient, conn *client.Conn, opts *client.Options) *client.Hybrid[*chatv1.Message] {
	return client.NewHybrid(MessageModel, MessageHTTP(c), conn, opts)
}

// RoomHTTP adapts the connect-go ChatServiceClient to client.HTTP for
// chat.v1.Room, as the generated RoomHTTP does, with methods a test can
// replace.
func RoomHTTP(c chatv1connect.ChatServiceClient) *httpFuncs[*chatv1.Room] {
	return &httpFuncs[*chatv1.Room]{
		GetFunc: func(ctx context.Context, key string, h http.Header) (*chatv1.Room, http.Header, error) {
			res, err := c.GetRoom(ctx, client.NewRequest(&chatv1.GetRoomRequest{Id: key}, h))
			if err != nil {
				return nil, nil, err
			}
			return res.Msg, res.Header(), nil
		},
		ListFunc: func(ctx context.Context, p client.ListParams, h http.Header) ([]*chatv1.Room, string, http.Header, error) {
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
		CreateFunc: func(ctx context.Context, item *chatv1.Room, h http.Header) (*chatv1.Room, error) {
			res, err := c.CreateRoom(ctx, client.NewRequest(&chatv1.CreateRoomRequest{Room: item}, h))
			if err != nil {
				return nil, err
			}
			return res.Msg, nil
		},
		UpdateFunc: func(ctx context.Context, item *chatv1.Room, paths []string, h http.Header) (*chatv1.Room, error) {
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
		DeleteFunc: func(ctx context.Context, key string, h http.Header) error {
			_, err := c.DeleteRoom(ctx, client.NewRequest(&chatv1.DeleteRoomRequest{Id: key}, h))
			return err
		},
	}
}

// NewRoomClient returns the hybrid DataClient of chat.v1.Room.
func NewRoomClient(c chatv1connect.ChatServiceClient, conn *client.Conn, opts *client.Options) *client.Hybrid[*chatv1.Room] {
	return client.NewHybrid(RoomModel, RoomHTTP(c), conn, opts)
}
