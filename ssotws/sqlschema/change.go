package sqlschema

import (
	"fmt"
	"strings"

	"github.com/ssot-codegen/ssot-ws/ssotws/protocol"
	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Change is one row of the change log: what a trigger captured of one
// written row, in the writing transaction.
type Change struct {
	Seq     int64
	Model   string
	Key     string
	Op      int
	Version int64
	// Image is the row after the write (before it, for a delete); Prev
	// the row before an update.
	Image, Prev []byte
	// RequestID is the request id of the write when the store made it
	// (as the store keeps it: scoped by the caller's identity).
	RequestID string
	TimeMs    int64
}

// Events are the change events of c, as the generated handlers publish
// them: on the model, item and scope channels, plus a DELETED on each
// scope channel an update moved the record out of. A model that is not
// realtime has none.
func (t *Table) Events(c *Change) ([]*wsv1.Event, error) {
	m := t.model
	if !m.Realtime() {
		return nil, nil
	}
	msg, err := t.Decode(c.Image)
	if err != nil {
		return nil, err
	}
	if vf := m.VersionField(); vf != nil {
		if vf.Kind() == protoreflect.Uint64Kind || vf.Kind() == protoreflect.Fixed64Kind {
			msg.Set(vf, protoreflect.ValueOfUint64(uint64(c.Version)))
		} else {
			msg.Set(vf, protoreflect.ValueOfInt64(c.Version))
		}
	}
	data, err := Marshal(msg)
	if err != nil {
		return nil, err
	}
	var typ wsv1.EventType
	switch c.Op {
	case OpInsert:
		typ = wsv1.EventType_EVENT_TYPE_CREATED
	case OpUpdate:
		typ = wsv1.EventType_EVENT_TYPE_UPDATED
	case OpDelete:
		typ = wsv1.EventType_EVENT_TYPE_DELETED
	default:
		return nil, fmt.Errorf("sqlschema: change %d: unknown operation %d", c.Seq, c.Op)
	}
	reqID := c.RequestID
	if i := strings.LastIndexByte(reqID, '\x1f'); i >= 0 {
		reqID = reqID[i+1:] // the store keeps it scoped by the caller's identity
	}
	event := func(channel string, typ wsv1.EventType) *wsv1.Event {
		return &wsv1.Event{
			Channel: channel, Type: typ, Key: c.Key, Version: c.Version,
			TimeUnixMs: c.TimeMs, RequestId: reqID, Data: data,
		}
	}
	channels := m.Channels(msg)
	events := make([]*wsv1.Event, 0, len(channels)+len(m.ScopeFields()))
	for _, ch := range channels {
		events = append(events, event(ch, typ))
	}
	if typ == wsv1.EventType_EVENT_TYPE_UPDATED && c.Prev != nil {
		prev, err := t.Decode(c.Prev)
		if err != nil {
			return nil, err
		}
		for _, s := range m.ScopeFields() {
			old, now := protocol.FormatValue(s, prev.Get(s)), protocol.FormatValue(s, msg.Get(s))
			if old != now {
				events = append(events, event(protocol.ScopeChannel(m.Name(), string(s.Name()), old), wsv1.EventType_EVENT_TYPE_DELETED))
			}
		}
	}
	return events, nil
}
