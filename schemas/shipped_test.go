package schemas

import (
	"io/fs"
	"testing"
)

// eachShippedSchema calls fn with every embedded schema file (collections
// of every version and shared definitions), parsed as the registry reads
// it.
func eachShippedSchema(tb testing.TB, fn func(path string, doc map[string]any)) {
	tb.Helper()
	err := fs.WalkDir(shipped, "json", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		_, doc, err := readSchema(shipped, path)
		if err != nil {
			return err
		}
		fn(path, doc)
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
}

// Every array and string in the shipped schemas must be bounded, so the
// cost of validating one op is bounded too.
func TestShippedSchemasBoundEveryArrayAndString(t *testing.T) {
	eachShippedSchema(t, func(path string, doc map[string]any) {
		var walk func(v any, at string)
		walk = func(v any, at string) {
			switch v := v.(type) {
			case map[string]any:
				switch v["type"] {
				case "array":
					if _, ok := v["maxItems"]; !ok {
						t.Errorf("%s %s: array without maxItems", path, at)
					}
				case "string":
					_, hasMax := v["maxLength"]
					_, hasPattern := v["pattern"]
					_, hasFormat := v["format"]
					if !hasMax && !hasPattern && !hasFormat {
						t.Errorf("%s %s: string without maxLength, pattern or format", path, at)
					}
				}
				for k, sub := range v {
					if k != "enum" {
						walk(sub, at+"/"+k)
					}
				}
			case []any:
				for _, sub := range v {
					walk(sub, at+"[]")
				}
			}
		}
		walk(doc, "")
	})
}
