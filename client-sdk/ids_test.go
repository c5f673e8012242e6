package client_test

import (
	"encoding/base64"
	"sort"
	"testing"
	"time"
)

func encodeStd(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func TestNewIDIsUniqueSortableAndValid(t *testing.T) {
	f := newFakeServer(t)
	tb := newTablet(t, f, nil)
	seen := map[string]bool{}
	var ids []string
	for i := range 200 {
		if i%50 == 0 {
			tb.clock.Advance(time.Millisecond)
		}
		id := tb.NewID()
		if len(id) != 26 || seen[id] {
			t.Fatalf("id %q: length %d, duplicate %v", id, len(id), seen[id])
		}
		seen[id] = true
		ids = append(ids, id)
	}
	for i := 50; i < len(ids); i += 50 {
		if ids[i-1] >= ids[i] {
			t.Fatalf("id made a millisecond later sorts first: %s ≥ %s", ids[i-1], ids[i])
		}
	}
	if !sort.StringsAreSorted([]string{ids[0], ids[199]}) {
		t.Fatal("ids do not sort by time")
	}
}
