package gen

import (
	"strconv"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// esName is what protoc-gen-es v2 names a message, enum or service in
// its _pb.ts: shape is the type ("Message"), desc the descriptor constant
// ("MessageSchema", or the service's own name).
type esName struct {
	shape, desc string
}

// esNameCache holds esNames of each file it was asked about: esNames walks
// a whole file, so calling it for each model would make generation
// quadratic in the number of types of a file.
type esNameCache map[protoreflect.FileDescriptor]map[protoreflect.FullName]esName

// of returns protoc-gen-es's names of d (a message, enum or service).
func (c esNameCache) of(d protoreflect.Descriptor) esName {
	f := d.ParentFile()
	names, ok := c[f]
	if !ok {
		names = esNames(f)
		c[f] = names
	}
	return names[d.FullName()]
}

// esNames computes protoc-gen-es's names for the types of file f, with its
// clash resolution: shapes first, then descriptors, in the order of
// protobuf-es's nestedTypes, each taking the first of name, name$,
// name$1… that is free.
func esNames(f protoreflect.FileDescriptor) map[protoreflect.FullName]esName {
	var types []protoreflect.Descriptor
	var walk func(ms protoreflect.MessageDescriptors)
	walk = func(ms protoreflect.MessageDescriptors) {
		for i := 0; i < ms.Len(); i++ {
			m := ms.Get(i)
			if m.IsMapEntry() {
				continue
			}
			types = append(types, m)
			walk(m.Messages())
			for j := 0; j < m.Enums().Len(); j++ {
				types = append(types, m.Enums().Get(j))
			}
			for j := 0; j < m.Extensions().Len(); j++ {
				types = append(types, m.Extensions().Get(j))
			}
		}
	}
	walk(f.Messages())
	for i := 0; i < f.Enums().Len(); i++ {
		types = append(types, f.Enums().Get(i))
	}
	for i := 0; i < f.Services().Len(); i++ {
		types = append(types, f.Services().Get(i))
	}
	for i := 0; i < f.Extensions().Len(); i++ {
		types = append(types, f.Extensions().Get(i))
	}

	pkg := string(f.Package())
	ident := func(d protoreflect.Descriptor) string {
		name := string(d.FullName())
		if pkg != "" {
			name = strings.TrimPrefix(name, pkg+".")
		}
		return strings.ReplaceAll(name, ".", "_")
	}
	taken := make(map[string]bool)
	pick := func(base string) string {
		for i := 0; ; i++ {
			salt := ""
			switch {
			case i == 1:
				salt = "$"
			case i > 1:
				salt = "$" + strconv.Itoa(i-1)
			}
			if name := safeIdentifier(base + salt); !taken[name] {
				taken[name] = true
				return name
			}
		}
	}
	out := make(map[protoreflect.FullName]esName)
	for _, d := range types {
		switch d.(type) {
		case protoreflect.MessageDescriptor, protoreflect.EnumDescriptor:
			out[d.FullName()] = esName{shape: pick(ident(d))}
		}
	}
	// The file's own descriptor constant comes first among descriptors.
	pick("file_" + fileIdent(f.Path()))
	for _, d := range types {
		n := out[d.FullName()]
		switch d.(type) {
		case protoreflect.MessageDescriptor, protoreflect.EnumDescriptor:
			n.desc = pick(ident(d) + "Schema")
		default:
			n.desc = pick(ident(d))
		}
		out[d.FullName()] = n
	}
	return out
}

// fileIdent replaces runs of characters other than letters, digits and _
// with _, as protoc-gen-es names a file's descriptor constant.
func fileIdent(p string) string {
	var b strings.Builder
	run := false
	for _, c := range p {
		if c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			b.WriteRune(c)
			run = false
			continue
		}
		if !run {
			b.WriteByte('_')
		}
		run = true
	}
	return b.String()
}
