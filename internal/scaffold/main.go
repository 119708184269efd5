package scaffold

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/ssot-codegen/ssot-ws/internal/cli"
)

// Usage is the scaffold command's help.
const Usage = `usage: protoc-gen-ssot-ws scaffold [-I dir]... [-o out.proto] [-service Name] [-style standard|aip] file.proto...

Compiles the files in-process and prints, for every message declared an
ssot-ws model with option (ssot.ws.v1.model), the service that hosts its
standard methods (Get, List, Create, Update, Delete; AIP-131 to AIP-135)
and their request and response messages, to paste into the models' file.
With -o, writes a complete file instead (it never overwrites one) and
prints one line naming it, its services and their models.

"ssot/ws/v1/options.proto" is built in: it need not be on an import path.

Flags:
  -I, -proto_path dir  directory imports are relative to (repeatable; default .)
  -o file              write a complete .proto file (which must not exist yet)
  -service Name        one service for every model instead of <Model>Service each
  -style standard      buf lint STANDARD: <Method>Response wrappers (default)
  -style aip           bare model responses and google.protobuf.Empty for Delete`

// Main runs the scaffold command with args (those after "scaffold") and
// returns the process's exit status: 0 on success, 1 when scaffolding
// failed, 2 on a usage error. It never panics.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) (status int) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(stderr, "protoc-gen-ssot-ws scaffold: internal error: %v\n", r)
			status = 1
		}
	}()
	var (
		imports  cli.ImportPaths
		out, svc string
		style    string
		cmd      = cli.New("scaffold", Usage, stdout, stderr)
	)
	cmd.ImportFlags(&imports)
	cmd.Flags.StringVar(&out, "o", "", "")
	cmd.Flags.StringVar(&svc, "service", "", "")
	cmd.Flags.StringVar(&style, "style", "standard", "")
	files, status, done := cmd.Parse(args)
	if done {
		return status
	}
	if len(files) == 0 {
		return cmd.UsageError("no .proto file given")
	}
	st, err := ParseStyle(style)
	if err != nil {
		return cmd.UsageError("%v", err)
	}
	imports, names, err := ImportNames(imports, files)
	if err != nil {
		return cmd.Fail("%v", err)
	}
	opts := Options{ImportPaths: imports, Files: names, Service: svc, Style: st}
	if out != "" {
		if _, err := os.Stat(out); err == nil {
			return cmd.Fail("%s exists; scaffold -o writes new files only: remove it, pick another name, or print the fragment without -o", out)
		}
		opts.OutputName, _ = underImportPath(imports, out)
	}

	res, err := Scaffold(ctx, opts)
	if err != nil {
		var ce *CompileError
		if errors.As(err, &ce) {
			fmt.Fprintln(stderr, ce.Error())
			return 1
		}
		var pe *positionError
		if errors.As(err, &pe) {
			fmt.Fprintln(stderr, pe.Error()) // in protoc's format
			return 1
		}
		return cmd.Fail("%v", err)
	}
	for _, n := range res.Notes {
		fmt.Fprintf(stderr, "protoc-gen-ssot-ws scaffold: note: %s\n", n)
	}
	if out == "" {
		fmt.Fprint(stdout, res.Fragment)
		return 0
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return cmd.Fail("%v", err)
	}
	f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return cmd.Fail("%v", err)
	}
	if _, err := io.WriteString(f, res.File); err != nil {
		f.Close()
		return cmd.Fail("%v", err)
	}
	if err := f.Close(); err != nil {
		return cmd.Fail("%v", err)
	}
	fmt.Fprintln(stdout, wroteLine(out, res))
	if opts.OutputName != "" && path.Dir(opts.OutputName) != path.Dir(opts.Files[0]) {
		fmt.Fprintf(stderr, "protoc-gen-ssot-ws scaffold: note: %s is not in the directory of %s; buf lint (PACKAGE_DIRECTORY_MATCH, DIRECTORY_SAME_PACKAGE) wants the files of package %s together\n", out, opts.Files[0], res.Package)
	}
	return 0
}

// wroteLine is what scaffold -o prints on success: the file written, its
// services and the models they serve, in the package's own names.
func wroteLine(out string, res *Result) string {
	short := func(names []string) string {
		s := make([]string, len(names))
		for i, n := range names {
			s[i] = strings.TrimPrefix(n, res.Package+".")
		}
		return strings.Join(s, ", ")
	}
	services, models := "service", "model"
	if len(res.Services) != 1 {
		services += "s"
	}
	if len(res.Models) != 1 {
		models += "s"
	}
	return fmt.Sprintf("protoc-gen-ssot-ws scaffold: wrote %s: %s %s (package %s) for the %s %s",
		out, services, short(res.Services), res.Package, models, short(res.Models))
}
