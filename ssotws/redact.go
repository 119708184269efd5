package ssotws

import (
	"fmt"
	"slices"
	"sync"

	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
)

// Field-level redaction: a model field declared with
//
//	string email = 4 [(ssot.ws.v1.field).read = OWNER];
//
// is cleared for every reader but the record's owner (AUTHENTICATED: for
// anonymous readers) in everything the server sends: the records of Get,
// List and the mutations' responses, and the events of the WebSocket, live
// and replayed. The server itself (hooks, the Policy, server writes)
// always sees the whole record.
//
// An event is encoded once per audience, not per subscriber: the owner
// (and readers every field admits) get the shared encoding, other
// authenticated readers one without the OWNER fields, anonymous readers
// one without the OWNER and AUTHENTICATED fields. A redacted encoding
// carries the whole redacted record, never a field-level delta, so that a
// delta cannot tell which redacted field changed. Models without redacted
// fields keep the one shared encoding.

// audience is who reads a record, as redaction sees it.
type audience int

const (
	audienceAll           audience = iota // the owner, the system: every field
	audienceAuthenticated                 // another user: no OWNER fields
	audienceAnonymous                     // nobody: no OWNER or AUTHENTICATED fields
)

// redaction is the redacted fields of a model.
type redaction struct {
	fields []protoreflect.FieldDescriptor
	access []wsv1.Access // of each field: AUTHENTICATED or OWNER
}

var redactions sync.Map // *Model → *redaction (nil: none)

// redactionOf returns m's redacted fields, read from the field options of
// its descriptor once; nil when it has none.
func redactionOf(m *Model) *redaction {
	if v, ok := redactions.Load(m); ok {
		return v.(*redaction)
	}
	var rd *redaction
	fields := m.Descriptor().Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		switch a := FieldReadAccess(fd); a {
		case wsv1.Access_AUTHENTICATED, wsv1.Access_OWNER:
			if rd == nil {
				rd = &redaction{}
			}
			rd.fields = append(rd.fields, fd)
			rd.access = append(rd.access, a)
		}
	}
	v, _ := redactions.LoadOrStore(m, rd)
	return v.(*redaction)
}

// FieldReadAccess returns the read access of a model field, its
// (ssot.ws.v1.field).read option: PUBLIC when unset.
func FieldReadAccess(fd protoreflect.FieldDescriptor) wsv1.Access {
	opts := fd.Options()
	if opts == nil || !proto.HasExtension(opts, wsv1.E_Field) {
		return wsv1.Access_PUBLIC
	}
	a := proto.GetExtension(opts, wsv1.E_Field).(*wsv1.FieldOptions).GetRead()
	if a == wsv1.Access_ACCESS_UNSPECIFIED {
		return wsv1.Access_PUBLIC
	}
	return a
}

// audienceOf returns the audience of viewer (a subject, "" for nobody)
// for a record owned by owner.
func (rd *redaction) audienceOf(viewer, owner string) audience {
	switch {
	case viewer == "":
		return audienceAnonymous
	case viewer == owner:
		return audienceAll
	default:
		return audienceAuthenticated
	}
}

// hidden reports whether aud may not see rd.fields[i].
func (rd *redaction) hidden(i int, aud audience) bool {
	return aud == audienceAnonymous || aud == audienceAuthenticated && rd.access[i] == wsv1.Access_OWNER
}

// apply clears the fields aud may not see; it reports whether it cleared
// any.
func (rd *redaction) apply(msg protoreflect.Message, aud audience) bool {
	cleared := false
	for i, fd := range rd.fields {
		if rd.hidden(i, aud) && msg.Has(fd) {
			msg.Clear(fd)
			cleared = true
		}
	}
	return cleared
}

// redact clears in msg, a record about to be returned to the caller id,
// the fields id may not see.
func (r *Resource[T]) redact(id *Identity, msg T) {
	rd := redactionOf(r.model)
	if rd == nil || id == systemIdentity {
		return
	}
	viewer := ""
	if id != nil {
		viewer = id.Subject
	}
	pm := msg.ProtoReflect()
	rd.apply(pm, rd.audienceOf(viewer, r.ownerOf(pm)))
}

// view returns what subscription s may see of e: e itself, or e's
// encoding for s's audience, made once per event and audience. It returns
// nil when that encoding cannot be made: the event is then not sent.
func (s *subscription) view(e *sharedEvent) *sharedEvent {
	rd := s.redaction
	if rd == nil {
		return e
	}
	owner := ""
	if of := s.model.OwnerField(); of != nil {
		owner = e.ownerOf(of)
	}
	aud := rd.audienceOf(s.viewer, owner)
	if aud == audienceAll {
		return e
	}
	v := e.redacted(aud, s.model, rd)
	if v == nil {
		s.c.g.logger.Error("ssotws: event not sent: its record does not decode for redaction", "channel", e.ev.GetChannel(), "key", e.ev.GetKey())
	}
	return v
}

// redactedViews holds the encodings of an event for the audiences that
// do not see every field.
type redactedViews struct {
	once [2]sync.Once
	view [2]*sharedEvent
}

// whole returns the event e is an encoding of: e, or for a redacted
// encoding the event as published.
func (e *sharedEvent) whole() *sharedEvent {
	if e.base != nil {
		return e.base
	}
	return e
}

// redacted returns e encoded for aud (audienceAuthenticated or
// audienceAnonymous): its record without the fields aud may not see,
// whole (no delta). It is made once per event and audience.
func (e *sharedEvent) redacted(aud audience, m *Model, rd *redaction) *sharedEvent {
	i := int(aud) - 1
	e.views.once[i].Do(func() {
		v, err := e.makeRedacted(aud, m, rd)
		if err == nil {
			e.views.view[i] = v
		}
	})
	return e.views.view[i]
}

func (e *sharedEvent) makeRedacted(aud audience, m *Model, rd *redaction) (*sharedEvent, error) {
	msg := newRecord(m)
	if err := proto.Unmarshal(e.ev.GetData(), msg.Interface()); err != nil {
		return nil, fmt.Errorf("ssotws: redact %s %q: %w", m.FullName(), e.ev.GetKey(), err)
	}
	rd.apply(msg, aud)
	data, err := proto.MarshalOptions{Deterministic: true}.Marshal(msg.Interface())
	if err != nil {
		return nil, err
	}
	ev := proto.CloneOf(e.ev)
	ev.Data, ev.DeltaMask, ev.BaseVersion = data, nil, 0
	v, err := newSharedEvent(ev, nil)
	if err != nil {
		return nil, err
	}
	v.base = e // the Policy and the owner rule decide on the whole record
	return v, nil
}

// writable returns the fields of an update with mask that change stored,
// the stored record: all of fields, but for an update of every field
// (mask "*") by a caller who cannot see some of them, which keeps those
// as they are, since the caller's record cannot hold them.
func (r *Resource[T]) writable(id *Identity, stored protoreflect.Message, fields []protoreflect.FieldDescriptor, mask *fieldmaskpb.FieldMask) []protoreflect.FieldDescriptor {
	rd := redactionOf(r.model)
	if rd == nil || id == systemIdentity || len(mask.GetPaths()) != 1 || mask.GetPaths()[0] != "*" {
		return fields
	}
	viewer := ""
	if id != nil {
		viewer = id.Subject
	}
	aud := rd.audienceOf(viewer, r.ownerOf(stored))
	out := make([]protoreflect.FieldDescriptor, 0, len(fields))
	for _, fd := range fields {
		if i := slices.Index(rd.fields, fd); i < 0 || !rd.hidden(i, aud) {
			out = append(out, fd)
		}
	}
	return out
}
