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
// Install it with "go get -tool" (or "go install …@version"), and add it
// to buf.gen.yaml (see docs/install.md and the README's "Start your own
// project"):
//
//	plugins:
//	  - local: ["go", "tool", "protoc-gen-ssot-ws"]
//	    out: gen
//	    opt: [paths=source_relative, lang=go]
//	  - local: ["go", "tool", "protoc-gen-ssot-ws"]
//	    out: web/src/gen
//	    opt: [lang=ts, import_extension=js]
//
// Parameters: lang=go|ts, realtime=auto|on|off, binding=lenient|strict, package_suffix,
// connect_package_suffix, import_extension, runtime=package|emit (lang=ts),
// and protoc-gen-go's paths, module and M….
//
// Run with arguments, it is a command:
//
//	protoc-gen-ssot-ws scaffold file.proto…  # the standard service of every model (docs/scaffold.md)
//	protoc-gen-ssot-ws new -preset chat DIR   # a complete project: buf, Go server, React page, tests
//	protoc-gen-ssot-ws proto -o dir          # writes dir/ssot/ws/v1/options.proto, the annotations
//	protoc-gen-ssot-ws --version             # prints "protoc-gen-ssot-ws <version>"
package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/ssot-codegen/ssot-ws/internal/gen"
	"github.com/ssot-codegen/ssot-ws/internal/migrate"
	"github.com/ssot-codegen/ssot-ws/internal/scaffold"
	"github.com/ssot-codegen/ssot-ws/ssotws/protocol"
)

const usage = `protoc-gen-ssot-ws is a protoc plugin: run it through buf or protoc.

Flags:
  -h, --help	Print this help and exit.
      --version	Print "protoc-gen-ssot-ws <version>" and exit.

Commands:
  scaffold [-I dir]... [-o out.proto] [-service Name] [-style standard|aip] file.proto...
		Print the standard service of every model the files declare
		(protoc-gen-ssot-ws scaffold -h for more).
  migrate -dialect sqlite|postgres -dir DIR [-I dir]... files...
		Write the next SQL migration of the models' tables into DIR
		(protoc-gen-ssot-ws migrate -h for more).
  new [-preset chat|notifications|todo] [-replace dir] DIR
		Write a complete project (buf, Go server, React page, tests)
		into DIR (protoc-gen-ssot-ws new -h for more).
  proto [-validate] [-o dir]
		Write the annotations, ssot/ws/v1/options.proto, under dir
		(or print them) for protoc users and buf workspaces; with
		-validate, protovalidate's buf/validate/validate.proto
		(protoc-gen-ssot-ws proto -h for more).`

// versionLine is what --version prints: the binary's name and the release
// it belongs to, the version of the Go runtime, the annotations and the
// npm package @ssot-ws/runtime (one release, one version; tags are
// v<version>).
func versionLine() string { return "protoc-gen-ssot-ws " + protocol.Version }

func main() {
	if len(os.Args) == 1 {
		if err := gen.Run(os.Stdin, os.Stdout); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", os.Args[0], err)
			os.Exit(1)
		}
		return
	}
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// run runs the binary as a command (with arguments; without any, it is a
// protoc plugin) and returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	switch {
	case args[0] == "scaffold":
		return scaffold.Main(ctx, args[1:], stdout, stderr)
	case args[0] == "proto":
		return protoMain(args[1:], stdout, stderr)
	case args[0] == "new":
		return newMain(ctx, args[1:], stdout, stderr)
	case args[0] == "migrate":
		return migrate.Main(ctx, args[1:], stdout, stderr)
	case len(args) == 1 && (args[0] == "--version" || args[0] == "-version"):
		fmt.Fprintln(stdout, versionLine())
		return 0
	case len(args) == 1 && (args[0] == "-h" || args[0] == "--help"):
		fmt.Fprintln(stdout, usage)
		return 0
	}
	fmt.Fprintln(stderr, usage)
	return 1
}
