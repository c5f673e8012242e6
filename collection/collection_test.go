package collection_test

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/ruhu-dev/ruhu/collection"
)

// TestAllMatchesSchemas: the constants are exactly the collections that
// have a schema, so a new schema needs its constant here.
func TestAllMatchesSchemas(t *testing.T) {
	entries, err := os.ReadDir("../schemas/json")
	if err != nil {
		t.Fatal(err)
	}
	var schemas []string
	for _, e := range entries {
		if name, ok := strings.CutSuffix(e.Name(), ".v1.json"); ok && !e.IsDir() {
			schemas = append(schemas, name)
		}
	}
	slices.Sort(schemas)
	all := collection.All()
	if !slices.IsSorted(all) {
		t.Errorf("All() is not in name order: %v", all)
	}
	if !slices.Equal(all, schemas) {
		t.Errorf("constants %v, schemas %v", all, schemas)
	}
}
