// Package migrate is protoc-gen-ssot-ws's migrate command: it compiles the
// user's protos, derives each model's SQL table (package sqlschema) and
// writes the difference from the last migration as the next numbered
// migration file, for review like code. A destructive change (a removed,
// renumbered or retyped field, a removed model) is reported with its
// file:line:col and nothing is written.
package migrate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/ssot-codegen/ssot-ws/internal/cli"
	"github.com/ssot-codegen/ssot-ws/internal/gen"
	"github.com/ssot-codegen/ssot-ws/internal/scaffold"
	"github.com/ssot-codegen/ssot-ws/ssotws/protocol"
	"github.com/ssot-codegen/ssot-ws/ssotws/sqlschema"
)

// Usage is the command's help.
const Usage = `usage: protoc-gen-ssot-ws migrate -dialect sqlite|postgres -dir DIR [-I DIR]... FILE.proto...

Derives a SQL table for every model the files declare and writes the next
migration into DIR: NNNN_<what>.sql, and schema.json, the schema as of that
migration, from which the next one is computed. Commit both; stores opened
on a database these migrations built find their tables as they expect.
Adding a model, a field or a scope is a migration; removing, renumbering
or retyping a field is an error that names its file:line:col.`

// SnapshotFile is the name of the schema snapshot in a migrations
// directory.
const SnapshotFile = "schema.json"

var migrationName = regexp.MustCompile(`^(\d{4})_.*\.sql$`)

// Models compiles files (import paths) and returns the models they declare,
// with their source positions.
func Models(ctx context.Context, importPaths []string, sources map[string]string, files []string) ([]*protocol.Model, error) {
	fds, err := scaffold.Compile(ctx, importPaths, sources, files)
	if err != nil {
		return nil, err
	}
	schema, err := gen.BindFiles(fds, files, nil)
	if err != nil {
		return nil, err
	}
	var models []*protocol.Model
	for _, f := range schema.Files {
		for _, m := range f.Models {
			cfg := protocol.ModelConfig{Key: string(m.Key.Desc.Name()), Realtime: m.Realtime, Read: m.Read, Write: m.Write}
			for _, s := range m.Scopes {
				cfg.Scopes = append(cfg.Scopes, string(s.Field.Desc.Name()))
			}
			if m.Owner != nil {
				cfg.Owner = string(m.Owner.Desc.Name())
			}
			for _, f := range m.Filters {
				cfg.Filters = append(cfg.Filters, string(f.Desc.Name()))
			}
			pm, err := protocol.NewModel(m.Message.Desc, cfg)
			if err != nil {
				return nil, err
			}
			models = append(models, pm)
		}
	}
	return models, nil
}

// Write writes the migration from the snapshot in dir to models, and the
// new snapshot. It returns the file written, "" when the schema did not
// change.
func Write(dir string, d sqlschema.Dialect, models []*protocol.Model, header string) (string, error) {
	tables, err := sqlschema.NewTables(models, d)
	if err != nil {
		return "", err
	}
	var prev *sqlschema.Snapshot
	b, err := os.ReadFile(filepath.Join(dir, SnapshotFile))
	switch {
	case err == nil:
		if prev, err = sqlschema.UnmarshalSnapshot(b); err != nil {
			return "", err
		}
	case !errors.Is(err, os.ErrNotExist):
		return "", err
	}
	ddl, name, err := sqlschema.Migration(prev, d, tables)
	if err != nil || ddl == "" {
		return "", err
	}
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	var existing []string
	for _, e := range entries {
		if migrationName.MatchString(e.Name()) {
			existing = append(existing, e.Name())
		}
	}
	sort.Strings(existing)
	if prev == nil && len(existing) > 0 {
		return "", fmt.Errorf("%s has migrations but no %s: restore it from version control", dir, SnapshotFile)
	}
	file := fmt.Sprintf("%04d_%s.sql", len(existing)+1, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	snap, err := sqlschema.MarshalSnapshot(sqlschema.SnapshotOf(d, tables))
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, file), []byte(header+ddl), 0o644); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, SnapshotFile), snap, 0o644); err != nil {
		return "", err
	}
	return file, nil
}

// Header is the comment at the top of a migration file.
func Header(files []string) string {
	return "-- Migration written by protoc-gen-ssot-ws migrate from " + strings.Join(files, ", ") +
		".\n-- Review it like code; once applied anywhere, do not edit it: write the next one.\n\n"
}

// Main runs the command with args (after "migrate") and returns the exit
// status: 0 on success, 1 when the migration failed, 2 on a usage error.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var (
		imports      cli.ImportPaths
		dir, dialect string
		cmd          = cli.New("migrate", Usage, stdout, stderr)
	)
	cmd.ImportFlags(&imports)
	cmd.Flags.StringVar(&dir, "dir", "", "")
	cmd.Flags.StringVar(&dialect, "dialect", "", "")
	files, status, done := cmd.Parse(args)
	if done {
		return status
	}
	d, err := sqlschema.ParseDialect(dialect)
	if err != nil {
		return cmd.UsageError("-dialect: want sqlite or postgres")
	}
	if dir == "" || len(files) == 0 {
		return cmd.UsageError("-dir and at least one .proto file are required")
	}
	imports, names, err := scaffold.ImportNames(imports, files)
	if err != nil {
		return cmd.Fail("%v", err)
	}
	models, err := Models(ctx, imports, nil, names)
	if err == nil {
		var file string
		file, err = Write(dir, d, models, Header(names))
		if err == nil {
			if file == "" {
				fmt.Fprintf(stdout, "protoc-gen-ssot-ws migrate: %s is up to date\n", dir)
			} else {
				fmt.Fprintf(stdout, "protoc-gen-ssot-ws migrate: wrote %s\n", filepath.Join(dir, file))
			}
			return 0
		}
	}
	var ce *scaffold.CompileError
	var de *sqlschema.DestructiveError
	switch {
	case errors.As(err, &ce):
		fmt.Fprintln(stderr, ce.Error())
	case errors.As(err, &de):
		fmt.Fprintln(stderr, de.Error())
		fmt.Fprintln(stderr, "protoc-gen-ssot-ws migrate: destructive changes: nothing written")
	default:
		fmt.Fprintf(stderr, "protoc-gen-ssot-ws migrate: %v\n", err)
	}
	return 1
}
