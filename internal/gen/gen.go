// Package gen is protoc-gen-ssot-ws: it binds the models declared with the
// ssot.ws.v1 options to the standard methods of their services (see
// [Bind]) and writes the Go or TypeScript code that serves them. The
// binary in cmd/protoc-gen-ssot-ws only parses flags and calls [Generate];
// tests run it in-process.
package gen

import (
	"google.golang.org/protobuf/compiler/protogen"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/pluginpb"
)

// feature is one part of the Go output for a file. The Go output is the
// features below, in this order: an explicit list, not a registry.
type feature func(g *protogen.GeneratedFile, f *File, p *Params)

var goFeatures = []feature{
	genModels,
	genChannels,
	genPresence,
	genRegisterChannels,
	genServices,
	genClients,
}

// Generate writes the output selected by params.Lang for every file of
// plugin that declares a model or hosts a bound standard method.
func Generate(plugin *protogen.Plugin, params *Params) error {
	plugin.SupportedFeatures = uint64(pluginpb.CodeGeneratorResponse_FEATURE_PROTO3_OPTIONAL) |
		uint64(pluginpb.CodeGeneratorResponse_FEATURE_SUPPORTS_EDITIONS)
	plugin.SupportedEditionsMinimum = descriptorpb.Edition_EDITION_PROTO2
	plugin.SupportedEditionsMaximum = descriptorpb.Edition_EDITION_2024
	schema, err := Bind(plugin, params)
	if err != nil {
		return err
	}
	switch params.Lang {
	case LangTS:
		return generateTS(plugin, schema, params)
	default:
		for _, f := range schema.Files {
			if len(f.Models) == 0 && len(f.Services) == 0 {
				continue
			}
			generateGo(plugin, f, params)
		}
		return nil
	}
}
