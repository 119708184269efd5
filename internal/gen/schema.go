package gen

import (
	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
	"google.golang.org/protobuf/compiler/protogen"
)

// Schema is what binding found in a CodeGeneratorRequest: the models, the
// services that host their standard methods and how each method maps onto
// the runtime. It does not depend on any output language: the Go and the
// TypeScript generators both read it.
type Schema struct {
	// Files holds one entry per file to generate, in request order.
	Files []*File
	// Realtime is the realtime= parameter the schema was bound with.
	Realtime RealtimeMode
}

// File is one .proto file to generate.
type File struct {
	Proto *protogen.File
	// Models are the models declared in the file, in declaration order
	// (nested messages after their parent).
	Models []*Model
	// Services are the file's services that host at least one bound
	// standard method.
	Services []*Service
	// Package holds the files to generate whose Go output shares this
	// file's Go package (the file itself included), in path order: one
	// file per resource, as AIP and buf lay APIs out, puts several files
	// in one package, whose generated names must not clash.
	Package []*File
}

// FirstInPackage reports whether f comes first among the files of its Go
// package that have output: package-level declarations go there.
func (f *File) FirstInPackage() bool {
	for _, s := range f.Package {
		if len(s.Models) > 0 || len(s.Services) > 0 {
			return s == f
		}
	}
	return false
}

// PackageRealtime returns the realtime models of every file of f's Go
// package, in path and declaration order.
func (f *File) PackageRealtime() []*Model {
	var ms []*Model
	for _, s := range f.Package {
		for _, m := range s.Models {
			if m.Realtime {
				ms = append(ms, m)
			}
		}
	}
	return ms
}

// SharedModel reports whether more than one service of f's Go package
// serves m: their client adapters and constructors are then named after
// the service too.
func (f *File) SharedModel(m *Model) bool {
	n := 0
	for _, s := range f.Package {
		for _, svc := range s.Services {
			if containsModel(svc.Models, m) {
				n++
			}
		}
	}
	return n > 1
}

// HasRealtime reports whether any model of the file is realtime.
func (f *File) HasRealtime() bool {
	for _, m := range f.Models {
		if m.Realtime {
			return true
		}
	}
	return false
}

// Model is a message declared with the ssot.ws.v1.model option.
type Model struct {
	Message *protogen.Message
	// File is the file that declares the model.
	File *protogen.File
	// Key is the key field; Scopes the scope fields in option order; Owner
	// the owner field or nil; Version the field named version or nil.
	Key     *protogen.Field
	Scopes  []*Scope
	Owner   *protogen.Field
	Version *protogen.Field
	// Etag is the string field named etag (AIP-154), or nil.
	Etag *protogen.Field
	// Patterns are the google.api.resource patterns of an AIP resource,
	// whose key is then its resource name.
	Patterns []string
	// Filters are the other model fields (not the key, a scope or the
	// owner) its bound List methods filter on, in order of first
	// appearance: the SQL stores index them.
	Filters []*protogen.Field
	// Read and Write are the declared access levels, as written.
	Read, Write wsv1.Access
	// Realtime says whether the model publishes change events, and
	// RealtimeReason why.
	Realtime       bool
	RealtimeReason RealtimeReason
	// LiveSuffix is the name suffix that made the model live under
	// realtime=auto, if that is the reason.
	LiveSuffix string
	// Presence and Signal are the declared types of the presence payload
	// and of the signals on the model's channels (bindpresence.go), or
	// nil when they stay bytes.
	Presence, Signal *protogen.Message
}

// Name is the model's short proto name ("Message"), its channel prefix.
func (m *Model) Name() string { return string(m.Message.Desc.Name()) }

// FullName is the model's full proto name ("chat.v1.Message").
func (m *Model) FullName() string { return string(m.Message.Desc.FullName()) }

// Scope is one scope of a model: a field partitioning its list channels.
type Scope struct {
	Field *protogen.Field
	// Method is the name of its channel constructor ("Room" for room_id).
	Method string
	// Param is the constructor's parameter name ("roomID").
	Param string
}

// RealtimeReason says why a model is, or is not, realtime.
type RealtimeReason int

// The reasons a model is or is not realtime.
const (
	// ReasonOption: the model option sets realtime: true.
	ReasonOption RealtimeReason = iota + 1
	// ReasonParamOn: the plugin ran with realtime=on.
	ReasonParamOn
	// ReasonName: realtime is unset and realtime=auto matched the name.
	ReasonName
	// ReasonOptionOff: the model option sets realtime: false.
	ReasonOptionOff
	// ReasonParamOff: the plugin ran with realtime=off.
	ReasonParamOff
	// ReasonNameNotLive: realtime is unset and the name does not say live.
	ReasonNameNotLive
)

// Service is a service hosting the standard methods of one or more models.
type Service struct {
	Proto *protogen.Service
	// Models are the models the service serves, in the order of the
	// service option, then of first appearance among the methods.
	Models []*Model
	// Methods are the bound standard methods, in declaration order.
	Methods []*Method
	// Unbound are the methods whose names look standard but that were
	// left to the user, in declaration order, each with the reason.
	Unbound []*Unbound
}

// Unbound is a method left to the user although its name looks like a
// standard method's: its shape is not the standard method's (a
// long-running method, a second List, an Update without mask…), an option
// skips it, or the model its name matches is in another package.
type Unbound struct {
	Method *protogen.Method
	// Model and Standard are what the name says, when it names a model of
	// the service.
	Model    *Model
	Standard Standard
	// Reason says why the method was not bound, as a clause ("its method
	// option sets skip").
	Reason string
}

// HasRealtime reports whether any model the service serves is realtime.
func (s *Service) HasRealtime() bool {
	for _, m := range s.Models {
		if m.Realtime {
			return true
		}
	}
	return false
}

// Standard is an AIP standard method.
type Standard int

// The standard methods.
const (
	Get Standard = iota + 1
	List
	Create
	Update
	Delete
	// The batch methods (AIP-233, AIP-234, AIP-235); bind_batch.go.
	BatchCreate
	BatchUpdate
	BatchDelete
)

var standardNames = map[Standard]string{
	Get: "Get", List: "List", Create: "Create", Update: "Update", Delete: "Delete",
	BatchCreate: "BatchCreate", BatchUpdate: "BatchUpdate", BatchDelete: "BatchDelete",
}

// String returns the method's AIP verb: "Get", "List"…
func (s Standard) String() string { return standardNames[s] }

// ResponseShape says how a method's response carries the model.
type ResponseShape int

// The response shapes.
const (
	// ResponseModel: the response is the model itself (AIP style).
	ResponseModel ResponseShape = iota + 1
	// ResponseWrapper: the response wraps the model in Method.ResponseField
	// (buf lint STANDARD style).
	ResponseWrapper
	// ResponseEmpty: a Delete returns google.protobuf.Empty or a message
	// without fields.
	ResponseEmpty
	// ResponseList: a List response, Method.ResponseField repeated.
	ResponseList
	// ResponseBatch: a batch method's response, Method.ResponseField
	// repeated, one record per item.
	ResponseBatch
)

// Method is one standard method bound to a model.
type Method struct {
	Proto    *protogen.Method
	Model    *Model
	Standard Standard
	// Explicit is set when a method option bound the method.
	Explicit bool
	// byResponse is set when a List was bound by its response's repeated
	// model field rather than by its name.
	byResponse bool

	Response ResponseShape
	// ResponseField wraps the model (ResponseWrapper) or holds the page
	// (ResponseList).
	ResponseField *protogen.Field
	// NextPageToken is the List response's next_page_token field.
	NextPageToken *protogen.Field

	// KeyField is the Get or Delete request field holding the key.
	KeyField *protogen.Field
	// VersionField is the Delete request's optional version field.
	VersionField *protogen.Field
	// ModelField is the Create or Update request field holding the model.
	ModelField *protogen.Field
	// IDField is the Create request's optional <model>_id field: the key,
	// or for an AIP resource the resource id its name ends in.
	IDField *protogen.Field
	// ParentField is the Create request's parent field of an AIP resource,
	// ParentFilter the List request's.
	ParentField, ParentFilter *protogen.Field
	// EtagField is the Delete request's optional etag field (AIP-154).
	EtagField *protogen.Field
	// FilterField and OrderByField are the List request's AIP-160 filter
	// and AIP-132 order_by, if any.
	FilterField, OrderByField *protogen.Field
	// MaskField is the Update request's update_mask.
	MaskField *protogen.Field
	// Filters are the List request's equality filters.
	Filters []*Filter
	// PageSize and PageToken are the List request's paging fields, if any.
	PageSize, PageToken *protogen.Field

	// Requests is a batch request's repeated field of item requests
	// (BatchCreate, BatchUpdate, a BatchDelete of requests), and Item
	// the fields of one item request, as Create's, Update's or Delete's.
	Requests *protogen.Field
	Item     *Method
	// Keys is a BatchDelete request's repeated key field (names, ids).
	Keys *protogen.Field
}

// Filter is a List request field that filters on the model field of the
// same name.
type Filter struct {
	Request *protogen.Field
	Model   *protogen.Field
	// Optional is set for a proto3 optional request field: unset means no
	// filter, and a zero value filters on zero.
	Optional bool
}
