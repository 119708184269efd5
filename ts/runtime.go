// Package tsruntime holds the TypeScript runtime of ssot-ws, for the plugin
// to emit next to the code it generates with lang=ts.
//
// [FS] holds the runtime's sources, src/runtime/*.ts, and the protobuf-es
// code of the wire protocol they import, src/gen/ssot/ws/v1/frame_pb.ts.
// The plugin writes them as
//
//	<out>/ssotws/runtime/*.ts
//	<out>/ssotws/gen/ssot/ws/v1/frame_pb.ts
//
// which keeps the runtime's relative import "../gen/ssot/ws/v1/frame_pb.js"
// valid. The runtime imports nothing else but @bufbuild/protobuf,
// @connectrpc/connect and @connectrpc/connect-web; react.ts alone imports
// React. The sources are type-checked and unit-tested in this directory
// (npm run typecheck, npm run test:ts).
package tsruntime

import (
	"embed"
	"io/fs"
)

//go:embed src/runtime/*.ts src/gen/ssot/ws/v1/frame_pb.ts
var files embed.FS

// FS returns the embedded runtime files, rooted at this directory: paths
// are "src/runtime/index.ts", "src/gen/ssot/ws/v1/frame_pb.ts", ….
func FS() fs.FS { return files }

// RuntimeDir and FrameFile are the paths of the runtime's sources and of
// the frame code inside [FS].
const (
	RuntimeDir = "src/runtime"
	FrameFile  = "src/gen/ssot/ws/v1/frame_pb.ts"
)
