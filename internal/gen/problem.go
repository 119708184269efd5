package gen

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// problem is one malformed declaration, reported in protoc's format.
type problem struct {
	file      string
	line, col int // one-based; zero when the file has no source info
	elem      string
	msg       string
}

func (p problem) String() string {
	if p.line == 0 {
		return fmt.Sprintf("%s: %s: %s", p.file, p.elem, p.msg)
	}
	return fmt.Sprintf("%s:%d:%d: %s: %s", p.file, p.line, p.col, p.elem, p.msg)
}

// problems collects every malformed declaration, so that the user fixes
// all of them in one pass.
type problems []problem

// addf records a problem with the declaration d.
func (ps *problems) addf(d protoreflect.Descriptor, format string, args ...any) {
	p := problem{elem: string(d.FullName()), msg: fmt.Sprintf(format, args...)}
	if f := d.ParentFile(); f != nil {
		p.file = f.Path()
		if loc := f.SourceLocations().ByDescriptor(d); loc.StartLine != 0 || loc.StartColumn != 0 || loc.EndLine != 0 {
			p.line, p.col = loc.StartLine+1, loc.StartColumn+1
		}
	}
	*ps = append(*ps, p)
}

// addAt records a problem of the declaration elem, placed at the
// declaration at (a request field, say), which may be in another file.
func (ps *problems) addAt(at, elem protoreflect.Descriptor, format string, args ...any) {
	ps.addf(at, format, args...)
	(*ps)[len(*ps)-1].elem = string(elem.FullName())
}

// err returns every problem, sorted by place, one per line; nil if none.
func (ps problems) err() error {
	if len(ps) == 0 {
		return nil
	}
	sorted := slices.Clone(ps)
	slices.SortFunc(sorted, func(a, b problem) int {
		return cmp.Or(
			cmp.Compare(a.file, b.file),
			cmp.Compare(a.line, b.line),
			cmp.Compare(a.col, b.col),
			cmp.Compare(a.elem, b.elem),
			cmp.Compare(a.msg, b.msg),
		)
	})
	lines := make([]string, 0, len(sorted))
	for _, p := range sorted {
		if s := p.String(); len(lines) == 0 || lines[len(lines)-1] != s {
			lines = append(lines, s)
		}
	}
	return errors.New(strings.Join(lines, "\n"))
}
