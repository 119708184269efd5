package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/ssot-codegen/ssot-ws/internal/cli"
	"github.com/ssot-codegen/ssot-ws/internal/newproject"
)

var newUsage = `usage: protoc-gen-ssot-ws new [-preset ` + strings.Join(newproject.PresetNames(), "|") + `] [-module path] [-replace dir] [-force] DIR

Writes a complete project into DIR (flags may come before or after it):
buf.yaml and buf.gen.yaml (Go and TypeScript), the model and its
scaffolded service, a Go server (SQLite, dev tokens), a React page,
go.mod with the plugins as "go tool" dependencies, package.json and a
README. Then: cd DIR && npm install && npm start.

Presets:
` + presetLines() + `
Flags:
  -preset name   the preset (default chat)
  -module path   the Go module path (default example.com/<DIR's name>)
  -replace dir   a local checkout of ssot-ws for go.mod's replace directive,
                 as go.mod reads it (relative to DIR, or absolute); needed
                 while ssot-ws is unpublished
  -force         write into DIR even if it is not empty`

func presetLines() string {
	var b strings.Builder
	for _, n := range newproject.PresetNames() {
		fmt.Fprintf(&b, "  %-14s %s\n", n, newproject.Presets[n].Summary)
	}
	return b.String()
}

// newMain runs "protoc-gen-ssot-ws new".
func newMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd := cli.New("new", newUsage, stdout, stderr)
	var opts newproject.Options
	cmd.Flags.StringVar(&opts.Preset, "preset", "chat", "")
	cmd.Flags.StringVar(&opts.Module, "module", "", "")
	cmd.Flags.StringVar(&opts.Replace, "replace", "", "")
	cmd.Flags.BoolVar(&opts.Force, "force", false, "")
	// DIR, then maybe more flags ("new app --preset todo").
	dirs, status, done := cmd.Parse(args)
	if done {
		return status
	}
	if len(dirs) != 1 {
		return cmd.UsageError("want one directory, got %d", len(dirs))
	}
	files, err := newproject.Write(ctx, dirs[0], opts)
	if err != nil {
		return cmd.Fail("%v", err)
	}
	fmt.Fprintf(stdout, "protoc-gen-ssot-ws new: wrote %d files of the %s preset into %s. Next:\n\n  cd %s\n  npm install && npm start   # then open http://127.0.0.1:8080/\n  npm test\n",
		len(files), opts.Preset, dirs[0], dirs[0])
	return 0
}
