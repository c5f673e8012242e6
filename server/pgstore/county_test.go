package pgstore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/ruhu-dev/ruhu/server/core"
	"github.com/ruhu-dev/ruhu/server/pgstore"
	"github.com/ruhu-dev/ruhu/server/pgstore/pgtest"
	"github.com/ruhu-dev/ruhu/syncengine"
)

// statements records the statements a store sends, with their arguments.
type statements struct {
	mu   sync.Mutex
	sent []sentStatement
}

type sentStatement struct {
	sql  string
	args []any
}

func (s *statements) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	s.mu.Lock()
	s.sent = append(s.sent, sentStatement{d.SQL, d.Args})
	s.mu.Unlock()
	return ctx
}
func (s *statements) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}
func (s *statements) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	return ctx
}
func (s *statements) TraceBatchQuery(_ context.Context, _ *pgx.Conn, d pgx.TraceBatchQueryData) {
	s.mu.Lock()
	s.sent = append(s.sent, sentStatement{d.SQL, d.Args})
	s.mu.Unlock()
}
func (s *statements) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}

// take returns the statements sent since the last take.
func (s *statements) take() []sentStatement {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.sent
	s.sent = nil
	return out
}

// countyOp is an op on a household of area.
func countyOp(id, record, area string) *syncengine.Op {
	o := op(id, record)
	o.Area = area
	return o
}

// apply applies ops in one Update, after prefetching their keys as a
// push does when prefetch is set.
func apply(s core.Store, prefetch bool, ops ...*syncengine.Op) error {
	return s.Update(func(tx core.Tx) error {
		if prefetch {
			keys := core.PrefetchKeys{}
			for _, o := range ops {
				keys.Ops = append(keys.Ops, o.ID)
				keys.Records = append(keys.Records, core.RecordKey{Collection: o.Collection, ID: o.RecordID})
			}
			if err := tx.(core.Prefetcher).Prefetch(keys); err != nil {
				return err
			}
		}
		for _, o := range ops {
			if _, err := syncengine.Apply(tx, o, syncengine.MergePolicy{}, t0); err != nil {
				return err
			}
		}
		return nil
	})
}

// partitionsRead runs query under EXPLAIN ANALYZE and returns the
// partitions of table (named table_pNN) that the plan actually read.
func partitionsRead(t *testing.T, conn *pgx.Conn, table string, st sentStatement) []string {
	t.Helper()
	q := regexp.MustCompile(`^DECLARE \S+ NO SCROLL CURSOR FOR `).ReplaceAllString(st.sql, "")
	var out string
	if err := conn.QueryRow(t.Context(), "EXPLAIN (ANALYZE, FORMAT JSON) "+q, st.args...).Scan(&out); err != nil {
		t.Fatalf("explain %s: %v", q, err)
	}
	var plans []struct{ Plan map[string]any }
	if err := json.Unmarshal([]byte(out), &plans); err != nil {
		t.Fatal(err)
	}
	read := map[string]bool{}
	var walk func(n map[string]any)
	walk = func(n map[string]any) {
		if rel, _ := n["Relation Name"].(string); strings.HasPrefix(rel, table+"_p") {
			if loops, _ := n["Actual Loops"].(float64); loops > 0 {
				read[rel] = true
			}
		}
		kids, _ := n["Plans"].([]any)
		for _, k := range kids {
			if m, ok := k.(map[string]any); ok {
				walk(m)
			}
		}
	}
	for _, p := range plans {
		walk(p.Plan)
	}
	names := make([]string, 0, len(read))
	for rel := range read {
		names = append(names, rel)
	}
	slices.Sort(names)
	return names
}

// TestCountyQueriesReadOnePartition: with records in several counties, a
// pull by a caller scoped to one county, a scan of a township of it and a
// count of the county read one partition of records, and a report's
// receipt times one of ops. The statements are the ones the store sent,
// run again under EXPLAIN ANALYZE.
func TestCountyQueriesReadOnePartition(t *testing.T) {
	url := pgtest.Database(t)
	trace := &statements{}
	s, err := pgstore.OpenTraced(t.Context(), url, trace)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	areas := []string{"340199001001", "340101002003", "340102003004", "110101001001", "440305006007"}
	var ops []*syncengine.Op
	for i := range 40 {
		ops = append(ops, countyOp(fmt.Sprintf("op%d", i), fmt.Sprintf("h%d", i), areas[i%len(areas)]))
	}
	if err := apply(s.Core(), true, ops...); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	var parts int
	if err := conn.QueryRow(t.Context(), "SELECT count(*) FROM pg_partition_tree('records') WHERE isleaf").Scan(&parts); err != nil || parts != 16 {
		t.Fatalf("records has %d partitions (%v), want 16", parts, err)
	}

	app := core.New(slog.New(slog.DiscardHandler), s.Core(), nil, core.Options{})
	caller := core.Caller{User: "li", Role: "township", Scopes: []string{"340199001"}}
	trace.take()
	n := 0
	page, err := app.Pull(t.Context(), caller, "", 5, func([]byte) { n++ })
	if err != nil || n != 5 || !page.More {
		t.Fatalf("pull: %d records, %+v, %v; want 5 and more", n, page, err)
	}
	if _, err := app.Pull(t.Context(), caller, page.Cursor, 0, func([]byte) { n++ }); err != nil || n != 8 {
		t.Fatalf("pulled %d records in two pages, %v; want the county's 8", n, err)
	}
	pulls := trace.take()

	err = s.Core().View(func(tx core.Tx) error {
		st := tx.(core.ScanTx)
		if err := st.ScanRecordsIn("households", "340199001", []string{"phone"}, func(string, string, []core.FieldView) error { return nil }); err != nil {
			return err
		}
		if n, err := st.CountReportRows("households", "340199"); err != nil || n != 8 {
			t.Errorf("households of 340199: %d, %v; want 8", n, err)
		}
		at, ok, err := st.OpReceivedAt("op0")
		if err != nil || !ok || !at.Equal(t0) {
			t.Errorf("receipt of op0: %v %v %v", at, ok, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	scans := trace.take()

	want := map[string]int{"records": 0, "ops": 0}
	for _, st := range append(pulls, scans...) {
		for table := range want {
			if !regexp.MustCompile(`(FROM|JOIN) ` + table + `\b`).MatchString(st.sql) {
				continue
			}
			want[table]++
			if got := partitionsRead(t, conn, table, st); len(got) != 1 {
				t.Errorf("%s read partitions %v of %s, want one\n%s", strings.Join(strings.Fields(st.sql), " "), got, table, st.args)
			}
		}
	}
	if want["records"] < 4 || want["ops"] < 1 {
		t.Fatalf("statements explained: %v; the pulls, scan, count and receipt were not all seen", want)
	}

	// A caller wider than a county walks the whole feed, every partition.
	wide := core.Caller{User: "city", Role: "city", Scopes: []string{"3401"}}
	if _, err := app.Pull(t.Context(), wide, "", 0, func([]byte) {}); err != nil {
		t.Fatal(err)
	}
	for _, st := range trace.take() {
		if strings.Contains(st.sql, "FROM records") {
			if got := partitionsRead(t, conn, "records", st); len(got) < 5 {
				t.Errorf("the whole feed read partitions %v", got)
			}
		}
	}
}

// TestReusedKeysInAnotherCounty: a record id or op id already stored in
// one county and used again with an area of another is found as before
// partitioning, whether the push prefetched its keys or not and whether
// the transaction reads the tables directly: the area change is refused
// (EINVALID), the op id with another content is refused (ECONFLICT), and
// neither makes a second row. The store check then finds keys and
// partitions that disagree.
func TestReusedKeysInAnotherCounty(t *testing.T) {
	url := pgtest.Database(t)
	s, err := pgstore.Open(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	cs := s.Core()
	if err := apply(cs, false, countyOp("a1", "h1", "340199001001")); err != nil {
		t.Fatal(err)
	}
	scenarios := []struct {
		name string
		run  func(o *syncengine.Op) error
	}{
		{"prefetched", func(o *syncengine.Op) error { return apply(cs, true, o) }},
		{"read on demand", func(o *syncengine.Op) error { return apply(cs, false, o) }},
		{"direct", func(o *syncengine.Op) error {
			return cs.UpdateSolo(func(tx core.Tx) error {
				if err := tx.Conflicts(func(*syncengine.Conflict) bool { return true }); err != nil { // leaves deferred mode
					return err
				}
				_, err := syncengine.Apply(tx, o, syncengine.MergePolicy{}, t0)
				return err
			})
		}},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			if err := sc.run(countyOp("a2-"+sc.name, "h1", "110101001001")); syncengine.ErrorCode(err) != syncengine.EINVALID {
				t.Errorf("record h1 of 340199 written in 110101: %v, want EINVALID", err)
			}
			if err := sc.run(countyOp("a1", "h9", "110101001001")); syncengine.ErrorCode(err) != syncengine.ECONFLICT {
				t.Errorf("op a1 of 340199 sent again for 110101: %v, want ECONFLICT", err)
			}
		})
	}
	// The store itself refuses to move a record to another county, the
	// one write ApplyOp would never make.
	err = cs.Update(func(tx core.Tx) error {
		rec, err := tx.Record("households", "h1")
		if err != nil {
			return err
		}
		rec.Area = "110101001001"
		return tx.PutRecord(rec, nil)
	})
	if syncengine.ErrorCode(err) != syncengine.EINVALID {
		t.Errorf("record moved to another county: %v, want EINVALID", err)
	}

	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	for _, q := range []struct{ sql, want string }{
		{"SELECT string_agg(county || '/' || area, ',') FROM records WHERE id = 'h1'", "340199/340199001001"},
		{"SELECT string_agg(area, ',') FROM record_keys WHERE id = 'h1'", "340199001001"},
		{"SELECT string_agg(county, ',') FROM ops WHERE id = 'a1'", "340199"},
		{"SELECT string_agg(county, ',') FROM op_keys WHERE id = 'a1'", "340199"},
		{"SELECT count(*)::text FROM records", "1"},
		{"SELECT count(*)::text FROM ops", "1"},
	} {
		var got *string
		if err := conn.QueryRow(t.Context(), q.sql).Scan(&got); err != nil || got == nil || *got != q.want {
			t.Errorf("%s = %v, %v; want %s", q.sql, deref(got), err, q.want)
		}
	}

	// The store check sees keys and partitions disagree.
	app := core.New(slog.New(slog.DiscardHandler), cs, nil, core.Options{})
	if err := app.Check(t.Context()); err != nil {
		t.Fatalf("check: %v", err)
	}
	for _, sc := range []struct{ break_, want string }{
		{"UPDATE op_keys SET county = '110101' WHERE id = 'a1'", "op a1 of county 340199 has key 110101"},
		{"UPDATE op_keys SET county = '340199', seq = seq + 1 WHERE id = 'a1'", "op a1 of county 340199 has key households/h1 sequence"},
		{"UPDATE op_keys SET seq = seq - 1 WHERE id = 'a1'; INSERT INTO ops SELECT * FROM ops WHERE id = 'a1'", "op a1 is stored 2 times"},
		{"DELETE FROM record_keys WHERE id = 'h1'", "record households/h1 of area 340199001001 has key none"},
		{"INSERT INTO record_keys SELECT collection, id, area FROM records WHERE id = 'h1'; INSERT INTO records SELECT * FROM records WHERE id = 'h1'",
			"record households/h1 is stored 2 times"},
	} {
		if _, err := conn.Exec(t.Context(), sc.break_); err != nil {
			t.Fatal(err)
		}
		if err := app.Check(t.Context()); err == nil || !strings.Contains(err.Error(), sc.want) {
			t.Errorf("check after %s: %v, want %q", sc.break_, err, sc.want)
		}
	}
}

func deref(s *string) string {
	if s == nil {
		return "NULL"
	}
	return *s
}

// TestCountyPullMatchesTheWholeFeed: a pull scoped to counties (merged
// from one cursor per county, over more than a cursor page each) hands out
// exactly what a walk of the whole feed keeping the caller's scopes does,
// in the same order, page after page, for callers of one or two counties.
func TestCountyPullMatchesTheWholeFeed(t *testing.T) {
	s := open(t)
	areas := []string{"340199001001", "340101002003", "340199002001", "110101001001", "340102003004"}
	var ops []*syncengine.Op
	for i := range 1400 {
		ops = append(ops, countyOp(fmt.Sprintf("op%d", i), fmt.Sprintf("h%d", i), areas[(i*i+i/7)%len(areas)]))
	}
	for i := 0; i < len(ops); i += 200 {
		if err := apply(s.Core(), true, ops[i:i+200]...); err != nil {
			t.Fatal(err)
		}
	}
	app := core.New(slog.New(slog.DiscardHandler), s.Core(), nil, core.Options{})
	for _, scopes := range [][]string{{"340199"}, {"340199002"}, {"340101", "110101002", "340199001001"}} {
		var want []string
		err := s.Core().View(func(tx core.Tx) error {
			_, err := tx.ChangesAfter(0, func(_ uint64, area string, raw []byte) bool {
				for _, p := range scopes {
					if strings.HasPrefix(area, p) {
						want = append(want, string(raw))
					}
				}
				return true
			})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, limit := range []int{7, 600, 2000} {
			caller := core.Caller{User: "u", Role: "township", Scopes: scopes}
			var got []string
			cursor := ""
			for page := 0; ; page++ {
				p, err := app.Pull(t.Context(), caller, cursor, limit, func(raw []byte) { got = append(got, string(raw)) })
				if err != nil {
					t.Fatal(err)
				}
				cursor = p.Cursor
				if !p.More || page > 1000 {
					break
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("scopes %v, limit %d: pulled %d records, the whole feed has %d in scope (or another order)", scopes, limit, len(got), len(want))
			}
		}
	}
}

// TestStoredRecordsAreUpdatedWhereTheyAre: a stored record written again
// is updated in its row, found by the area it is stored under, also when
// the new state has another area of the same county (written twice in
// one transaction, or by a transaction reading the tables directly): its
// key follows, it is read back by id and by area, no second row is made
// and the store check holds.
func TestStoredRecordsAreUpdatedWhereTheyAre(t *testing.T) {
	url := pgtest.Database(t)
	s, err := pgstore.Open(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	cs := s.Core()
	if err := apply(cs, true, countyOp("a1", "h1", "340199001001"), countyOp("a2", "h2", "340199001001")); err != nil {
		t.Fatal(err)
	}
	move := func(tx core.Tx, id string, areas ...string) error {
		for _, area := range areas {
			rec, err := tx.Record("households", id)
			if err != nil || rec == nil {
				return fmt.Errorf("read %s: %v, %v", id, rec, err)
			}
			rec.Area = area
			if err := tx.PutRecord(rec, nil); err != nil {
				return err
			}
		}
		return nil
	}
	scenarios := []struct {
		name, id, area string
		update         func(func(core.Tx) error) error
		areas          []string
	}{
		{"kept until commit, written twice", "h1", "340199003003", cs.Update, []string{"340199002002", "340199003003"}},
		{"direct", "h2", "340199004004", cs.UpdateSolo, []string{"340199004004"}},
	}
	for _, sc := range scenarios {
		err := sc.update(func(tx core.Tx) error {
			if sc.name == "direct" {
				if err := tx.Conflicts(func(*syncengine.Conflict) bool { return true }); err != nil { // leaves deferred mode
					return err
				}
			}
			return move(tx, sc.id, sc.areas...)
		})
		if err != nil {
			t.Fatalf("%s: %v", sc.name, err)
		}
		err = cs.View(func(tx core.Tx) error {
			if r, err := tx.Record("households", sc.id); err != nil || r == nil || r.Area != sc.area {
				t.Errorf("%s: %s read back as %+v, %v; want area %s", sc.name, sc.id, r, err, sc.area)
			}
			var found []string
			err := tx.(core.ScanTx).ScanRecordsIn("households", sc.area, nil, func(id, _ string, _ []core.FieldView) error {
				found = append(found, id)
				return nil
			})
			if err != nil || !slices.Equal(found, []string{sc.id}) {
				t.Errorf("%s: scan of %s found %v, %v", sc.name, sc.area, found, err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	var rows, keys string
	if err := conn.QueryRow(t.Context(), `SELECT (SELECT string_agg(id || ':' || area, ',' ORDER BY id) FROM records),
		(SELECT string_agg(id || ':' || area, ',' ORDER BY id) FROM record_keys)`).Scan(&rows, &keys); err != nil {
		t.Fatal(err)
	}
	if want := "h1:340199003003,h2:340199004004"; rows != want || keys != want {
		t.Errorf("records %s, keys %s; want %s for both", rows, keys, want)
	}
	app := core.New(slog.New(slog.DiscardHandler), cs, nil, core.Options{})
	if err := app.Check(t.Context()); err != nil {
		t.Errorf("check: %v", err)
	}
}
