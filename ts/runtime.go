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
// @connectrpc/connect; only the hooks, react.ts and react_presence.ts, import React. query.ts (TanStack
// Query and connect-query, optional peers) and validate.ts (@bufbuild/protovalidate, an optional
// peer) are in the npm package only. The sources are
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
// It leaves out [npmOnly]: runtime=emit copies FS whole into projects that
// may not have what those files import.
func FS() fs.FS { return without{files} }

// npmOnly are the runtime sources shipped in the npm package only: the live
// connect-query mode needs TanStack Query and connect-query, and the
// "./validate" entry @bufbuild/protovalidate.
var npmOnly = map[string]bool{RuntimeDir + "/query.ts": true, RuntimeDir + "/query_read.ts": true, RuntimeDir + "/validate.ts": true}

// without is the embedded files minus npmOnly.
type without struct{ fs embed.FS }

func (w without) Open(name string) (fs.File, error) {
	if npmOnly[name] {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return w.fs.Open(name)
}

func (w without) ReadDir(name string) ([]fs.DirEntry, error) {
	all, err := w.fs.ReadDir(name)
	out := all[:0:0]
	for _, e := range all {
		if !npmOnly[name+"/"+e.Name()] {
			out = append(out, e)
		}
	}
	return out, err
}

// RuntimeDir and FrameFile are the paths of the runtime's sources and of
// the frame code inside [FS].
const (
	RuntimeDir = "runtime/src"
	FrameFile  = "runtime/gen/ssot/ws/v1/frame_pb.ts"
)
