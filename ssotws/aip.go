package ssotws

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"go.einride.tech/aip/resourceid"
	"go.einride.tech/aip/resourcename"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// What [Resource] does for AIP resources: names built from the resource
// pattern (AIP-122, AIP-133), the parent as a scope (AIP-132) and etags
// (AIP-154). See docs/guide.md, "AIP resources".

// CreateIn is [Resource.Create] for an AIP resource (a model with resource
// patterns): the new record's name is built from parent and id, as
// "shelves/1/books/abc" for parent "shelves/1" and id "abc" under the
// pattern "shelves/{shelf}/books/{book}". An empty id gets a generated one;
// a given id must be a valid user-settable id (AIP-122). A parent that
// matches no pattern is InvalidArgument. When both parent and id are empty
// and msg carries a name that matches a pattern (a client that named the
// record itself, such as a DataClient's Create, which has no parent), that
// name is kept, its last segment checked as an id.
func (r *Resource[T]) CreateIn(ctx context.Context, in http.Header, msg T, parent, id string) (T, error) {
	var zero T
	if len(r.model.Patterns()) == 0 {
		return zero, invalidArgument("%s is not a resource with a name pattern", r.model.FullName())
	}
	idField := snake(r.model.Name()) + "_id"
	if parent == "" && id == "" && msg.ProtoReflect().IsValid() {
		if name := r.model.KeyOf(msg.ProtoReflect()); name != "" && r.matchesPattern(name) {
			parent, id = r.model.ParentOf(name), name[strings.LastIndexByte(name, '/')+1:]
			idField = snake(r.model.Name()) + "." + string(r.model.KeyField().Name())
		}
	}
	if id != "" {
		if err := resourceid.ValidateUserSettable(id); err != nil {
			return zero, invalidArgument("%s: resource id %q: %v", idField, id, err)
		}
	} else {
		id = newID()
	}
	name, err := r.model.ChildName(parent, id)
	if err != nil {
		return zero, invalidArgument("%v", err)
	}
	return r.create(ctx, in, msg, name)
}

func (r *Resource[T]) matchesPattern(name string) bool {
	for _, p := range r.model.Patterns() {
		if resourcename.Match(p, name) {
			return true
		}
	}
	return false
}

// checkParentFilter refuses a List by a parent that is no parent of the
// model's records: InvalidArgument naming the parents allowed.
func (r *Resource[T]) checkParentFilter(filters []Filter) error {
	for _, f := range filters {
		if f.Field == ParentScope && f.Value != "" && r.model.HasParent() {
			if err := r.model.CheckParent(f.Value); err != nil {
				return invalidArgument("%v", err)
			}
		}
	}
	return nil
}

// scopeOf returns the filter among filters that names the scope channel a
// List maps onto: the first declared scope filtered on, else the parent.
func (r *Resource[T]) scopeOf(filters []Filter) (Filter, bool) {
	for _, s := range r.model.ScopeFields() {
		for _, f := range filters {
			if f.Field == string(s.Name()) {
				return f, true
			}
		}
	}
	for _, f := range filters {
		if f.Field == ParentScope && r.model.HasParent() {
			return f, true
		}
	}
	return Filter{}, false
}

// FormatEtag is the etag (AIP-154) of a record at version: the version,
// quoted as RFC 7232 writes entity tags. Clients treat it as opaque.
func FormatEtag(version int64) string {
	return `"` + strconv.FormatInt(version, 10) + `"`
}

// ParseEtag reads an etag written by [FormatEtag], weak (W/"7") or not.
// ok is false for one it did not write.
func ParseEtag(etag string) (version int64, ok bool) {
	s := strings.TrimPrefix(etag, "W/")
	if len(s) < 3 || s[0] != '"' || s[len(s)-1] != '"' {
		return 0, false
	}
	v, err := strconv.ParseInt(s[1:len(s)-1], 10, 64)
	return v, err == nil && v > 0
}

// wantVersion returns the version an Update of src is conditional on: its
// version field, else its etag (AIP-154), else 0 (none).
func (r *Resource[T]) wantVersion(src protoreflect.Message) (int64, error) {
	if v := versionFrom(r.model.VersionField(), src); v != 0 {
		return v, nil
	}
	ef := r.model.EtagField()
	if ef == nil || src.Get(ef).String() == "" {
		return 0, nil
	}
	return etagVersion(r.model.KeyOf(src), src.Get(ef).String())
}

// etagVersion reads the version etag names. One that [FormatEtag] did not
// write matches no version: Aborted, as a stale one.
func etagVersion(key, etag string) (int64, error) {
	v, ok := ParseEtag(etag)
	if !ok {
		return 0, codeOf(fmt.Errorf("%w: etag %s of %q does not match its current etag", ErrVersionConflict, strconv.Quote(etag), key))
	}
	return v, nil
}

// DeleteIfEtag is [Resource.Delete] for a Delete request that carries an
// etag (AIP-154): a non-empty etag that does not match the record's
// current one fails with Aborted; an empty one deletes whatever the
// version.
func (r *Resource[T]) DeleteIfEtag(ctx context.Context, in http.Header, key, etag string) (T, error) {
	var zero T
	if etag == "" {
		return r.DeleteIfVersion(ctx, in, key, 0)
	}
	v, err := etagVersion(key, etag)
	if err != nil {
		return zero, err
	}
	return r.DeleteIfVersion(ctx, in, key, v)
}
