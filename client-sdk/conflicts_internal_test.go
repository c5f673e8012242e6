package client

import (
	"slices"
	"testing"
	"time"
)

func TestSortConflictsOpenFirstNewestFirst(t *testing.T) {
	at := func(min int) time.Time { return time.Date(2026, 11, 3, 9, min, 0, 0, time.UTC) }
	cfs := []Conflict{
		{ID: "r-old", Status: "resolved", OpenedAt: at(1)},
		{ID: "o-old", Status: "open", OpenedAt: at(2)},
		{ID: "r-new", Status: "resolved", OpenedAt: at(9)},
		{ID: "o-new", Status: "open", OpenedAt: at(5)},
	}
	sortConflicts(cfs)
	var got []string
	for _, c := range cfs {
		got = append(got, c.ID)
	}
	if want := []string{"o-new", "o-old", "r-new", "r-old"}; !slices.Equal(got, want) {
		t.Fatalf("order %v, want %v", got, want)
	}
}
