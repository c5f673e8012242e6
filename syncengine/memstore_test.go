package syncengine_test

import (
	"encoding/json"
	"fmt"
	"sort"

	"github.com/ruhu-dev/ruhu/syncengine"
)

// memStore is an in-memory syncengine.Tx for tests: maps for records, ops and
// conflicts. It copies what it stores and what it returns, as a real store
// does (bbolt values die with their transaction), so a test cannot pass only
// because Apply and the store share pointers.
type memStore struct {
	records   map[string]*syncengine.Record   // by "collection/id"
	ops       map[string]*syncengine.Op       // by op id
	history   []string                        // op ids in the order AddOp saw them
	conflicts map[string]*syncengine.Conflict // by conflict id
	puts      int                             // PutRecord calls
}

var _ syncengine.Tx = (*memStore)(nil)

func newMemStore() *memStore {
	return &memStore{
		records:   map[string]*syncengine.Record{},
		ops:       map[string]*syncengine.Op{},
		conflicts: map[string]*syncengine.Conflict{},
	}
}

func (s *memStore) OpApplied(id string) (bool, error) {
	_, ok := s.ops[id]
	return ok, nil
}

func (s *memStore) Record(collection, id string) (*syncengine.Record, error) {
	r, ok := s.records[collection+"/"+id]
	if !ok {
		return nil, nil
	}
	return r.Clone(), nil
}

func (s *memStore) PutRecord(rec *syncengine.Record, op *syncengine.Op) error {
	if rec.Key() != op.Key() {
		return fmt.Errorf("put record %s for op %s on %s", rec.Key(), op.ID, op.Key())
	}
	s.records[rec.Key()] = rec.Clone()
	s.puts++
	return nil
}

func (s *memStore) AddOp(op *syncengine.Op) error {
	if _, dup := s.ops[op.ID]; dup {
		return fmt.Errorf("add op %s: already in history", op.ID)
	}
	s.ops[op.ID] = cloneOp(op)
	s.history = append(s.history, op.ID)
	return nil
}

func (s *memStore) OpenConflict(collection, id, field string) (*syncengine.Conflict, error) {
	var found *syncengine.Conflict
	for _, c := range s.conflicts {
		if c.Collection == collection && c.RecordID == id && c.Field == field && c.Status == syncengine.ConflictOpen {
			if found != nil {
				return nil, fmt.Errorf("two open conflicts on %s/%s.%s: %s and %s", collection, id, field, found.ID, c.ID)
			}
			found = c
		}
	}
	if found == nil {
		return nil, nil
	}
	return cloneConflict(found), nil
}

func (s *memStore) PutConflict(c *syncengine.Conflict) error {
	s.conflicts[c.ID] = cloneConflict(c)
	return nil
}

// conflictsOn returns the conflicts (open or not) on one record field.
func (s *memStore) conflictsOn(collection, id, field string) []*syncengine.Conflict {
	var out []*syncengine.Conflict
	for _, c := range s.conflicts {
		if c.Collection == collection && c.RecordID == id && c.Field == field {
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// historyOps returns every accepted op in arrival order.
func (s *memStore) historyOps() []*syncengine.Op {
	out := make([]*syncengine.Op, len(s.history))
	for i, id := range s.history {
		out[i] = cloneOp(s.ops[id])
	}
	return out
}

func cloneOp(op *syncengine.Op) *syncengine.Op {
	c := *op
	if op.Set != nil {
		c.Set = make(map[string]json.RawMessage, len(op.Set))
		for k, v := range op.Set {
			c.Set[k] = append(json.RawMessage(nil), v...)
		}
	}
	if op.Base != nil {
		c.Base = make(map[string]string, len(op.Base))
		for k, v := range op.Base {
			c.Base[k] = v
		}
	}
	if op.Tombstone != nil {
		t := *op.Tombstone
		c.Tombstone = &t
	}
	c.Flags = append([]string(nil), op.Flags...)
	return &c
}

func cloneConflict(c *syncengine.Conflict) *syncengine.Conflict {
	out := *c
	out.Candidates = append([]syncengine.FieldState(nil), c.Candidates...)
	if c.Resolution != nil {
		r := *c.Resolution
		out.Resolution = &r
	}
	return &out
}
