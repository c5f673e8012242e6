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

// TestEveryCollectionHasATitle: pages name collections in Chinese, so a
// new collection needs its title too.
func TestEveryCollectionHasATitle(t *testing.T) {
	for _, c := range collection.All() {
		if title := collection.Title(c); title == c || title == "" {
			t.Errorf("collection %s has no Chinese title", c)
		}
	}
	if got := collection.Title("no_such"); got != "no_such" {
		t.Errorf("Title of an unknown collection = %q", got)
	}
}
