package gen

import (
	"errors"

	"google.golang.org/protobuf/compiler/protogen"
)

// generateTS writes the TypeScript output (lang=ts) from the bound schema.
// It is a placeholder until the TypeScript generator lands.
func generateTS(plugin *protogen.Plugin, schema *Schema, params *Params) error {
	return errors.New("protoc-gen-ssot-ws: lang=ts is not implemented yet; use lang=go")
}
