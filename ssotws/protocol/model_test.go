package protocol

import (
	"strings"
	"testing"

	chatv1 "github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1"
	intkeyv1 "github.com/ssot-codegen/ssot-ws/internal/golden/intkey/v1"
	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
		if assert.NoError(t, err, "ParseChannel(%q)", name) {
			assert.Equal(t, c, got, "ParseChannel(%q)", name)
		}
	}
	assert.Equal(t, "Message?room_id=a+b", ScopeChannel("Message", "room_id", "a b"),
		"a space is escaped as + (as Go's url.QueryEscape and the TS runtime)")
}

func TestParseChannelRejects(t *testing.T) {
	for _, name := range []string{
		"", "1Message", "Mes sage", "Message/", "Message?", "Message?room_id",
		"Message?=r1", "Message?a=1&b=2", "Message/%zz", "Message?room_id=%zz",
		strings.Repeat("M", MaxChannelLen+1),
	} {
		_, err := ParseChannel(name)
		assert.ErrorIs(t, err, ErrBadChannel, "ParseChannel(%q)", name)
	}
}

func TestPositionTextForm(t *testing.T) {
	p := &wsv1.Position{Epoch: 17, Offset: 1 << 40}
	s := FormatPosition(p)
	assert.Equal(t, "17:1099511627776", s)
	got, err := ParsePosition(s)
	require.NoError(t, err)
	assert.Equal(t, p.GetEpoch(), got.GetEpoch())
	assert.Equal(t, p.GetOffset(), got.GetOffset())
	assert.Equal(t, "0:0", FormatPosition(nil))
	for _, bad := range []string{"", "1", "1:", ":1", "a:1", "1:-1", "1:2:3"} {
		_, err := ParsePosition(bad)
		assert.Error(t, err, "ParsePosition(%q)", bad)
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
		assert.Equal(t, c.text, FormatValue(fd, c.value), "FormatValue(%s)", c.field)
		v, err := ParseValue(fd, c.text)
		if assert.NoError(t, err, "ParseValue(%s, %q)", c.field, c.text) {
			assert.True(t, v.Equal(c.value), "ParseValue(%s, %q) = %v, want %v", c.field, c.text, v, c.value)
		}
	}
	_, err := ParseValue(fields.ByName("queue_id"), "99999999999")
	assert.Error(t, err, "ParseValue accepted an int32 out of range")
	assert.Equal(t, "12", FormatKey(int64(12)))
	assert.Equal(t, "k", FormatKey("k"))
	assert.Equal(t, "1", FormatScalar(intkeyv1.Status_STATUS_OPEN), "an enum's text form is its number")
	assert.Equal(t, "true", FormatScalar(true))
}

func TestNewModelRejects(t *testing.T) {
	desc := (&chatv1.Message{}).ProtoReflect().Descriptor()
	for name, cfg := range map[string]ModelConfig{
		"missing key":      {Key: "uid"},
		"scope not scalar": {Scopes: []string{"nope"}},
		"owner not string": {Owner: "version"},
		"filter no field":  {Filters: []string{"nope"}},
	} {
		_, err := NewModel(desc, cfg)
		assert.Error(t, err, "%s: NewModel accepted %+v", name, cfg)
	}
	m, err := NewModel(desc, ModelConfig{Scopes: []string{"room_id"}, Owner: "author", Filters: []string{"text"}})
	require.NoError(t, err)
	require.Len(t, m.FilterFields(), 1)
	assert.Equal(t, "text", string(m.FilterFields()[0].Name()))
	msg := (&chatv1.Message{Id: "m1", RoomId: "r 1", Author: "ann"}).ProtoReflect()
	assert.Equal(t, []string{"Message", "Message/m1", "Message?room_id=r+1"}, m.Channels(msg))
	assert.NotNil(t, m.VersionField())
	assert.Equal(t, "ann", m.OwnerOf(msg))
	assert.Equal(t, "m1", m.KeyOf(msg))
	assert.Equal(t, wsv1.Access_PUBLIC, m.ReadAccess(), "unspecified access reads as PUBLIC")
	fields := m.FieldValues(msg)
	assert.Equal(t, "r 1", fields["room_id"])
	assert.Equal(t, "ann", fields["author"])
	assert.Panics(t, func() { MustModel(desc, ModelConfig{Key: "uid"}) })
}

func TestCloseCodesAndSubprotocols(t *testing.T) {
	// The numbers are part of the protocol: RFC 6455's for the 1xxx codes,
	// HTTP's status plus 4000 for the others.
	for code, want := range map[CloseCode]int{
		CloseGoingAway:       1001,
		CloseBadFrame:        1008,
		CloseTooLarge:        1009,
		CloseUnauthenticated: 4401,
		CloseForbidden:       4403,
		CloseTokenExpired:    4408,
		CloseTooSlow:         4429,
	} {
		assert.Equal(t, want, int(code), "%v", code)
	}
	assert.Equal(t, "ssot.v1", Subprotocol)
	assert.Equal(t, "ssot.auth.dG9rZW4_", AuthSubprotocol("token?"), "unpadded base64url")
}
