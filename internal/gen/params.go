package gen

import (
	"fmt"
	"go/token"
	"sort"
	"strings"
)

// RealtimeMode is the realtime= plugin parameter.
type RealtimeMode string

// The realtime modes.
const (
	// RealtimeAuto: models that set realtime: true, plus models that leave
	// it unset and whose name says they are live (see [liveSuffixes]).
	RealtimeAuto RealtimeMode = "auto"
	// RealtimeOn: every model is realtime unless it sets realtime: false.
	RealtimeOn RealtimeMode = "on"
	// RealtimeOff: no model is realtime; the output is HTTP only.
	RealtimeOff RealtimeMode = "off"
)

// Lang is the lang= plugin parameter.
type Lang string

// The output languages.
const (
	LangGo Lang = "go"
	LangTS Lang = "ts"
)

// TSRuntime is the runtime= plugin parameter: where the code lang=ts
// writes finds the TypeScript runtime.
type TSRuntime string

// The TypeScript runtime modes.
const (
	// TSRuntimePackage: generated code imports the npm package
	// @ssot-ws/runtime (the default, as protoc-gen-es's code imports
	// @bufbuild/protobuf).
	TSRuntimePackage TSRuntime = "package"
	// TSRuntimeEmit: the plugin also writes a vendored copy of the runtime
	// under ssotws/ in the output, and generated code imports that.
	TSRuntimeEmit TSRuntime = "emit"
)

// BindingMode is the binding= plugin parameter.
type BindingMode string

// The binding modes.
const (
	// BindingLenient: a method whose name looks standard but whose shape
	// is not the standard method's is left to the user (the default).
	BindingLenient BindingMode = "lenient"
	// BindingStrict: such a method is an error, for teams that want every
	// standard-looking method of their own services served.
	BindingStrict BindingMode = "strict"
)

// ConnectVersion is the connect= plugin parameter: the major version of
// connect-go whose generated code (protoc-gen-connect-go's handler and
// client interfaces) the Go output implements and calls.
type ConnectVersion string

// The connect-go major versions.
const (
	// ConnectV1: connectrpc.com/connect, the default.
	ConnectV1 ConnectVersion = "v1"
	// ConnectV2: connectrpc.com/connect/v2, through the adapter package
	// ssotws/connectv2.
	ConnectV2 ConnectVersion = "v2"
)

// Params are the plugin parameters that protogen does not handle itself
// (it handles paths=, module=, annotate_code and M…). The zero value is not
// ready: use [NewParams].
type Params struct {
	// Lang selects the output: lang=go or lang=ts.
	Lang Lang
	// Realtime is realtime=auto|on|off.
	Realtime RealtimeMode
	// PackageSuffix names the Go sub-package of the output (package_suffix).
	PackageSuffix string
	// ConnectPackageSuffix names protoc-gen-connect-go's sub-package
	// (connect_package_suffix).
	ConnectPackageSuffix string
	// ImportExtension is the TypeScript import extension (import_extension):
	// none (the default, as protoc-gen-es v2), js or ts.
	ImportExtension string
	// TSRuntime is runtime=package|emit (lang=ts).
	TSRuntime TSRuntime
	// Binding is binding=lenient|strict.
	Binding BindingMode
	// Connect is connect=v1|v2.
	Connect ConnectVersion
}

// NewParams returns the defaults: lang=go, realtime=auto,
// package_suffix=ssotws, connect_package_suffix=connect, runtime=package,
// binding=lenient, connect=v1.
func NewParams() *Params {
	return &Params{
		Lang:                 LangGo,
		Realtime:             RealtimeAuto,
		PackageSuffix:        "ssotws",
		ConnectPackageSuffix: "connect",
		TSRuntime:            TSRuntimePackage,
		Binding:              BindingLenient,
		Connect:              ConnectV1,
	}
}

var paramNames = []string{"binding", "connect", "connect_package_suffix", "import_extension", "lang", "package_suffix", "realtime", "runtime"}

// Set sets one parameter. It is a protogen.Options.ParamFunc: unknown
// names and invalid values are errors.
func (p *Params) Set(name, value string) error {
	switch name {
	case "lang":
		switch Lang(value) {
		case LangGo, LangTS:
			p.Lang = Lang(value)
		default:
			return fmt.Errorf("parameter lang=%q: want go or ts", value)
		}
	case "connect":
		switch ConnectVersion(value) {
		case ConnectV1, ConnectV2:
			p.Connect = ConnectVersion(value)
		default:
			return fmt.Errorf("parameter connect=%q: want v1 (connectrpc.com/connect) or v2 (connectrpc.com/connect/v2)", value)
		}
	case "binding":
		switch BindingMode(value) {
		case BindingLenient, BindingStrict:
			p.Binding = BindingMode(value)
		default:
			return fmt.Errorf("parameter binding=%q: want lenient (leave methods that are not standard to you) or strict (report them)", value)
		}
	case "realtime":
		switch RealtimeMode(value) {
		case RealtimeAuto, RealtimeOn, RealtimeOff:
			p.Realtime = RealtimeMode(value)
		default:
			return fmt.Errorf("parameter realtime=%q: want auto, on or off", value)
		}
	case "package_suffix", "connect_package_suffix":
		if value != "" && !token.IsIdentifier(value) {
			return fmt.Errorf("parameter %s=%q: want a Go identifier, or empty for the same package", name, value)
		}
		if name == "package_suffix" {
			p.PackageSuffix = value
		} else {
			p.ConnectPackageSuffix = value
		}
	case "import_extension":
		switch value {
		case "", "none", "js", ".js", "ts", ".ts":
			p.ImportExtension = value
		default:
			return fmt.Errorf("parameter import_extension=%q: want none, js or ts, as protoc-gen-es", value)
		}
	case "runtime":
		switch TSRuntime(value) {
		case TSRuntimePackage, TSRuntimeEmit:
			p.TSRuntime = TSRuntime(value)
		default:
			return fmt.Errorf("parameter runtime=%q: want package (import @ssot-ws/runtime) or emit (write a copy of it)", value)
		}
	default:
		names := append([]string(nil), paramNames...)
		names = append(names, "M…", "module", "paths")
		sort.Strings(names)
		return fmt.Errorf("unknown parameter %q; known parameters: %s", name, strings.Join(names, ", "))
	}
	return nil
}
