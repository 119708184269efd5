package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
)

// Field numbers of proto/ssot/ws/v1/frame.proto and chat.v1.Message that
// the load generator reads by hand: 5000 clients share the machine with the
// server, so they must spend as little CPU per event as possible.
const (
	frameAck    protowire.Number = 1 // ServerFrame.ack
	frameError  protowire.Number = 2 // ServerFrame.error
	frameEvents protowire.Number = 3 // ServerFrame.events
	frameReset  protowire.Number = 4 // ServerFrame.reset

	eventsEvent    protowire.Number = 1 // Events.events
	eventPosition  protowire.Number = 5 // Event.position
	eventData      protowire.Number = 8 // Event.data
	positionOffset protowire.Number = 2 // Position.offset
	messageText    protowire.Number = 4 // chat.v1.Message.text
	errorMessage   protowire.Number = 3 // Error.message
)

// frameKind says what a ServerFrame carried.
type frameKind int

const (
	kindOther frameKind = iota
	kindAck
	kindError
	kindEvents
	kindReset
)

var errMalformed = errors.New("malformed frame")

// parseServerFrame reads one encoded ServerFrame. For an Events frame it
// calls fn with the offset and the publish stamp (Unix nanoseconds, 0 when
// the text holds none) of each event. For an Error frame it returns the
// error message as an error.
func parseServerFrame(b []byte, fn func(offset uint64, stamp int64)) (frameKind, error) {
	kind := kindOther
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return kind, errMalformed
		}
		b = b[n:]
		if typ != protowire.BytesType {
			n = protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return kind, errMalformed
			}
			b = b[n:]
			continue
		}
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return kind, errMalformed
		}
		b = b[n:]
		switch num {
		case frameAck:
			kind = kindAck
		case frameReset:
			kind = kindReset
		case frameError:
			msg, _ := bytesField(v, errorMessage)
			return kindError, fmt.Errorf("server error: %s", msg)
		case frameEvents:
			kind = kindEvents
			if err := parseEvents(v, fn); err != nil {
				return kind, err
			}
		}
	}
	return kind, nil
}

func parseEvents(b []byte, fn func(offset uint64, stamp int64)) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return errMalformed
		}
		b = b[n:]
		if num != eventsEvent || typ != protowire.BytesType {
			n = protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return errMalformed
			}
			b = b[n:]
			continue
		}
		ev, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return errMalformed
		}
		b = b[n:]
		var (
			offset uint64
			stamp  int64
		)
		for len(ev) > 0 {
			num, typ, n := protowire.ConsumeTag(ev)
			if n < 0 {
				return errMalformed
			}
			ev = ev[n:]
			switch {
			case num == eventPosition && typ == protowire.BytesType:
				pos, n := protowire.ConsumeBytes(ev)
				if n < 0 {
					return errMalformed
				}
				ev = ev[n:]
				offset = varintField(pos, positionOffset)
			case num == eventData && typ == protowire.BytesType:
				data, n := protowire.ConsumeBytes(ev)
				if n < 0 {
					return errMalformed
				}
				ev = ev[n:]
				text, _ := bytesField(data, messageText)
				stamp = parseStamp(text)
			default:
				n = protowire.ConsumeFieldValue(num, typ, ev)
				if n < 0 {
					return errMalformed
				}
				ev = ev[n:]
			}
		}
		fn(offset, stamp)
	}
	return nil
}

// bytesField returns the last value of the length-delimited field num of b.
func bytesField(b []byte, num protowire.Number) ([]byte, bool) {
	var (
		out   []byte
		found bool
	)
	for len(b) > 0 {
		n, typ, l := protowire.ConsumeTag(b)
		if l < 0 {
			return out, found
		}
		b = b[l:]
		if n == num && typ == protowire.BytesType {
			v, l := protowire.ConsumeBytes(b)
			if l < 0 {
				return out, found
			}
			out, found = v, true
			b = b[l:]
			continue
		}
		l = protowire.ConsumeFieldValue(n, typ, b)
		if l < 0 {
			return out, found
		}
		b = b[l:]
	}
	return out, found
}

// varintField returns the last value of the varint field num of b.
func varintField(b []byte, num protowire.Number) uint64 {
	var out uint64
	for len(b) > 0 {
		n, typ, l := protowire.ConsumeTag(b)
		if l < 0 {
			return out
		}
		b = b[l:]
		if n == num && typ == protowire.VarintType {
			v, l := protowire.ConsumeVarint(b)
			if l < 0 {
				return out
			}
			out = v
			b = b[l:]
			continue
		}
		l = protowire.ConsumeFieldValue(n, typ, b)
		if l < 0 {
			return out
		}
		b = b[l:]
	}
	return out
}

// stampText returns a message text that starts with the current time in
// Unix nanoseconds, padded with 'x' to size bytes.
func stampText(size int) string {
	b := make([]byte, 0, max(size, 20))
	b = strconv.AppendInt(b, time.Now().UnixNano(), 10)
	b = append(b, ' ')
	for len(b) < size {
		b = append(b, 'x')
	}
	return string(b)
}

// parseStamp reads the leading decimal number of text; 0 if none.
func parseStamp(text []byte) int64 {
	var v int64
	for i, c := range text {
		if c < '0' || c > '9' {
			if i == 0 {
				return 0
			}
			break
		}
		v = v*10 + int64(c-'0')
	}
	return v
}

// pace calls fn rate times a second for dur, from workers goroutines (or
// inline when workers is 1). A slow fn lowers the achieved rate; it is never
// called concurrently more than workers times, and no call starts after
// dur.
func pace(ctx context.Context, rate float64, dur time.Duration, workers int, fn func(context.Context)) {
	var jobs chan struct{}
	done := make(chan struct{})
	if workers > 1 {
		jobs = make(chan struct{}, workers)
		for range workers {
			go func() {
				defer func() { done <- struct{}{} }()
				for range jobs {
					fn(ctx)
				}
			}()
		}
	}
	start := time.Now()
	sent := 0
	for ctx.Err() == nil {
		el := time.Since(start)
		if el >= dur {
			break
		}
		want := int(rate*el.Seconds()) + 1
		// Behind schedule (calls slower than the rate), catch up only
		// while the time lasts: nothing is started after dur.
		for sent < want && ctx.Err() == nil && time.Since(start) < dur {
			if jobs == nil {
				fn(ctx)
			} else {
				select {
				case jobs <- struct{}{}:
				case <-ctx.Done():
				}
			}
			sent++
		}
		next := start.Add(time.Duration(float64(sent) / rate * float64(time.Second)))
		if d := time.Until(next); d > 0 {
			time.Sleep(d)
		}
	}
	if jobs != nil {
		close(jobs)
		for range workers {
			<-done
		}
	}
}
