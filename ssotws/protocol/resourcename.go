package protocol

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"go.einride.tech/aip/resourcename"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// ParentScope is the scope a resource name's parent gives an AIP resource:
// its records are filtered by "parent" and its parent's collection is the
// channel "Book?parent=shelves%2F1" ([ScopeChannel]).
const ParentScope = "parent"

// setPatterns checks and keeps the resource name patterns of an AIP
// resource. Its key must then be a string field.
func (m *Model) setPatterns(patterns []string) error {
	if len(patterns) == 0 {
		return nil
	}
	if m.key.Kind() != protoreflect.StringKind {
		return fmt.Errorf("key field %q must be a string to hold resource names", m.key.Name())
	}
	for _, p := range patterns {
		if err := resourcename.ValidatePattern(p); err != nil {
			return fmt.Errorf("resource pattern %q: %w", p, err)
		}
		if _, last := parentPattern(p); last == "" {
			return fmt.Errorf("resource pattern %q does not end in a collection and a {variable}", p)
		}
	}
	m.patterns = slices.Clone(patterns)
	return nil
}

// parentPattern splits a pattern "shelves/{shelf}/books/{book}" into its
// parent's pattern ("shelves/{shelf}", "" for a top-level resource) and
// its last collection ("books"). last is "" when the pattern does not
// end in a collection and a variable.
func parentPattern(pattern string) (parent, last string) {
	segs := strings.Split(pattern, "/")
	n := len(segs)
	if n < 2 || !isVariable(segs[n-1]) || isVariable(segs[n-2]) {
		return "", ""
	}
	return strings.Join(segs[:n-2], "/"), segs[n-2]
}

func isVariable(seg string) bool {
	return strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}")
}

// Patterns returns the resource name patterns of an AIP resource, nil for
// another model.
func (m *Model) Patterns() []string { return m.patterns }

// HasParent reports whether the model's records have a parent derived
// from their resource name: a resource pattern names a parent
// ("shelves/{shelf}/books/{book}", not "shelves/{shelf}"), and the model
// has no field of its own named "parent" (which would then be an ordinary
// field).
func (m *Model) HasParent() bool {
	if m.desc.Fields().ByName(ParentScope) != nil {
		return false
	}
	for _, p := range m.patterns {
		if pp, _ := parentPattern(p); pp != "" {
			return true
		}
	}
	return false
}

// ParentOf returns the parent of resource name key: "shelves/1" for
// "shelves/1/books/2" under the pattern "shelves/{shelf}/books/{book}". It
// is "" for a top-level resource, a model without patterns, or a name that
// matches none of them.
func (m *Model) ParentOf(key string) string {
	for _, p := range m.patterns {
		if !resourcename.Match(p, key) {
			continue
		}
		pp, _ := parentPattern(p)
		if pp == "" {
			return ""
		}
		parent, _ := resourcename.Ancestor(key, pp)
		return parent
	}
	return ""
}

// ChildName builds the resource name of a new record under parent with
// the resource id id: "shelves/1/books/abc" for parent "shelves/1" and id
// "abc". parent must match the parent part of one of the model's
// patterns ("" for a top-level resource); the error says which are
// allowed. It does not validate id (AIP-122 leaves that to the caller).
func (m *Model) ChildName(parent, id string) (string, error) {
	p, last, err := m.patternUnder(parent)
	if err != nil {
		return "", err
	}
	name := resourcename.Join(parent, last, id)
	if !resourcename.Match(p, name) {
		return "", fmt.Errorf("resource id %q is not one segment of a name %q", id, p)
	}
	return name, nil
}

// CheckParent returns an error naming the parents allowed when parent
// matches the parent part of none of the model's patterns.
func (m *Model) CheckParent(parent string) error {
	_, _, err := m.patternUnder(parent)
	return err
}

// patternUnder returns the first pattern whose parent part parent
// matches, and its last collection.
func (m *Model) patternUnder(parent string) (pattern, last string, err error) {
	var want []string
	for _, p := range m.patterns {
		pp, last := parentPattern(p)
		if pp == "" && parent == "" || pp != "" && resourcename.Match(pp, parent) {
			return p, last, nil
		}
		if pp == "" {
			want = append(want, `"" (a top-level `+m.name+")")
		} else {
			want = append(want, strconv.Quote(pp))
		}
	}
	if len(want) == 0 {
		return "", "", fmt.Errorf("%s has no resource pattern", m.FullName())
	}
	return "", "", fmt.Errorf("parent %s does not match %s", strconv.Quote(parent), strings.Join(want, " or "))
}

// IsScope reports whether field scopes the model's list channels: a
// declared scope, or [ParentScope] for a resource with a parent.
func (m *Model) IsScope(field string) bool {
	if field == ParentScope && m.HasParent() {
		return true
	}
	for _, fd := range m.scopes {
		if string(fd.Name()) == field {
			return true
		}
	}
	return false
}

// EtagField returns the model's string field named etag (AIP-154), or nil.
func (m *Model) EtagField() protoreflect.FieldDescriptor { return m.etag }

// ChildPrefixes returns the prefixes of the names of parent's children:
// "shelves/1/books/" for parent "shelves/1" under the pattern
// "shelves/{shelf}/books/{book}". A record whose name starts with one has
// that parent, since a resource id is one segment; SQL stores filter on
// the parent with a range of the key, which its primary key index serves.
func (m *Model) ChildPrefixes(parent string) []string {
	var out []string
	for _, p := range m.patterns {
		pp, last := parentPattern(p)
		if pp != "" && resourcename.Match(pp, parent) {
			if prefix := parent + "/" + last + "/"; !slices.Contains(out, prefix) {
				out = append(out, prefix)
			}
		}
	}
	return out
}
