package ssotws

import (
	"context"

	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
)

// The read methods of [Resource]: Get and List, each with the position of
// the channel it reads, taken before the store is read (docs/architecture.md,
// "What Resource does").

// Get returns the record with key and the position of its item channel.
// A NotFound error carries that position in its metadata too.
func (r *Resource[T]) Get(ctx context.Context, key string) (T, ReadPosition, error) {
	id, err := r.authorize(ctx, r.model.ReadAccess())
	if err != nil {
		var zero T
		return zero, ReadPosition{}, err
	}
	msg, pos, err := r.get(ctx, id, key)
	if err == nil {
		r.redact(id, msg) // redact.go
	}
	return msg, pos, err
}

// get is Get for the caller id, without redaction.
func (r *Resource[T]) get(ctx context.Context, id *Identity, key string) (T, ReadPosition, error) {
	var zero T
	if key == "" {
		return zero, ReadPosition{}, invalidArgument("%s is required", r.model.KeyField().Name())
	}
	if err := r.checkChannel(ctx, ViaGet, id, ChannelName{Kind: ChannelItem, Model: r.model.Name(), Key: key}, nil); err != nil {
		return zero, ReadPosition{}, err
	}
	pos, err := r.readPosition(ctx, ItemChannel(r.model.Name(), key))
	if err != nil {
		return zero, ReadPosition{}, err
	}
	rec, err := r.store.Get(ctx, r.model.FullName(), key)
	if err != nil {
		return zero, ReadPosition{}, withPosition(codeOf(err), pos)
	}
	msg, err := r.decode(rec)
	if err != nil {
		return zero, ReadPosition{}, err
	}
	if err := r.checkOwner(id, r.model.ReadAccess(), msg.ProtoReflect()); err != nil {
		return zero, ReadPosition{}, err
	}
	if err := r.checkRecord(ctx, ViaGet, id, msg.ProtoReflect()); err != nil {
		return zero, ReadPosition{}, err
	}
	return msg, pos, nil
}

// List returns one page of records matching req, and the position of the
// channel it maps onto.
func (r *Resource[T]) List(ctx context.Context, req ListRequest) (*ListResult[T], error) {
	id, err := r.authorize(ctx, r.model.ReadAccess())
	if err != nil {
		return nil, err
	}
	if req.PageSize < 0 {
		return nil, invalidArgument("page_size must not be negative")
	}
	lq, err := r.parseListQuery(req)
	if err != nil {
		return nil, err
	}
	if err := r.checkParentFilter(req.Filters); err != nil {
		return nil, err
	}
	size := int(req.PageSize)
	if size == 0 {
		size = r.opts.defaultPageSize
	}
	size = min(size, r.opts.maxPageSize)
	q := Query{Model: r.model.FullName(), PageSize: size, PageToken: req.PageToken}
	for _, f := range req.Filters {
		if f.Field != "" {
			q.Filters = append(q.Filters, f)
		}
	}
	if r.model.ReadAccess() == wsv1.Access_OWNER && r.model.OwnerField() != nil {
		q.Filters = append(q.Filters, Filter{Field: string(r.model.OwnerField().Name()), Value: id.Subject})
	}
	name := ChannelName{Kind: ChannelModel, Model: r.model.Name()}
	if s, ok := r.scopeOf(q.Filters); ok {
		name = ChannelName{Kind: ChannelScope, Model: r.model.Name(), Field: s.Field, Value: s.Value}
	}
	// The question a Subscribe of that channel asks.
	if err := r.checkChannel(ctx, ViaList, id, name, q.Filters); err != nil {
		return nil, err
	}
	pos, err := r.readPosition(ctx, name.String())
	if err != nil {
		return nil, err
	}
	if lq != nil {
		return r.listFiltered(ctx, id, q, lq, pos)
	}
	page, err := r.store.List(ctx, q)
	if err != nil {
		return nil, codeOf(err)
	}
	res := &ListResult[T]{Items: make([]T, 0, len(page.Records)), NextPageToken: page.NextPageToken, Position: pos}
	for _, rec := range page.Records {
		msg, err := r.decode(rec)
		if err != nil {
			return nil, err
		}
		if r.checkRecord(ctx, ViaList, id, msg.ProtoReflect()) != nil {
			continue // as its event would be dropped from a subscription
		}
		r.redact(id, msg)
		res.Items = append(res.Items, msg)
	}
	return res, nil
}
