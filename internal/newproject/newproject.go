// Package newproject writes a complete ssot-ws project from a preset: the
// "new" command of protoc-gen-ssot-ws.
//
// A project is a buf workspace (its model and the annotations), a buf
// template for Go and TypeScript, a Go module with the plugins as tools,
// a Go server on the embedded defaults (SQLite or memory, dev tokens), a
// React page built with esbuild, and a README whose commands run it and
// test it. The templates are embedded under templates/: project/ is
// shared, and each preset has its model and page in a directory of its own.
package newproject

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"text/template"

	"github.com/ssot-codegen/ssot-ws/internal/scaffold"
	ssotproto "github.com/ssot-codegen/ssot-ws/proto"
	"github.com/ssot-codegen/ssot-ws/ssotws/protocol"
)

//go:embed templates
var templates embed.FS

// Preset is what a project is about: its model, its page and its tests.
type Preset struct {
	// Name is the preset's name on the command line.
	Name string
	// Summary is one line for the usage text and the README.
	Summary string
	// Pkg is the proto package's first component and the Go package
	// prefix ("chat" gives chat.v1 and chatv1).
	Pkg string
	// Model is the message name, Plural the generated Resource field.
	Model, Plural string
	// GoInit is the Go literal's fields of a record the server's test creates.
	GoInit string
}

// Presets are the presets "new" knows, by name.
var Presets = map[string]Preset{
	"chat":          {Name: "chat", Summary: "messages in rooms: everyone signed in reads a room live, each message is its author's", Pkg: "chat", Model: "Message", Plural: "Messages", GoInit: `RoomId: "lobby", Text: "hello"`},
	"notifications": {Name: "notifications", Summary: "per-user notifications sent by the server, marked read, with a live unread count", Pkg: "notifications", Model: "Notification", Plural: "Notifications", GoInit: `Text: "hello"`},
	"todo":          {Name: "todo", Summary: "each user's own tasks, live on every page the user has open", Pkg: "todo", Model: "Task", Plural: "Tasks", GoInit: `Title: "hello"`},
}

// PresetNames returns the names of the presets, sorted.
func PresetNames() []string {
	names := make([]string, 0, len(Presets))
	for n := range Presets {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// ssotModule is the Go module path of ssot-ws.
const ssotModule = "github.com/ssot-codegen/ssot-ws"

// Options configures [Write].
type Options struct {
	// Preset names the preset (see [Presets]).
	Preset string
	// Module is the project's Go module path. Empty: example.com/<dir name>.
	Module string
	// Replace, when set, is the directory of a local checkout of ssot-ws
	// that go.mod's replace directive points at (needed while ssot-ws is
	// unpublished). A relative path is kept as given, relative to the
	// project's directory, as go.mod reads it.
	Replace string
	// Force writes into a directory that is not empty.
	Force bool
}

// data is what the templates see.
type data struct {
	Preset
	Module    string
	GoPkg     string // chatv1
	SsotPkg   string // chatv1ssotws
	Connect   string // chatv1connect
	Service   string // MessageService
	Lower     string // message
	Version   string // ssot-ws's version, as go.mod requires it
	Replace   string
	SsotMod   string
	GoVersion string
}

// Write writes a project of opts.Preset into dir and returns the files it
// wrote, relative to dir and slash-separated, in order.
func Write(ctx context.Context, dir string, opts Options) ([]string, error) {
	p, ok := Presets[opts.Preset]
	if !ok {
		return nil, fmt.Errorf("unknown preset %q: want one of %s", opts.Preset, strings.Join(PresetNames(), ", "))
	}
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 && !opts.Force {
		return nil, fmt.Errorf("%s is not empty (-force writes into it anyway)", dir)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	module := opts.Module
	if module == "" {
		module = "example.com/" + sanitize(filepath.Base(abs))
	}
	d := data{
		Preset:    p,
		Module:    module,
		GoPkg:     p.Pkg + "v1",
		SsotPkg:   p.Pkg + "v1ssotws",
		Connect:   p.Pkg + "v1connect",
		Service:   p.Model + "Service",
		Lower:     strings.ToLower(p.Model[:1]) + p.Model[1:],
		Version:   "v" + protocol.Version,
		Replace:   filepath.ToSlash(opts.Replace),
		SsotMod:   ssotModule,
		GoVersion: "1.26",
	}
	if opts.Replace != "" {
		// A replaced module is required at the zero pseudo-version, as
		// go mod edit -replace with go mod tidy would write it.
		d.Version = "v0.0.0-00010101000000-000000000000"
	}

	files := map[string][]byte{}
	for _, root := range []string{"templates/project", "templates/" + p.Name} {
		err := fs.WalkDir(templates, root, func(name string, e fs.DirEntry, err error) error {
			if err != nil || e.IsDir() {
				return err
			}
			src, err := templates.ReadFile(name)
			if err != nil {
				return err
			}
			t, err := template.New(name).Delims("[[", "]]").Option("missingkey=error").Parse(string(src))
			if err != nil {
				return err
			}
			var b bytes.Buffer
			if err := t.Execute(&b, d); err != nil {
				return err
			}
			out := strings.TrimSuffix(strings.TrimPrefix(name, root+"/"), ".tmpl")
			out = strings.ReplaceAll(out, "PKG", p.Pkg)
			if path.Base(out) == "gitignore" { // embed leaves dot files out
				out = path.Join(path.Dir(out), ".gitignore")
			}
			files[out] = b.Bytes()
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("templates: %w", err)
		}
	}
	opt, err := ssotproto.FS.ReadFile("ssot/ws/v1/options.proto")
	if err != nil {
		return nil, err
	}
	files["third_party/ssot-ws/ssot/ws/v1/options.proto"] = opt

	var wrote []string
	for name := range files {
		wrote = append(wrote, name)
	}
	sort.Strings(wrote)
	for _, name := range wrote {
		if err := writeFile(filepath.Join(abs, filepath.FromSlash(name)), files[name]); err != nil {
			return nil, err
		}
	}

	// The model's service, scaffolded from the model as the user would
	// (protoc-gen-ssot-ws scaffold): the project commits it and owns it.
	model := path.Join(p.Pkg, "v1", p.Pkg+".proto")
	svcName := path.Join(p.Pkg, "v1", p.Pkg+"_service.proto")
	res, err := scaffold.Scaffold(ctx, scaffold.Options{
		ImportPaths: []string{filepath.Join(abs, "proto"), filepath.Join(abs, "third_party", "ssot-ws")},
		Files:       []string{model},
		OutputName:  svcName,
	})
	if err != nil {
		return nil, fmt.Errorf("scaffold %s: %w", model, err)
	}
	if err := writeFile(filepath.Join(abs, "proto", filepath.FromSlash(svcName)), []byte(res.File)); err != nil {
		return nil, err
	}
	wrote = append(wrote, "proto/"+svcName)
	sort.Strings(wrote)
	return wrote, nil
}

func writeFile(name string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return err
	}
	return os.WriteFile(name, b, 0o644)
}

// sanitize turns a directory name into a module path element.
func sanitize(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			b.WriteRune(r)
		default:
			b.WriteRune('-')
		}
	}
	if b.Len() == 0 {
		return "app"
	}
	return b.String()
}
