package schemas

import (
	"encoding/json"
	"io/fs"
	"testing"
)

// Every array and string in the shipped schemas must be bounded, so the
// cost of validating one op is bounded too.
func TestShippedSchemasBoundEveryArrayAndString(t *testing.T) {
	err := fs.WalkDir(shipped, "json", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		raw, err := shipped.ReadFile(path)
		if err != nil {
			return err
		}
		var doc any
		if err := json.Unmarshal(raw, &doc); err != nil {
			return err
		}
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
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
