package pgstore_test

import (
	"encoding/json"
	"testing"

	"github.com/ruhu-dev/ruhu/server/core"
	"github.com/ruhu-dev/ruhu/syncengine"
)

// TestChangedReadRunsAgain: a write transaction reads without the
// sequencer and checks its reads under it at commit. When another writer
// changed the record it merged into meanwhile, it runs again on the new
// state, so neither writer's field is lost.
func TestChangedReadRunsAgain(t *testing.T) {
	s := open(t).Core()
	if err := s.Update(func(tx core.Tx) error {
		_, err := syncengine.Apply(tx, op("op-0", "h1"), syncengine.MergePolicy{}, t0)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	edit := func(id, field string) *syncengine.Op {
		o := op(id, "h1")
		o.Set = map[string]json.RawMessage{field: json.RawMessage(`"x"`)}
		return o
	}
	read, release, done := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	runs := 0
	go func() {
		done <- s.Update(func(tx core.Tx) error {
			runs++
			if _, err := syncengine.Apply(tx, edit("op-slow", "head_name"), syncengine.MergePolicy{}, t0); err != nil {
				return err
			}
			if runs == 1 {
				close(read)
				<-release
			}
			return nil
		})
	}()
	<-read
	if err := s.Update(func(tx core.Tx) error {
		_, err := syncengine.Apply(tx, edit("op-quick", "phone"), syncengine.MergePolicy{}, t0)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if runs != 2 {
		t.Errorf("the slow writer ran %d times, want 2 (once more on the changed record)", runs)
	}
	err := s.View(func(tx core.Tx) error {
		r, err := tx.Record("households", "h1")
		if err != nil {
			return err
		}
		if v := r.Values(); string(v["head_name"]) != `"x"` || string(v["phone"]) != `"x"` {
			t.Errorf("record holds head_name %s, phone %s: a lost update", v["head_name"], v["phone"])
		}
		h, err := tx.History("households", "h1")
		if len(h) != 3 {
			t.Errorf("history holds %d ops, want 3", len(h))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
