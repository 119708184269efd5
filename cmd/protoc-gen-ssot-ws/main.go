// Command protoc-gen-ssot-ws is a protoc and buf plugin. For every .proto
// file that declares ssot-ws models it writes, with lang=go, the Connect
// handlers of their standard methods, their typed channel constructors
// and the gateway registration, into a sub-package as protoc-gen-connect-go
// does:
//
//	chat/v1/chatv1ssotws/chat.ssotws.go
//
// With buf, add it to buf.gen.yaml:
//
//	plugins:
//	  - local: ["go", "run", "github.com/ssot-codegen/ssot-ws/cmd/protoc-gen-ssot-ws"]
//	    out: gen
//	    opt: [paths=source_relative, lang=go]
//
// Parameters: lang=go|ts, realtime=auto|on|off, package_suffix,
// connect_package_suffix, import_extension, and protoc-gen-go's paths,
// module and M….
package main

import (
	"fmt"
	"os"

	"github.com/ssot-codegen/ssot-ws/internal/gen"
	"github.com/ssot-codegen/ssot-ws/ssotws"
	"google.golang.org/protobuf/compiler/protogen"
)

const usage = `protoc-gen-ssot-ws is a protoc plugin: run it through buf or protoc.

Flags:
  -h, --help	Print this help and exit.
      --version	Print the version and exit.`

func main() {
	if len(os.Args) == 2 && os.Args[1] == "--version" {
		fmt.Println(ssotws.Version)
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
