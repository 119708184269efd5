package gen

import (
	"go/token"
	"path"
	"strings"

	"google.golang.org/protobuf/compiler/protogen"
)

// Every identifier the Go output declares or references is built here, so
// that names stay consistent between the generator, the clash check and
// the tests.

// Import paths of the packages the generated Go code uses.
const (
	contextPackage = protogen.GoImportPath("context")
	connectPackage = protogen.GoImportPath("connectrpc.com/connect")
	// connectV2Package replaces connectPackage under connect=v2
	// ([Params.rewriteImport]); connectv2Package adapts the runtime to it.
	connectV2Package = protogen.GoImportPath("connectrpc.com/connect/v2")
	connectv2Package = protogen.GoImportPath("github.com/ssot-codegen/ssot-ws/ssotws/connectv2")
	ssotwsPackage    = protogen.GoImportPath("github.com/ssot-codegen/ssot-ws/ssotws")
	wsv1Package      = protogen.GoImportPath("github.com/ssot-codegen/ssot-ws/ssotws/wsv1")

	// handshakeConst is the runtime constant the generated code references,
	// so that a runtime older than the generator fails at build time.
	handshakeConst = "IsAtLeastVersion0_2_0"

	generatedFilenameExtension = ".ssotws.go"
	registerChannelsName       = "RegisterChannels"
)

// liveSuffixes are the name endings that make a model live under
// realtime=auto when its option leaves realtime unset. docs/decisions.md
// explains the choice.
var liveSuffixes = []string{
	"Message", "Notification", "Event", "Comment", "Reaction",
	"Presence", "Activity", "Alert",
}

// liveSuffix returns the suffix of liveSuffixes that name ends in, or "".
func liveSuffix(name string) string {
	for _, s := range liveSuffixes {
		if strings.HasSuffix(name, s) {
			return s
		}
	}
	return ""
}

// modelNames are the Go identifiers generated for one model.
type modelNames struct {
	// Var is the *ssotws.Model variable ("MessageModel").
	Var string
	// Channels is the channel constructor variable ("MessageChannels") and
	// ChannelsType its type ("MessageChannelNames").
	Channels     string
	ChannelsType string
	// Field is the service struct field holding the model's resource
	// ("Messages").
	Field string
}

// clientNames are the Go identifiers of the client code generated for one
// model served by one service.
type clientNames struct {
	// HTTP is the adapter type over the service's connect-go client
	// ("MessageHTTP"), NewHTTP its constructor ("NewMessageHTTP") and
	// NewClient the typed client constructor ("NewMessageClient"). When
	// several services of the Go package serve the model (a read/write
	// split, say), each is named after its service too:
	// "MessageHTTPForMessageReadService",
	// "NewMessageClientForMessageReadService".
	HTTP      string
	NewHTTP   string
	NewClient string
}

func newClientNames(m *Model, s *Service, shared bool) clientNames {
	base := m.Message.GoIdent.GoName
	n := clientNames{HTTP: base + "HTTP", NewClient: "New" + base + "Client"}
	if shared {
		n.HTTP += "For" + s.Proto.GoName
		n.NewClient += "For" + s.Proto.GoName
	}
	n.NewHTTP = "New" + n.HTTP
	return n
}

func newModelNames(m *Model) modelNames {
	base := m.Message.GoIdent.GoName
	return modelNames{
		Var:          base + "Model",
		Channels:     base + "Channels",
		ChannelsType: base + "ChannelNames",
		Field:        plural(base),
	}
}

// serviceNames are the Go identifiers generated for, or referenced by, one
// service.
type serviceNames struct {
	// Struct is the generated implementation ("ChatService") and
	// Constructor its constructor ("NewChatService").
	Struct      string
	Constructor string
	// Handler and Unimplemented are protoc-gen-connect-go's handler
	// interface and its Unimplemented implementation.
	Handler       protogen.GoIdent
	Unimplemented protogen.GoIdent
}

func newServiceNames(s *protogen.Service, file *protogen.File, connectSuffix string) serviceNames {
	connect := subPackage(file, connectSuffix)
	return serviceNames{
		Struct:        s.GoName,
		Constructor:   "New" + s.GoName,
		Handler:       connect.Ident(s.GoName + "Handler"),
		Unimplemented: connect.Ident("Unimplemented" + s.GoName + "Handler"),
	}
}

// subPackage is the import path of the sub-package protoc-gen-connect-go
// (or this plugin) writes for file with suffix: "<go import path>/<go
// package name><suffix>". An empty suffix is the file's own package.
func subPackage(file *protogen.File, suffix string) protogen.GoImportPath {
	if suffix == "" {
		return file.GoImportPath
	}
	return protogen.GoImportPath(path.Join(string(file.GoImportPath), string(file.GoPackageName)+suffix))
}

// outputFile returns the generated file's name and package name, placed
// as protoc-gen-connect-go places its output.
func outputFile(file *protogen.File, suffix string) (filename string, pkg protogen.GoPackageName) {
	prefix := file.GeneratedFilenamePrefix
	pkg = file.GoPackageName
	if suffix != "" {
		pkg += protogen.GoPackageName(suffix)
		prefix = path.Join(path.Dir(prefix), string(pkg), path.Base(prefix))
	}
	return prefix + generatedFilenameExtension, pkg
}

// scopeMethod names a scope's channel constructor: the field name without
// an _id suffix, in CamelCase ("room_id" → "Room").
func scopeMethod(field string) string {
	if s := strings.TrimSuffix(field, "_id"); s != "" {
		field = s
	}
	return camel(field)
}

// camel turns a snake_case name into CamelCase.
func camel(s string) string {
	var b strings.Builder
	for _, part := range strings.Split(s, "_") {
		if part == "" {
			continue
		}
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
}

// paramName turns a field name into a keyword-safe Go parameter name with
// Go's initialisms ("room_id" → "roomID").
func paramName(field string) string {
	parts := strings.Split(field, "_")
	var b strings.Builder
	for _, part := range parts {
		if part == "" {
			continue
		}
		switch {
		case b.Len() == 0:
			b.WriteString(strings.ToLower(part[:1]) + part[1:])
		case part == "id" || part == "url" || part == "uri":
			b.WriteString(strings.ToUpper(part))
		default:
			b.WriteString(strings.ToUpper(part[:1]) + part[1:])
		}
	}
	name := b.String()
	if name == "" || token.IsKeyword(name) || name == "ssotws" {
		name += "_"
	}
	return name
}

// snake turns a message name into a field name ("ChatMessage" →
// "chat_message"), as AIP names request fields after the resource.
func snake(s string) string {
	var b strings.Builder
	for i, c := range s {
		if c >= 'A' && c <= 'Z' {
			if i > 0 {
				b.WriteByte('_')
			}
			c += 'a' - 'A'
		}
		b.WriteRune(c)
	}
	return b.String()
}

// plural returns the English plural of a CamelCase name, as AIP-132 names
// List methods ("Shelf" → "Shelves", "Category" → "Categories").
func plural(s string) string {
	switch {
	case strings.HasSuffix(s, "lf"):
		return s[:len(s)-1] + "ves"
	case strings.HasSuffix(s, "y") && len(s) > 1 && !strings.ContainsRune("aeiou", rune(s[len(s)-2])):
		return s[:len(s)-1] + "ies"
	case strings.HasSuffix(s, "s"), strings.HasSuffix(s, "x"), strings.HasSuffix(s, "z"),
		strings.HasSuffix(s, "ch"), strings.HasSuffix(s, "sh"):
		return s + "es"
	}
	return s + "s"
}
