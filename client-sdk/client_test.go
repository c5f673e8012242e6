package client_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	client "github.com/ruhu-dev/ruhu/client-sdk"
	"github.com/ruhu-dev/ruhu/rules"
	"github.com/ruhu-dev/ruhu/schemas"
	"github.com/ruhu-dev/ruhu/syncengine"
)

func household(name string) map[string]any {
	return map[string]any{"head_name": name, "status": map[string]any{"value": "poor"}}
}

func TestSaveStoresRecordAndOutboxDurably(t *testing.T) {
	f := newFakeServer(t)
	tb := newTablet(t, f, nil)
	op := tb.save(t, "households", "h1", household("张桂英"))
	tb.reopen(t)

	got, err := tb.Get("households", "h1")
	if err != nil {
		t.Fatalf("get after reopen: %v", err)
	}
	if name := got.String("head_name"); name != "张桂英" || !got.Pending || got.Area != testArea {
		t.Fatalf("after reopen: head_name %q pending %v area %q", name, got.Pending, got.Area)
	}
	if got.Record.Fields["head_name"].OpID != op.ID {
		t.Fatalf("field version %q, want op %s", got.Record.Fields["head_name"].OpID, op.ID)
	}
	if st := tb.status(t); st.Pending != 1 || st.Sent != 0 {
		t.Fatalf("status after reopen: %+v", st)
	}
	// A second write on the same field names the first as its base.
	op2 := tb.save(t, "households", "h1", map[string]any{"head_name": "张桂兰"})
	if op2.Base["head_name"] != op.ID || op2.HLC <= op.HLC {
		t.Fatalf("second op base %v hlc %v, want base %s and hlc > %v", op2.Base, op2.HLC, op.ID, op.HLC)
	}
	tb.Close()
	if keys := bucketKeys(t, tb.path, "outbox"); len(keys) != 2 {
		t.Fatalf("outbox holds %d ops, want 2", len(keys))
	}
	if keys := bucketKeys(t, tb.path, "pending"); len(keys) != 2 {
		t.Fatalf("pending index holds %d entries, want 2", len(keys))
	}
}

func TestSaveRefusedByValidatorWritesNothing(t *testing.T) {
	reg, err := schemas.New()
	if err != nil {
		t.Fatal(err)
	}
	f := newFakeServer(t)
	tb := newTablet(t, f, func(o *client.Options) { o.Validator = reg })
	_, err = tb.Save(context.Background(), "households", "h1", testArea, raw(t, map[string]any{"head_name": "张", "housing_grade": "E"}))
	if code := syncengine.ErrorCode(err); code != syncengine.EINVALID {
		t.Fatalf("save with bad grade: code %q (%v), want EINVALID", code, err)
	}
	var fe *schemas.FieldError
	if !errors.As(err, &fe) || fe.Field != "housing_grade" {
		t.Fatalf("error %v does not name the field housing_grade", err)
	}
	if _, err := tb.Get("households", "h1"); syncengine.ErrorCode(err) != syncengine.ENOTFOUND {
		t.Fatalf("refused save left a record: %v", err)
	}
	if st := tb.status(t); st.Pending != 0 {
		t.Fatalf("refused save queued %d ops", st.Pending)
	}
}

func TestAppendOnlyFieldCannotChangeLocally(t *testing.T) {
	reg, err := schemas.New()
	if err != nil {
		t.Fatal(err)
	}
	f := newFakeServer(t)
	policy := func(col string) syncengine.MergePolicy {
		p := reg.Policy(col)
		return syncengine.MergePolicy{AppendOnly: p.AppendOnly, Annotations: p.Annotations}
	}
	tb := newTablet(t, f, func(o *client.Options) { o.Policy = policy })
	tb.save(t, "visits", "v1", map[string]any{"notes": "first"})
	_, err = tb.Save(context.Background(), "visits", "v1", "", raw(t, map[string]any{"notes": "rewritten"}))
	if syncengine.ErrorCode(err) != syncengine.EINVALID {
		t.Fatalf("rewriting evidence: %v, want EINVALID", err)
	}
	if _, err := tb.Save(context.Background(), "visits", "v1", "", raw(t, map[string]any{"review_note": "ok"})); err != nil {
		t.Fatalf("annotating evidence: %v", err)
	}
}

func TestSyncPushesInBatches(t *testing.T) {
	f := newFakeServer(t)
	tb := newTablet(t, f, func(o *client.Options) { o.BatchSize = 3 })
	for i := range 7 {
		tb.save(t, "households", fmt.Sprintf("h%d", i), household("户主"))
	}
	var phases []client.Progress
	rep, err := tb.Sync(context.Background(), func(p client.Progress) { phases = append(phases, p) })
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(f.pushes, []int{3, 3, 1}) {
		t.Fatalf("push batch sizes %v, want [3 3 1]", f.pushes)
	}
	if rep.Pushed != 7 || rep.Batches != 3 || rep.WireOut == 0 || rep.WireOut >= rep.RawOut {
		t.Fatalf("report %+v", rep)
	}
	last := phases[2]
	if last.Phase != client.PhasePush || last.Done != 7 || last.Total != 7 || last.WireBytes == 0 {
		t.Fatalf("progress after last batch: %+v", last)
	}
	if phases[len(phases)-1].Phase != client.PhasePull {
		t.Fatalf("no pull progress: %+v", phases)
	}
	st := tb.status(t)
	if st.Pending != 0 || st.Sent != 7 || st.LastSync.IsZero() || st.Cursor == "" {
		t.Fatalf("status after sync: %+v", st)
	}
	got, err := tb.Get("households", "h3")
	if err != nil || got.Pending {
		t.Fatalf("synced record: %+v, %v", got, err)
	}
}

func TestTransientFailuresAreRetriedWithBackoff(t *testing.T) {
	scenarios := []struct {
		name  string
		fault func(f *fakeServer)
		want  int // retries
	}{
		{"three 503s", func(f *fakeServer) { f.fail503 = 3 }, 3},
		{"connection cut after the server applied the push", func(f *fakeServer) { f.cutAfter = 1 }, 1},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			f := newFakeServer(t)
			tb := newTablet(t, f, nil)
			tb.save(t, "households", "h1", household("甲"))
			f.set(sc.fault)
			rep := tb.sync(t)
			if rep.Retries != sc.want || rep.Pushed != 1 {
				t.Fatalf("retries %d pushed %d, want %d and 1", rep.Retries, rep.Pushed, sc.want)
			}
			waits := tb.sleep.all()
			if len(waits) != sc.want {
				t.Fatalf("slept %d times, want %d", len(waits), sc.want)
			}
			for i, d := range waits {
				base := 500 * time.Millisecond << i
				if d < base/2 || d > base {
					t.Fatalf("wait %d = %v, want within [%v, %v]", i, d, base/2, base)
				}
			}
			if f.opCount() != 1 || f.record("households/h1") == nil {
				t.Fatalf("server holds %d ops", f.opCount())
			}
		})
	}
}

func TestTransientFailuresGiveUpAfterMaxAttempts(t *testing.T) {
	f := newFakeServer(t)
	tb := newTablet(t, f, func(o *client.Options) { o.MaxAttempts = 4 })
	tb.save(t, "households", "h1", household("甲"))
	f.set(func(f *fakeServer) { f.fail503 = 100 })
	_, err := tb.Sync(context.Background(), nil)
	if syncengine.ErrorCode(err) != syncengine.ETRANSIENT {
		t.Fatalf("sync against a dead server: %v, want ETRANSIENT", err)
	}
	if n := len(tb.sleep.all()); n != 3 {
		t.Fatalf("slept %d times for 4 attempts", n)
	}
	if st := tb.status(t); st.Pending != 1 {
		t.Fatalf("op lost after failed sync: %+v", st)
	}
}

func TestRejectedOpIsParkedWithoutBlockingOthers(t *testing.T) {
	f := newFakeServer(t)
	tb := newTablet(t, f, nil)
	f.set(func(f *fakeServer) {
		f.reject = func(op *syncengine.Op) string {
			if _, bad := op.Set["phone"]; bad {
				return "phone: not a phone number"
			}
			return ""
		}
	})
	tb.save(t, "households", "h1", household("甲"))
	bad := tb.save(t, "households", "h1", map[string]any{"phone": "x"})
	tb.save(t, "households", "h2", household("乙"))
	rep := tb.sync(t)
	if rep.Pushed != 2 || rep.Rejected != 1 {
		t.Fatalf("report %+v, want 2 pushed 1 rejected", rep)
	}
	rej, err := tb.Rejected()
	if err != nil || len(rej) != 1 {
		t.Fatalf("rejected list %v, %v", rej, err)
	}
	if rej[0].Op.ID != bad.ID || rej[0].Code != syncengine.EINVALID || !strings.Contains(rej[0].Message, "phone") {
		t.Fatalf("parked op %+v", rej[0])
	}
	// The local view drops the refused change: it shows what the server has.
	h1, _ := tb.Get("households", "h1")
	if _, has := h1.Values["phone"]; has || h1.Pending {
		t.Fatalf("refused value still shown: %+v", h1.Values)
	}
	// Later syncs never resend it and still carry new work.
	tb.save(t, "households", "h3", household("丙"))
	rep = tb.sync(t)
	if rep.Pushed != 1 || rep.Rejected != 0 || f.pushes[len(f.pushes)-1] != 1 {
		t.Fatalf("second sync %+v, pushes %v", rep, f.pushes)
	}
	if st := tb.status(t); st.Rejected != 1 || st.Pending != 0 || st.Sent != 3 {
		t.Fatalf("status %+v", st)
	}
}

func TestBatchRefusedWholeIsSplitUntilTheBadOpIsParked(t *testing.T) {
	f := newFakeServer(t)
	tb := newTablet(t, f, func(o *client.Options) { o.BatchSize = 8 })
	var poison string
	for i := range 8 {
		op := tb.save(t, "households", fmt.Sprintf("h%d", i), household("户主"))
		if i == 5 {
			poison = op.ID
		}
	}
	f.set(func(f *fakeServer) { f.refuseAll = func(op *syncengine.WireOp) bool { return op.ID == poison } })
	rep := tb.sync(t)
	if rep.Pushed != 7 || rep.Rejected != 1 {
		t.Fatalf("report %+v, want 7 pushed 1 rejected", rep)
	}
	// 8 refused → 4 ok, 4 refused → 2 refused → 1 ok, 1 parked → 2 ok.
	if !slices.Equal(f.pushes, []int{8, 4, 4, 2, 1, 1, 2}) {
		t.Fatalf("push sizes %v", f.pushes)
	}
	rej, _ := tb.Rejected()
	if len(rej) != 1 || rej[0].Op.ID != poison || rej[0].Code != syncengine.EINVALID {
		t.Fatalf("parked %+v", rej)
	}
}

func TestRevokedDeviceWipesLocalData(t *testing.T) {
	f := newFakeServer(t)
	tb := newTablet(t, f, nil)
	tb.save(t, "members", "m1", map[string]any{"name": "张三", "id_number": "34012219800101123X"})
	tb.sync(t)
	tb.save(t, "households", "h1", household("甲"))
	f.set(func(f *fakeServer) {
		for dev := range f.devices {
			f.revoked[dev] = true
		}
	})
	_, err := tb.Sync(context.Background(), nil)
	if syncengine.ErrorCode(err) != syncengine.EREVOKED {
		t.Fatalf("sync on a revoked device: %v, want EREVOKED", err)
	}
	for name, call := range map[string]func() error{
		"get":    func() error { _, err := tb.Get("members", "m1"); return err },
		"status": func() error { _, err := tb.Status(); return err },
		"save": func() error {
			_, err := tb.Save(context.Background(), "households", "h2", testArea, raw(t, household("乙")))
			return err
		},
		"sync": func() error { _, err := tb.Sync(context.Background(), nil); return err },
	} {
		if code := syncengine.ErrorCode(call()); code != syncengine.EREVOKED {
			t.Errorf("%s after wipe: code %q, want EREVOKED", name, code)
		}
	}
	tb.reopen(t)
	if _, err := tb.Status(); syncengine.ErrorCode(err) != syncengine.EREVOKED {
		t.Fatalf("status after reopen of a wiped file: %v", err)
	}
	tb.Close()
	if names := bucketNames(t, tb.path); !slices.Equal(names, []string{"wiped"}) {
		t.Fatalf("wiped file holds buckets %v", names)
	}
	// Logging in and enrolling again makes the tablet usable, empty.
	tb.open(t)
	if err := tb.Login(context.Background(), f.URL(), fakeUser, fakePassword); err != nil {
		t.Fatal(err)
	}
	if err := tb.Enroll(context.Background(), "平板A"); err != nil {
		t.Fatal(err)
	}
	if st := tb.status(t); st.Pending != 0 || st.Sent != 0 || !st.Enrolled {
		t.Fatalf("status after re-enroll: %+v", st)
	}
	tb.sync(t)
	if got, err := tb.Get("members", "m1"); err != nil || got.String("id_number") != "34012219800101123X" {
		t.Fatalf("record pulled again after re-enroll: %v, %v", got, err)
	}
}

func TestServerRestoreRequeuesSentOps(t *testing.T) {
	f := newFakeServer(t)
	tb := newTablet(t, f, func(o *client.Options) { o.PageSize = 2 })
	for i := range 5 {
		tb.save(t, "households", fmt.Sprintf("h%d", i), household("户主"))
	}
	tb.sync(t)
	f.restore()
	tb.save(t, "households", "h9", household("新户"))
	rep := tb.sync(t)
	if !rep.Reset {
		t.Fatal("sync against a restored server did not reset")
	}
	if f.opCount() != 6 {
		t.Fatalf("restored server got %d ops back, want 6", f.opCount())
	}
	for i := range 5 {
		if f.record(fmt.Sprintf("households/h%d", i)) == nil {
			t.Fatalf("h%d not re-fed to the restored server", i)
		}
	}
	st := tb.status(t)
	if st.Pending != 0 || st.Sent != 6 {
		t.Fatalf("status after reset: %+v", st)
	}
	all, err := tb.Query("households", nil)
	if err != nil || len(all) != 6 {
		t.Fatalf("local households after reset: %d, %v", len(all), err)
	}
	if rep := tb.sync(t); rep.Reset || rep.Pushed != 0 {
		t.Fatalf("sync after reset: %+v", rep)
	}
}

func TestPendingOpsStayOnTopOfPulledState(t *testing.T) {
	f := newFakeServer(t)
	tb := newTablet(t, f, func(o *client.Options) { o.PageSize = 1 })
	tb.save(t, "households", "h1", household("甲"))
	tb.sync(t)
	// On the server: another household changes, then a supervisor edits h1.
	f.seed(&syncengine.Op{ID: "sup0", RecordID: "h0", Collection: "households", Area: testArea,
		Author: "county", Device: "web", Set: raw(t, household("乙"))})
	f.seed(&syncengine.Op{ID: "sup1", RecordID: "h1", Collection: "households", Area: testArea,
		Author: "county", Device: "web", Set: raw(t, map[string]any{"notes": "复核通过", "head_name": "甲（复核）"})})
	// The officer edits h1 while the pull is between its two pages.
	var local *syncengine.Op
	_, err := tb.Sync(context.Background(), func(p client.Progress) {
		if p.Phase == client.PhasePull && p.Pages == 1 {
			tb.clock.Advance(time.Minute)
			local = tb.save(t, "households", "h1", map[string]any{"phone": "13900000000", "head_name": "甲（本地）"})
		}
	})
	if err != nil || local == nil {
		t.Fatalf("sync: %v (local op %v)", err, local)
	}
	got, _ := tb.Get("households", "h1")
	want := map[string]string{"phone": "13900000000", "notes": "复核通过", "head_name": "甲（本地）"}
	for k, v := range want {
		if got.String(k) != v {
			t.Fatalf("view after pull: %s = %q, want %q (values %v)", k, got.String(k), v, got.Values)
		}
	}
	if !got.Pending || got.Record.Fields["head_name"].OpID != local.ID {
		t.Fatalf("pending %v, head_name by %s", got.Pending, got.Record.Fields["head_name"].OpID)
	}
	tb.sync(t)
	if srv := f.record("households/h1"); string(srv.Fields["phone"].Value) != `"13900000000"` {
		t.Fatalf("server phone %s", srv.Fields["phone"].Value)
	}
	got, _ = tb.Get("households", "h1")
	if got.Pending || got.String("head_name") != "甲（本地）" {
		t.Fatalf("after second sync: pending %v values %v", got.Pending, got.Values)
	}
}

func TestClockOffsetIsMeasuredAndUsedForStamps(t *testing.T) {
	f := newFakeServer(t)
	tb := newTablet(t, f, nil)
	tb.clock.Set(time.Date(1970, 1, 2, 0, 0, 0, 0, time.UTC)) // battery died, clock reset
	before := tb.save(t, "households", "h1", household("甲"))
	if !before.ServerTimeEst.IsZero() || before.HLC.Time().Year() != 1970 {
		t.Fatalf("op before any sync: est %v hlc %v", before.ServerTimeEst, before.HLC)
	}
	rep := tb.sync(t)
	wantOffset := f.now.Sub(tb.clock.Now())
	if !rep.ClockOffsetKnown || (rep.ClockOffset-wantOffset).Abs() > time.Second {
		t.Fatalf("measured offset %v, want %v", rep.ClockOffset, wantOffset)
	}
	tb.clock.Advance(time.Minute)
	after := tb.save(t, "households", "h2", household("乙"))
	wantTime := f.now.Add(time.Minute)
	if d := after.HLC.Time().Sub(wantTime).Abs(); d > time.Second {
		t.Fatalf("op after sync stamped %v, want ≈ %v", after.HLC, wantTime)
	}
	if d := after.ServerTimeEst.Sub(wantTime).Abs(); d > time.Second {
		t.Fatalf("server time estimate %v, want ≈ %v", after.ServerTimeEst, wantTime)
	}
	if after.DeviceTime.Year() != 1970 || after.HasFlag(syncengine.FlagClockSuspect) {
		t.Fatalf("device time %v flags %v", after.DeviceTime, after.Flags)
	}
	// The offset survives a restart.
	tb.reopen(t)
	again := tb.save(t, "households", "h3", household("丙"))
	if again.HLC.Time().Year() != 2025 {
		t.Fatalf("stamp after reopen %v", again.HLC)
	}
}

func TestFarAheadClockIsRestampedAndReset(t *testing.T) {
	f := newFakeServer(t)
	tb := newTablet(t, f, nil)
	tb.clock.Set(f.now.Add(400 * 24 * time.Hour)) // a year ahead
	op := tb.save(t, "households", "h1", household("甲"))
	rep := tb.sync(t)
	if rep.Restamped != 1 {
		t.Fatalf("restamped %d, want 1", rep.Restamped)
	}
	got, _ := tb.Get("households", "h1")
	field := got.Record.Fields["head_name"]
	if field.HLC == op.HLC || field.HLC.Time().After(f.now.Add(time.Minute)) || !slices.Contains(field.Flags, syncengine.FlagRestamped) {
		t.Fatalf("local field after restamp: hlc %v flags %v", field.HLC, field.Flags)
	}
	next := tb.save(t, "households", "h2", household("乙"))
	if next.HLC.Time().After(f.now.Add(time.Minute)) {
		t.Fatalf("next op still stamped in the future: %v", next.HLC)
	}
}

func TestClockSuspectAfterRebootOrClockChange(t *testing.T) {
	scenarios := []struct {
		name    string
		change  func(c *deviceClock)
		suspect bool
	}{
		{"time passes normally", func(c *deviceClock) { c.Advance(3 * time.Hour) }, false},
		{"reboot", func(c *deviceClock) { c.Reboot("boot-2") }, true},
		{"clock set forward by hand", func(c *deviceClock) { c.Set(c.Now().Add(10 * time.Minute)) }, true},
		{"clock set back by 3 s", func(c *deviceClock) { c.Set(c.Now().Add(-3 * time.Second)) }, true},
		{"clock adjusted by 1 s", func(c *deviceClock) { c.Set(c.Now().Add(time.Second)) }, false},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			f := newFakeServer(t)
			tb := newTablet(t, f, nil)
			tb.sync(t)
			sc.change(tb.clock)
			op := tb.save(t, "households", "h1", household("甲"))
			if op.HasFlag(syncengine.FlagClockSuspect) != sc.suspect {
				t.Fatalf("clock_suspect = %v, want %v", !sc.suspect, sc.suspect)
			}
			var sawFlag bool
			f.set(func(f *fakeServer) {
				f.onPush = func(req *syncengine.PushRequest) { sawFlag = req.Ops[0].ClockSuspect }
			})
			tb.sync(t)
			if sawFlag != sc.suspect {
				t.Fatalf("wire cs = %v, want %v", sawFlag, sc.suspect)
			}
			// A sync re-measures: the next op is trusted again.
			if op := tb.save(t, "households", "h2", household("乙")); op.HasFlag(syncengine.FlagClockSuspect) {
				t.Fatal("still suspect after a fresh sync")
			}
		})
	}
}

// crashAfterPush forwards the request (so the server applies the push),
// then closes the tablet file and loses the answer, as if the app were
// killed between sending and recording the acknowledgement.
type crashAfterPush struct {
	tb      *tablet
	crashed bool
}

func (c *crashAfterPush) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err == nil && !c.crashed && strings.HasSuffix(r.URL.Path, "/v1/sync/push") {
		c.crashed = true
		resp.Body.Close()
		c.tb.Close()
		return nil, errors.New("process killed")
	}
	return resp, err
}

func TestCrashBetweenPushAndAckResendsNothingLost(t *testing.T) {
	f := newFakeServer(t)
	crash := &crashAfterPush{}
	tb := newTablet(t, f, func(o *client.Options) { o.HTTPClient = &http.Client{Transport: crash} })
	crash.tb = tb
	for i := range 3 {
		tb.save(t, "households", fmt.Sprintf("h%d", i), household("户主"))
	}
	if _, err := tb.Sync(context.Background(), nil); err == nil {
		t.Fatal("sync survived the crash")
	}
	if f.opCount() != 3 {
		t.Fatalf("server applied %d ops before the crash, want 3", f.opCount())
	}
	tb.open(t) // the app restarts
	if st := tb.status(t); st.Pending != 3 {
		t.Fatalf("after restart %d ops pending, want 3", st.Pending)
	}
	rep := tb.sync(t)
	if rep.Pushed != 3 || f.opCount() != 3 {
		t.Fatalf("resend: pushed %d, server ops %d", rep.Pushed, f.opCount())
	}
	if st := tb.status(t); st.Pending != 0 || st.Sent != 3 {
		t.Fatalf("after resend: %+v", st)
	}
}

func TestExpiredAccessTokenIsRefreshedOnce(t *testing.T) {
	f := newFakeServer(t)
	tb := newTablet(t, f, nil)
	tb.save(t, "households", "h1", household("甲"))
	f.expireAccessTokens()
	tb.sync(t)
	if f.refreshes != 1 {
		t.Fatalf("refreshed %d times, want 1", f.refreshes)
	}
	// A refresh token the server no longer knows: one refresh try, then
	// EUNAUTHORIZED and nothing lost.
	tb.save(t, "households", "h2", household("乙"))
	f.set(func(f *fakeServer) {
		f.access = map[string]string{}
		f.devices = map[string]string{}
	})
	_, err := tb.Sync(context.Background(), nil)
	if syncengine.ErrorCode(err) != syncengine.EUNAUTHORIZED {
		t.Fatalf("sync with a dead refresh token: %v", err)
	}
	if st := tb.status(t); st.Pending != 1 {
		t.Fatalf("pending %d after auth failure", st.Pending)
	}
}

func TestMyHouseholdsAndVisitsDue(t *testing.T) {
	f := newFakeServer(t)
	now := f.now
	seed := func(id, col, rid string, fields map[string]any) {
		f.seed(&syncengine.Op{ID: id, RecordID: rid, Collection: col, Area: testArea, Author: "county", Device: "web", Set: raw(t, fields)})
	}
	for _, h := range []string{"h1", "h2", "h3", "h4", "h5"} {
		seed("op-"+h, "households", h, household("户主"+h))
	}
	seed("a1", "assignments", "a1", map[string]any{"officer": fakeUser, "household_id": "h1", "active": true})
	seed("a2", "assignments", "a2", map[string]any{"officer": fakeUser, "household_id": "h2", "active": true})
	seed("a3", "assignments", "a3", map[string]any{"officer": fakeUser, "household_id": "h3", "active": true})
	seed("a4", "assignments", "a4", map[string]any{"officer": "li", "household_id": "h4", "active": true})
	seed("a5", "assignments", "a5", map[string]any{"officer": fakeUser, "household_id": "h5", "active": false})
	seed("v1", "visits", "v1", map[string]any{"household_id": "h1", "visited_at": now.Add(-10 * 24 * time.Hour).Format(time.RFC3339)})
	seed("v2", "visits", "v2", map[string]any{"household_id": "h2", "visited_at": now.Add(-200 * 24 * time.Hour).Format(time.RFC3339)})
	seed("v3", "visits", "v3", map[string]any{"household_id": "h2", "visited_at": now.Add(-100 * 24 * time.Hour).Format(time.RFC3339)})

	tb := newTablet(t, f, nil)
	tb.sync(t)
	mine, err := tb.MyHouseholds()
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, h := range mine {
		ids = append(ids, h.ID)
	}
	if !slices.Equal(ids, []string{"h1", "h2", "h3"}) {
		t.Fatalf("my households %v, want [h1 h2 h3]", ids)
	}
	policies, err := rules.DefaultPolicies()
	if err != nil {
		t.Fatal(err)
	}
	// Poor households are due monthly (the shipped policy): h1 was visited
	// last month (due, the month has more than due_soon_days left), h2 not
	// since July and h3 never (overdue: last month went without a visit).
	states := func() string {
		t.Helper()
		due, err := tb.HouseholdsDue(now, policies)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, d := range due {
			got = append(got, d.Household.ID+":"+string(d.State))
		}
		return strings.Join(got, " ")
	}
	if got, want := states(), "h3:overdue h2:overdue h1:due"; got != want {
		t.Fatalf("households due %q, want %q", got, want)
	}
	// A visit made on the tablet counts at once, before it syncs.
	tb.save(t, "visits", "v4", map[string]any{"household_id": "h3", "visited_at": now.Format(time.RFC3339)})
	if got, want := states(), "h2:overdue h1:due h3:done"; got != want {
		t.Fatalf("households due after a local visit %q, want %q", got, want)
	}
	// Ending an assignment (on the server) removes the household.
	seed("a1-end", "assignments", "a1", map[string]any{"active": false})
	tb.sync(t)
	mine, _ = tb.MyHouseholds()
	if len(mine) != 2 || mine[0].ID != "h2" {
		t.Fatalf("after assignment ended: %d households", len(mine))
	}
}

func TestDeleteIsATombstoneWithReason(t *testing.T) {
	f := newFakeServer(t)
	tb := newTablet(t, f, nil)
	tb.save(t, "households", "h1", household("甲"))
	if _, err := tb.Delete(context.Background(), "households", "h1", ""); syncengine.ErrorCode(err) != syncengine.EINVALID {
		t.Fatalf("delete without reason: %v", err)
	}
	if _, err := tb.Delete(context.Background(), "households", "nope", "dup"); syncengine.ErrorCode(err) != syncengine.ENOTFOUND {
		t.Fatalf("delete of a missing record: %v", err)
	}
	if _, err := tb.Delete(context.Background(), "households", "h1", "重复录入"); err != nil {
		t.Fatal(err)
	}
	got, err := tb.Get("households", "h1")
	if err != nil || !got.Deleted || got.DeleteReason != "重复录入" {
		t.Fatalf("deleted record: %+v, %v", got, err)
	}
	if list, _ := tb.Query("households", nil); len(list) != 0 {
		t.Fatalf("query lists a deleted record")
	}
	tb.sync(t)
	if del, _ := f.record("households/h1").Deleted(); !del {
		t.Fatal("tombstone did not reach the server")
	}
}

func TestOperationsNeedEnrollment(t *testing.T) {
	c, err := client.Open(t.TempDir()+"/t.db", client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Save(context.Background(), "households", "h1", testArea, raw(t, household("甲"))); syncengine.ErrorCode(err) != syncengine.EUNAUTHORIZED {
		t.Fatalf("save before enrollment: %v", err)
	}
	if _, err := c.Sync(context.Background(), nil); syncengine.ErrorCode(err) != syncengine.EUNAUTHORIZED {
		t.Fatalf("sync before enrollment: %v", err)
	}
	if err := c.Enroll(context.Background(), "x"); syncengine.ErrorCode(err) != syncengine.EUNAUTHORIZED {
		t.Fatalf("enroll before login: %v", err)
	}
	f := newFakeServer(t)
	if err := c.Login(context.Background(), f.URL(), fakeUser, "wrong"); syncengine.ErrorCode(err) != syncengine.EUNAUTHORIZED {
		t.Fatalf("login with a wrong password: %v", err)
	}
}

func TestEnrollKeepsPrivateKeyAndSendsPublicKey(t *testing.T) {
	f := newFakeServer(t)
	tb := newTablet(t, f, nil)
	pub, err := tb.DevicePublicKey()
	if err != nil {
		t.Fatal(err)
	}
	st := tb.status(t)
	if !st.Enrolled || st.DeviceID == "" || st.DeviceName != "平板A" {
		t.Fatalf("status %+v", st)
	}
	if got := f.publicKeys[st.DeviceID]; got == "" || got != encodeStd(pub) {
		t.Fatalf("server got public key %q, tablet has %q", got, encodeStd(pub))
	}
}
