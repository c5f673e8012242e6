package schemas

import (
	"io/fs"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Load compiles schema files laid out as the shipped ones
// (json/<collection>.v<N>.json and json/defs/), for a jurisdiction's own
// schemas or a test schema with one more field. The same checks as New
// apply.
func Load(fsys fs.FS) (*Registry, error) {
	return load(fsys)
}

// Shipped returns the embedded schema files (json/...), read-only, so a
// tool can lay its own files over them and Load the result.
func Shipped() fs.FS { return shipped }

// Schema returns the compiled whole-record schema of a collection, nil for
// an unknown one. Forms are generated from it (field titles, help, enums,
// bounds), so a field added to a schema appears without UI code. The
// schema is shared: callers must only read it.
func (r *Registry) Schema(collection string) *jsonschema.Schema {
	if c, ok := r.collections[collection]; ok {
		return c.root
	}
	return nil
}
