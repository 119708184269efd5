// Package tsruntime holds the TypeScript runtime of ssot-ws, the npm
// package @ssot-ws/runtime (runtime/), for the plugin to emit a vendored
// copy of it when asked to (lang=ts with runtime=emit).
//
// [FS] holds the runtime's sources, runtime/src/*.ts, and the protobuf-es
// code of the wire protocol they import, runtime/gen/ssot/ws/v1/frame_pb.ts.
// The plugin writes them as
//
//	<out>/ssotws/runtime/*.ts
//	<out>/ssotws/gen/ssot/ws/v1/frame_pb.ts
//
// which keeps the runtime's relative import "../gen/ssot/ws/v1/frame_pb.js"
// valid. The runtime imports nothing else but @bufbuild/protobuf and
// @connectrpc/connect; react.ts alone imports React, query.ts alone
// TanStack Query and connect-query (optional peers). The sources are
// type-checked and unit-tested in this directory (npm run typecheck,
// npm run test:ts).
package tsruntime

import (
	"embed"
	"io/fs"
)

//go:embed runtime/src/*.ts runtime/gen/ssot/ws/v1/frame_pb.ts
var files embed.FS

// FS returns the embedded runtime files, rooted at this directory: paths
// are "runtime/src/index.ts", "runtime/gen/ssot/ws/v1/frame_pb.ts", ….
func FS() fs.FS { return files }

// RuntimeDir and FrameFile are the paths of the runtime's sources and of
// the frame code inside [FS].
const (
	RuntimeDir = "runtime/src"
	FrameFile  = "runtime/gen/ssot/ws/v1/frame_pb.ts"
)
