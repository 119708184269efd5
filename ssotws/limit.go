package ssotws

import (
	"compress/gzip"
	"fmt"
	"io"
	"net/http"

	"connectrpc.com/connect"
)

// DefaultMaxRequestBytes bounds one Connect request of the handlers built
// with [HandlerOptions] and [LimitBody]: its body on the wire, and its
// message once decompressed. 4 MiB leaves room for a record at the
// default [DefaultMaxRecordBytes] and the request around it; a larger
// request is refused with CodeResourceExhausted before it is decoded, so
// before any interceptor (authentication) runs.
const DefaultMaxRequestBytes = 4 << 20

// DefaultCompressMinBytes is the smallest response message the handlers
// built with [HandlerOptions] compress, when the client accepts gzip.
// Below it gzip saves a few bytes and costs more than the rest of a call:
// connect-go resets a pooled gzip writer per compressed message, which
// clears its tables, about a third of a small create's server CPU.
const DefaultCompressMinBytes = 1 << 10

// HandlerOptions returns the Connect handler options the generated
// New<Service>Handler constructors start with, followed by opts (a smaller
// connect.WithReadMaxBytes among them lowers the bound):
//
//   - connect.WithReadMaxBytes([DefaultMaxRequestBytes]): a request message
//     larger than that, once decompressed, is refused with
//     CodeResourceExhausted;
//   - a gzip decompressor that stops at the same bound, so that a
//     compressed "bomb" costs neither the memory nor the time of inflating
//     it: without it, connect-go inflates the whole body into a buffer
//     before the first interceptor can refuse the call;
//   - connect.WithCompressMinBytes([DefaultCompressMinBytes]): responses
//     smaller than 1 KiB (a record, most mutations) go uncompressed;
//     larger ones (a page of a List) are gzip-compressed for clients that
//     accept it.
//
// Handlers built with protoc-gen-connect-go's constructors directly should
// be given these options and wrapped with [LimitBody]. A service that needs
// larger requests builds its handler that way with its own
// connect.WithReadMaxBytes(n) instead, and LimitBody(h, n).
func HandlerOptions(opts ...connect.HandlerOption) []connect.HandlerOption {
	return append([]connect.HandlerOption{
		connect.WithReadMaxBytes(DefaultMaxRequestBytes),
		connect.WithCompressMinBytes(DefaultCompressMinBytes),
		connect.WithCompression("gzip",
			func() connect.Decompressor { return &boundedGzip{max: DefaultMaxRequestBytes} },
			func() connect.Compressor { return gzip.NewWriter(io.Discard) },
		),
	}, opts...)
}

// LimitBody returns h with the body of every request bounded at n bytes on
// the wire ([DefaultMaxRequestBytes] when n <= 0), with
// [http.MaxBytesHandler]: reading past it fails, and Connect answers
// CodeResourceExhausted.
func LimitBody(h http.Handler, n int64) http.Handler {
	if n <= 0 {
		n = DefaultMaxRequestBytes
	}
	return http.MaxBytesHandler(h, n)
}

// boundedGzip is a gzip [connect.Decompressor] that fails once it has
// produced more than max bytes, instead of inflating the rest.
type boundedGzip struct {
	gz   *gzip.Reader
	n    int64
	max  int64
	fail error
}

func (b *boundedGzip) Read(p []byte) (int, error) {
	if b.fail != nil {
		return 0, b.fail
	}
	if b.gz == nil {
		return 0, io.ErrUnexpectedEOF
	}
	if left := b.max + 1 - b.n; int64(len(p)) > left {
		p = p[:left]
	}
	n, err := b.gz.Read(p)
	b.n += int64(n)
	if b.n > b.max && err == nil {
		// connect-go reads one byte past its limit to see that it is
		// exceeded, then drains the rest to report the size: stop here.
		b.fail = connect.NewError(connect.CodeResourceExhausted,
			fmt.Errorf("ssotws: decompressed request over %d bytes", b.max))
	}
	return n, err
}

func (b *boundedGzip) Close() error {
	if b.gz == nil {
		return nil
	}
	return b.gz.Close()
}

func (b *boundedGzip) Reset(r io.Reader) error {
	b.n, b.fail = 0, nil
	if b.gz == nil {
		gz, err := gzip.NewReader(r)
		if err != nil {
			return err
		}
		b.gz = gz
		return nil
	}
	return b.gz.Reset(r)
}
