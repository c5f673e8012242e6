package schemas

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"slices"

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

// FieldOrder returns the property names of the object at path in a
// collection's schema ("" the record, "checklist" a nested object) in the
// order the schema file declares them, which forms follow; nil when there
// is no such object.
func (r *Registry) FieldOrder(collection, path string) []string {
	if c, ok := r.collections[collection]; ok {
		return slices.Clone(c.order[path])
	}
	return nil
}

// propertyOrder reads the key order of every "properties" object of a
// schema file (encoding/json maps lose it), keyed by the dotted path of
// the object they describe. A file that does not parse gives nil; load
// has already refused it.
func propertyOrder(raw []byte) map[string][]string {
	out := map[string][]string{}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := walkOrder(dec, "", false, out); err != nil {
		return nil
	}
	return out
}

// walkOrder consumes one JSON value. at is the dotted path of the schema
// object being read; inProps is true when the value is a "properties"
// object, whose keys are field names.
func walkOrder(dec *json.Decoder, at string, inProps bool, out map[string][]string) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch tok {
	case json.Delim('{'):
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return err
			}
			key, _ := kt.(string)
			switch {
			case inProps:
				out[at] = append(out[at], key)
				next := key
				if at != "" {
					next = at + "." + key
				}
				if err := walkOrder(dec, next, false, out); err != nil {
					return err
				}
			case key == "properties":
				if err := walkOrder(dec, at, true, out); err != nil {
					return err
				}
			default:
				// Nested schemas under other keywords (items, $defs...)
				// describe no field of the record.
				if err := walkOrder(dec, "\x00", false, map[string][]string{}); err != nil {
					return err
				}
			}
		}
		_, err = dec.Token()
		return err
	case json.Delim('['):
		for dec.More() {
			if err := walkOrder(dec, "\x00", false, map[string][]string{}); err != nil {
				return err
			}
		}
		_, err = dec.Token()
		return err
	}
	return nil
}
