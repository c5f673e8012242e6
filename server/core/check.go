package core

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/ruhu-dev/ruhu/syncengine"
)

// Check reads the whole store and reports whether its records, history
// and change feed agree: every record is in the change feed exactly once,
// under its own area and at a sequence the store has reached; every
// change names a stored record; every record has a history, and every
// field's value comes from an op of that history; and what the store's
// own StoreChecker finds. It returns nil or an error listing the first
// disagreements. Test harnesses run it when they close a store; it costs
// a full read, so servers do not.
func (c *Core) Check(ctx context.Context) error {
	var problems []string
	bad := func(format string, args ...any) {
		if len(problems) < 20 {
			problems = append(problems, fmt.Sprintf(format, args...))
		}
	}
	err := c.store.View(func(tx Tx) error {
		inFeed := map[string]string{} // col/id -> area
		cols := map[string]bool{}
		last := tx.LastSeq()
		_, err := tx.ChangesAfter(0, func(seq uint64, area string, raw []byte) bool {
			var head struct {
				ID         string `json:"id"`
				Collection string `json:"col"`
				Area       string `json:"area"`
			}
			if err := json.Unmarshal(raw, &head); err != nil {
				bad("change %d: undecodable record: %v", seq, err)
				return true
			}
			key := head.Collection + "/" + head.ID
			if _, dup := inFeed[key]; dup {
				bad("record %s is in the change feed twice (again at %d)", key, seq)
			}
			if area != head.Area {
				bad("change %d files %s under area %s, the record says %s", seq, key, area, head.Area)
			}
			if seq > last {
				bad("change %d of %s is past the last sequence %d", seq, key, last)
			}
			inFeed[key], cols[head.Collection] = head.Area, true
			return true
		})
		if err != nil {
			return err
		}
		if lister, ok := c.schemas.(interface{ Collections() []string }); ok {
			for _, col := range lister.Collections() {
				cols[col] = true
			}
		}
		stored := 0
		for _, col := range sortedKeys(cols) {
			err := tx.ForEachRecord(col, func(r *syncengine.Record) error {
				stored++
				key := col + "/" + r.ID
				area, ok := inFeed[key]
				switch {
				case !ok:
					bad("record %s is missing from the change feed", key)
				case area != r.Area:
					bad("record %s is in area %s, its change in %s", key, r.Area, area)
				}
				hist, err := tx.History(col, r.ID)
				if err != nil {
					return err
				}
				if len(hist) == 0 {
					bad("record %s has no history", key)
				}
				ops := make(map[string]bool, len(hist))
				for _, op := range hist {
					ops[op.ID] = true
					if op.Collection != col || op.RecordID != r.ID {
						bad("history of %s holds op %s of %s/%s", key, op.ID, op.Collection, op.RecordID)
					}
				}
				for _, name := range sortedKeys(r.Fields) {
					if id := r.Fields[name].OpID; !ops[id] {
						bad("field %s of %s comes from op %s, which is not in its history", name, key, id)
					}
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		if stored != len(inFeed) {
			bad("the change feed lists %d records, %d are stored", len(inFeed), stored)
		}
		if sc, ok := tx.(StoreChecker); ok {
			found, err := sc.CheckStore()
			if err != nil {
				return err
			}
			for _, p := range found {
				bad("%s", p)
			}
		}
		return nil
	})
	if err != nil {
		return c.storeErr(ctx, "check", err)
	}
	if len(problems) > 0 {
		return fmt.Errorf("store check: %s", strings.Join(problems, "; "))
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
