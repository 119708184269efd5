package ssotws

import (
	"errors"
	"strings"
	"testing"

	chatv1 "github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1"
	intkeyv1 "github.com/ssot-codegen/ssot-ws/internal/golden/intkey/v1"
	"google.golang.org/protobuf/reflect/protoreflect"
)

func TestChannelNamesRoundTrip(t *testing.T) {
	for _, c := range []ChannelName{
		{Kind: ChannelModel, Model: "Message"},
		{Kind: ChannelItem, Model: "Message", Key: "m1"},
		{Kind: ChannelItem, Model: "Book", Key: "shelves/1/books/2"},
		{Kind: ChannelItem, Model: "Note", Key: "a b?c=d&e%"},
		{Kind: ChannelScope, Model: "Message", Field: "room_id", Value: "r1"},
		{Kind: ChannelScope, Model: "Message", Field: "room_id", Value: "a b&c=d/é"},
		{Kind: ChannelScope, Model: "Message", Field: "room_id", Value: ""},
	} {
		name := c.String()
		got, err := ParseChannel(name)
		if err != nil {
			t.Errorf("ParseChannel(%q): %v", name, err)
			continue
		}
		if got != c {
			t.Errorf("ParseChannel(%q) = %+v, want %+v", name, got, c)
		}
	}
	if got := ScopeChannel("Message", "room_id", "a b"); got != "Message?room_id=a+b" {
		t.Errorf("ScopeChannel escapes a space as %q, want Message?room_id=a+b (as Go's url.QueryEscape and the TS runtime)", got)
	}
}

func TestParseChannelRejects(t *testing.T) {
	for _, name := range []string{
		"", "1Message", "Mes sage", "Message/", "Message?", "Message?room_id",
		"Message?=r1", "Message?a=1&b=2", "Message/%zz", "Message?room_id=%zz",
		strings.Repeat("M", MaxChannelLen+1),
	} {
		if _, err := ParseChannel(name); !errors.Is(err, ErrBadChannel) {
			t.Errorf("ParseChannel(%q) = %v, want ErrBadChannel", name, err)
		}
	}
}

func TestValueTextForms(t *testing.T) {
	fields := (&intkeyv1.Ticket{}).ProtoReflect().Descriptor().Fields()
	cases := []struct {
		field string
		value protoreflect.Value
		text  string
	}{
		{"id", protoreflect.ValueOfInt64(-42), "-42"},
		{"queue_id", protoreflect.ValueOfInt32(7), "7"},
		{"status", protoreflect.ValueOfEnum(2), "2"},
		{"subject", protoreflect.ValueOfString("héllo"), "héllo"},
	}
	for _, c := range cases {
		fd := fields.ByName(protoreflect.Name(c.field))
		if got := formatValue(fd, c.value); got != c.text {
			t.Errorf("formatValue(%s) = %q, want %q", c.field, got, c.text)
		}
		v, err := ParseValue(fd, c.text)
		if err != nil || !v.Equal(c.value) {
			t.Errorf("ParseValue(%s, %q) = %v, %v; want %v", c.field, c.text, v, err, c.value)
		}
	}
	if _, err := ParseValue(fields.ByName("queue_id"), "99999999999"); err == nil {
		t.Error("ParseValue accepted an int32 out of range")
	}
	if got := FormatKey(int64(12)); got != "12" {
		t.Errorf("FormatKey(12) = %q", got)
	}
	if f := Eq("status", intkeyv1.Status_STATUS_OPEN); f != (Filter{Field: "status", Value: "1"}) {
		t.Errorf("Eq on an enum = %+v, want its number", f)
	}
	if f := Eq("room_id", ""); f != (Filter{}) {
		t.Errorf("Eq on a zero value = %+v, want no filter", f)
	}
	zero := int32(0)
	if f := EqOptional("queue_id", &zero); f != (Filter{Field: "queue_id", Value: "0"}) {
		t.Errorf("EqOptional on a set zero = %+v", f)
	}
}

func TestNewModelRejects(t *testing.T) {
	desc := (&chatv1.Message{}).ProtoReflect().Descriptor()
	for name, cfg := range map[string]ModelConfig{
		"missing key":      {Key: "uid"},
		"scope not scalar": {Scopes: []string{"nope"}},
		"owner not string": {Owner: "version"},
	} {
		if _, err := NewModel(desc, cfg); err == nil {
			t.Errorf("%s: NewModel accepted %+v", name, cfg)
		}
	}
	m, err := NewModel(desc, ModelConfig{Scopes: []string{"room_id"}, Owner: "author"})
	if err != nil {
		t.Fatal(err)
	}
	msg := (&chatv1.Message{Id: "m1", RoomId: "r 1", Author: "ann"}).ProtoReflect()
	want := []string{"Message", "Message/m1", "Message?room_id=r+1"}
	if got := m.Channels(msg); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("Channels = %q, want %q", got, want)
	}
	if m.VersionField() == nil || m.OwnerOf(msg) != "ann" {
		t.Errorf("version field %v, owner %q", m.VersionField(), m.OwnerOf(msg))
	}
}
