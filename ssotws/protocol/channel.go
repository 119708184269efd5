package protocol

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// ModelChannel names the channel that carries every record of a model.
func ModelChannel(model string) string { return model }

// ItemChannel names the channel of one record. The key is path-escaped.
func ItemChannel(model, key string) string {
	return model + "/" + url.PathEscape(key)
}

// ScopeChannel names the channel of the records whose field equals value.
// The value is query-escaped.
func ScopeChannel(model, field, value string) string {
	return model + "?" + field + "=" + url.QueryEscape(value)
}

// ChannelKind tells the three kinds of channel apart.
type ChannelKind int

// The kinds of channel.
const (
	ChannelModel ChannelKind = iota + 1 // "Message"
	ChannelItem                         // "Message/<key>"
	ChannelScope                        // "Message?room_id=<v>"
)

// ChannelName is a parsed channel name.
type ChannelName struct {
	Kind  ChannelKind
	Model string
	// Key is the record key of an item channel, unescaped.
	Key string
	// Field and Value are the scope of a scope channel, unescaped.
	Field, Value string
}

// ErrBadChannel is returned by [ParseChannel] for a malformed name.
var ErrBadChannel = errors.New("ssotws: malformed channel name")

// MaxChannelLen bounds the length of a channel name.
const MaxChannelLen = 1024

// ParseChannel parses a channel name built by [ModelChannel], [ItemChannel]
// or [ScopeChannel]. It does not check that the model exists.
func ParseChannel(name string) (ChannelName, error) {
	if name == "" || len(name) > MaxChannelLen {
		return ChannelName{}, fmt.Errorf("%w: %q", ErrBadChannel, truncate(name))
	}
	if i := strings.IndexAny(name, "/?"); i >= 0 {
		model, rest := name[:i], name[i+1:]
		if !validModelName(model) || rest == "" {
			return ChannelName{}, fmt.Errorf("%w: %q", ErrBadChannel, truncate(name))
		}
		if name[i] == '/' {
			key, err := url.PathUnescape(rest)
			if err != nil || key == "" {
				return ChannelName{}, fmt.Errorf("%w: %q", ErrBadChannel, truncate(name))
			}
			return ChannelName{Kind: ChannelItem, Model: model, Key: key}, nil
		}
		field, raw, ok := strings.Cut(rest, "=")
		if !ok || field == "" || strings.ContainsAny(raw, "&=") {
			return ChannelName{}, fmt.Errorf("%w: %q", ErrBadChannel, truncate(name))
		}
		value, err := url.QueryUnescape(raw)
		if err != nil {
			return ChannelName{}, fmt.Errorf("%w: %q", ErrBadChannel, truncate(name))
		}
		return ChannelName{Kind: ChannelScope, Model: model, Field: field, Value: value}, nil
	}
	if !validModelName(name) {
		return ChannelName{}, fmt.Errorf("%w: %q", ErrBadChannel, truncate(name))
	}
	return ChannelName{Kind: ChannelModel, Model: name}, nil
}

// String rebuilds the canonical channel name.
func (c ChannelName) String() string {
	switch c.Kind {
	case ChannelItem:
		return ItemChannel(c.Model, c.Key)
	case ChannelScope:
		return ScopeChannel(c.Model, c.Field, c.Value)
	}
	return ModelChannel(c.Model)
}

func validModelName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r >= 'A' && r <= 'Z', r >= 'a' && r <= 'z', r == '_':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
