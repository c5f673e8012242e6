package schemas

import (
	"fmt"
	"maps"
	"strings"
)

// sharedDefs holds the "$defs" of the shared definition files, keyed by the
// file's path relative to json/ (e.g. "defs/common.v1.json").
type sharedDefs map[string]map[string]any

// annotationKeywords may sit beside a "$ref" and override the definition's
// own: they change no validation result.
var annotationKeywords = map[string]bool{
	"description": true, "title": true, "$comment": true, "examples": true,
	"default": true, "deprecated": true, "readOnly": true, "writeOnly": true,
}

// inline returns a copy of a schema document in which every "$ref" into a
// shared definition file is replaced by the definition itself.
//
// Why: the validator runs a nested validation (scope, bookkeeping
// allocations) for every $ref it follows, and almost every field of every
// collection is a $ref to a shared definition. Inlining them at New halves
// the cost of validating a visit without changing what is accepted; the
// files on disk stay free of repetition. A $ref whose siblings would change
// validation is refused rather than merged, since merging would not be
// equivalent to JSON Schema's "apply both".
func (d sharedDefs) inline(node any, file string, depth int) (any, error) {
	if depth > 32 {
		return nil, fmt.Errorf("$ref nesting deeper than 32 in %s", file)
	}
	switch n := node.(type) {
	case map[string]any:
		out := make(map[string]any, len(n))
		for k, v := range n {
			if k == "$ref" {
				continue
			}
			// Keywords whose values are not schemas hold data that must not
			// be rewritten (an "enum" could contain an object with "$ref").
			if k == "enum" || k == "const" || k == "examples" || k == "default" {
				out[k] = v
				continue
			}
			iv, err := d.inline(v, file, depth+1)
			if err != nil {
				return nil, err
			}
			out[k] = iv
		}
		ref, ok := n["$ref"].(string)
		if !ok {
			if _, has := n["$ref"]; has {
				out["$ref"] = n["$ref"]
			}
			return out, nil
		}
		target, targetFile, found := d.resolve(ref, file)
		if !found {
			out["$ref"] = ref // not a shared definition: left to the compiler
			return out, nil
		}
		inlined, err := d.inline(target, targetFile, depth+1)
		if err != nil {
			return nil, err
		}
		merged := maps.Clone(inlined.(map[string]any))
		for k, v := range out {
			if _, clash := merged[k]; clash && !annotationKeywords[k] {
				return nil, fmt.Errorf("%s: keyword %q beside $ref %q also set by the definition", file, k, ref)
			}
			merged[k] = v
		}
		return merged, nil
	case []any:
		out := make([]any, len(n))
		for i, v := range n {
			iv, err := d.inline(v, file, depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = iv
		}
		return out, nil
	default:
		return node, nil
	}
}

// resolve finds the definition a $ref names: "defs/common.v1.json#/$defs/x"
// from a collection file, or "#/$defs/x" inside a shared definition file.
func (d sharedDefs) resolve(ref, from string) (any, string, bool) {
	target, pointer, ok := strings.Cut(ref, "#")
	if !ok {
		return nil, "", false
	}
	if target == "" {
		target = from
	}
	name, ok := strings.CutPrefix(pointer, "/$defs/")
	if !ok || strings.Contains(name, "/") {
		return nil, "", false
	}
	defs, ok := d[target]
	if !ok {
		return nil, "", false
	}
	def, ok := defs[name].(map[string]any)
	if !ok {
		return nil, "", false
	}
	return def, target, true
}
