// Command protoc-gen-ssot-ws is a protoc and buf plugin. For every .proto
// file that declares ssot-ws models it writes, with lang=go, the Connect
// handlers of their standard methods, their typed channel constructors
// and the gateway registration, into a sub-package as protoc-gen-connect-go
// does:
//
//	chat/v1/chatv1ssotws/chat.ssotws.go
//
// together with typed client constructors; with lang=ts, next to
// protoc-gen-es's chat_pb.ts, the model descriptors, channel helpers and
// client constructors, which import the npm package @ssot-ws/runtime:
//
//	chat/v1/chat_ssotws.ts
//
// (with runtime=emit, plus a vendored copy of the runtime under ssotws/).
//
// With buf, add it to buf.gen.yaml:
//
//	plugins:
//	  - local: ["go", "run", "github.com/ssot-codegen/ssot-ws/cmd/protoc-gen-ssot-ws"]
//	    out: gen
//	    opt: [paths=source_relative, lang=go]
//	  - local: ["go", "run", "github.com/ssot-codegen/ssot-ws/cmd/protoc-gen-ssot-ws"]
//	    out: web/src/gen
//	    opt: [lang=ts, import_extension=js]
//
// Parameters: lang=go|ts, realtime=auto|on|off, package_suffix,
// connect_package_suffix, import_extension, runtime=package|emit (lang=ts),
// and protoc-gen-go's paths, module and M….
//
// Run as "protoc-gen-ssot-ws scaffold file.proto…", it prints the
// standard service of every model the files declare, to commit next to
// them (see internal/scaffold and docs/scaffold.md).
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/ssot-codegen/ssot-ws/internal/gen"
	"github.com/ssot-codegen/ssot-ws/internal/scaffold"
	"github.com/ssot-codegen/ssot-ws/ssotws/protocol"
	"google.golang.org/protobuf/compiler/protogen"
)

const usage = `protoc-gen-ssot-ws is a protoc plugin: run it through buf or protoc.

Flags:
  -h, --help	Print this help and exit.
      --version	Print the version and exit.

Commands:
  scaffold [-I dir]... [-o out.proto] [-service Name] [-style standard|aip] file.proto...
		Print the standard service of every model the files declare
		(protoc-gen-ssot-ws scaffold -h for more).`

func main() {
	if len(os.Args) > 1 && os.Args[1] == "scaffold" {
		os.Exit(scaffold.Main(context.Background(), os.Args[2:], os.Stdout, os.Stderr))
	}
	if len(os.Args) == 2 && os.Args[1] == "--version" {
		fmt.Println(protocol.Version)
		return
	}
	if len(os.Args) == 2 && (os.Args[1] == "-h" || os.Args[1] == "--help") {
		fmt.Println(usage)
		return
	}
	if len(os.Args) != 1 {
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(1)
	}
	params := gen.NewParams()
	protogen.Options{ParamFunc: params.Set}.Run(func(plugin *protogen.Plugin) error {
		return gen.Generate(plugin, params)
	})
}
