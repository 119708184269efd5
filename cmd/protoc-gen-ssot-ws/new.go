package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

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
	flags := flag.NewFlagSet("new", flag.ContinueOnError)
	flags.SetOutput(io.Discard)
	var opts newproject.Options
	flags.StringVar(&opts.Preset, "preset", "chat", "")
	flags.StringVar(&opts.Module, "module", "", "")
	flags.StringVar(&opts.Replace, "replace", "", "")
	flags.BoolVar(&opts.Force, "force", false, "")
	var dirs []string
	for {
		if err := flags.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fmt.Fprintln(stdout, newUsage)
				return 0
			}
			fmt.Fprintf(stderr, "protoc-gen-ssot-ws new: %v\n%s\n", err, newUsage)
			return 2
		}
		if flags.NArg() == 0 {
			break
		}
		// DIR, then maybe more flags ("new app --preset todo").
		dirs = append(dirs, flags.Arg(0))
		args = flags.Args()[1:]
	}
	if len(dirs) != 1 {
		fmt.Fprintf(stderr, "protoc-gen-ssot-ws new: want one directory, got %d\n%s\n", len(dirs), newUsage)
		return 2
	}
	files, err := newproject.Write(ctx, dirs[0], opts)
	if err != nil {
		fmt.Fprintf(stderr, "protoc-gen-ssot-ws new: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "protoc-gen-ssot-ws new: wrote %d files of the %s preset into %s. Next:\n\n  cd %s\n  npm install && npm start   # then open http://127.0.0.1:8080/\n  npm test\n",
		len(files), opts.Preset, dirs[0], dirs[0])
	return 0
}
