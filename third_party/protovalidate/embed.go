// Package protovalidateproto embeds buf/validate/validate.proto, the
// protovalidate rules (Apache-2.0, see LICENSE in this directory), so that
// protoc-gen-ssot-ws can compile protos that import it (scaffold, migrate)
// and write a copy for users who cannot reach the Buf Schema Registry
// (protoc-gen-ssot-ws proto -validate).
//
// Its Go code is not generated here: it is the package
// buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate
// (the file's go_package), which buf.build/go/protovalidate uses.
package protovalidateproto

import "embed"

// Path is the import path of the rules.
const Path = "buf/validate/validate.proto"

// FS holds buf/validate/validate.proto at its import path, and LICENSE.
//
//go:embed buf/validate/validate.proto LICENSE
var FS embed.FS
