// Package ssotproto embeds ssot-ws's own .proto files, so that tools built
// from this module (protoc-gen-ssot-ws scaffold) can compile a user's
// protos that import "ssot/ws/v1/options.proto" without a copy of it on
// disk.
package ssotproto

import "embed"

// FS holds ssot/ws/v1/*.proto, at their import paths.
//
//go:embed ssot/ws/v1/*.proto
var FS embed.FS
