package main

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/ssot-codegen/ssot-ws/internal/cli"
	ssotproto "github.com/ssot-codegen/ssot-ws/proto"
	"github.com/ssot-codegen/ssot-ws/ssotws/protocol"
	protovalidateproto "github.com/ssot-codegen/ssot-ws/third_party/protovalidate"
)

// optionsProto is the import path of the annotations a user's protos
// import.
const optionsProto = "ssot/ws/v1/options.proto"

const protoUsage = `usage: protoc-gen-ssot-ws proto [-validate] [-o dir]

Writes the annotations this binary understands, ` + optionsProto + `,
for protoc users and for buf workspaces that keep a copy of them:

  protoc-gen-ssot-ws proto -o third_party/ssot-ws
  protoc -I proto -I third_party/ssot-ws --go_out=gen ... proto/chat/v1/chat.proto

With -o, the file goes to dir/` + optionsProto + ` (replacing an older
copy) and one line says so; without it, the file is printed on stdout.
Give protoc your own files only, never the copy: its Go code is the
package github.com/ssot-codegen/ssot-ws/ssotws/wsv1, which ssot-ws ships.

With -validate it writes protovalidate's ` + protovalidateproto.Path + `
instead (and its LICENSE, with -o), the buf.validate rules the runtime
enforces, for workspaces that cannot reach the Buf Schema Registry's
buf.build/bufbuild/protovalidate:

  protoc-gen-ssot-ws proto -validate -o third_party/protovalidate

Its Go code is buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go,
which buf.build/go/protovalidate requires: generate none for it either.

Flags:
  -o dir     the import-path root to write the file under
  -validate  write buf/validate/validate.proto`

// protoMain runs the proto command with args (those after "proto") and
// returns the process's exit status: 0 on success, 1 when writing failed,
// 2 on a usage error.
func protoMain(args []string, stdout, stderr io.Writer) int {
	cmd := cli.New("proto", protoUsage, stdout, stderr)
	dir := cmd.Flags.String("o", "", "")
	validate := cmd.Flags.Bool("validate", false, "")
	operands, status, done := cmd.Parse(args)
	if done {
		return status
	}
	if len(operands) > 0 {
		return cmd.UsageError("unexpected argument %q", operands[0])
	}
	src, name, extra := fs.FS(ssotproto.FS), optionsProto, []string(nil)
	if *validate {
		src, name, extra = protovalidateproto.FS, protovalidateproto.Path, []string{"LICENSE"}
	}
	b, err := fs.ReadFile(src, name)
	if err != nil { // embedded: cannot happen in a built binary
		return cmd.Fail("%v", err)
	}
	if *dir == "" {
		if _, err := stdout.Write(b); err != nil {
			return cmd.Fail("%v", err)
		}
		return 0
	}
	out := filepath.Join(*dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return cmd.Fail("%v", err)
	}
	if err := os.WriteFile(out, b, 0o644); err != nil {
		return cmd.Fail("%v", err)
	}
	for _, f := range extra {
		b, err := fs.ReadFile(src, f)
		if err == nil {
			err = os.WriteFile(filepath.Join(*dir, f), b, 0o644)
		}
		if err != nil {
			return cmd.Fail("%v", err)
		}
	}
	fmt.Fprintf(stdout, "protoc-gen-ssot-ws proto: wrote %s (ssot-ws %s): put %s on the import path (protoc -I, or a module of your buf workspace)\n",
		out, protocol.Version, *dir)
	return 0
}
