package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/ruhu-dev/ruhu/assets/findings"
	"github.com/ruhu-dev/ruhu/assets/signature"
	client "github.com/ruhu-dev/ruhu/client-sdk"
	"github.com/ruhu-dev/ruhu/rules"
	"github.com/ruhu-dev/ruhu/server"
	"github.com/ruhu-dev/ruhu/syncengine"
)

// TestTwoTabletsConvergeOverHTTP: two officers edit one household offline,
// one field each and one field both; after syncing, both tablets and the
// server hold the same merged record and the server has one open conflict.
func TestTwoTabletsConvergeOverHTTP(t *testing.T) {
	dir := t.TempDir()
	srv := startServer(t, filepath.Join(dir, "server"))
	ctx := context.Background()
	a, b := twoTabletsEditOneHousehold(t, ctx, dir, srv.url)
	county := login(t, srv.url, "county")
	rec := county.record("households", demoHousehold)
	if !sameJSON(rec.Record.Fields["phone"], json.RawMessage(`"13900000001"`)) || !sameJSON(rec.Record.Fields["member_count"], json.RawMessage(`6`)) {
		t.Fatalf("one-sided edits lost: %s", dump(rec.Record.Fields))
	}
	for name, c := range map[string]*client.Client{"wang": a, "li": b} {
		got, err := c.Get("households", demoHousehold)
		if err != nil {
			t.Fatal(err)
		}
		valuesEqual(t, name, got.Values, rec.Record.Fields)
	}
	var conflicts struct {
		Conflicts []struct {
			Field      string `json:"field"`
			Candidates []struct {
				Value json.RawMessage `json:"value"`
			} `json:"candidates"`
		} `json:"conflicts"`
	}
	county.do("GET", "/v1/conflicts", nil, &conflicts)
	if len(conflicts.Conflicts) != 1 || conflicts.Conflicts[0].Field != "address" || len(conflicts.Conflicts[0].Candidates) != 2 {
		t.Fatalf("want one conflict on address with two candidates, got %+v", conflicts.Conflicts)
	}
	if !sameJSON(conflicts.Conflicts[0].Candidates[0].Value, rec.Record.Fields["address"]) {
		t.Fatalf("the winner listed first must be the applied value")
	}
}

// pushRaw sends a gzip push body with the tablet's device-bound token.
func pushRaw(t *testing.T, url, token string, req syncengine.PushRequest) syncengine.PushResponse {
	t.Helper()
	raw, _ := json.Marshal(req)
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(raw)
	zw.Close()
	hr, _ := http.NewRequest("POST", url+"/v1/sync/push", &buf)
	hr.Header.Set("Content-Encoding", "gzip")
	hr.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("push: %s %s", resp.Status, body)
	}
	var pr syncengine.PushResponse
	if err := json.Unmarshal(body, &pr); err != nil {
		t.Fatal(err)
	}
	return pr
}

// TestResendingAPushedBatchChangesNothing sends the same batch twice over
// HTTP: both answers acknowledge every op, and the records, their history
// and the change feed are as after the first.
func TestResendingAPushedBatchChangesNothing(t *testing.T) {
	dir := t.TempDir()
	srv := startServer(t, filepath.Join(dir, "server"))
	wang := login(t, srv.url, "wang")
	var enr struct {
		AccessToken string `json:"access_token"`
		DeviceID    string `json:"device_id"`
	}
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	if code := wang.do("POST", "/v1/devices", map[string]string{"name": "t", "public_key": base64.StdEncoding.EncodeToString(pub)}, &enr); code != 201 {
		t.Fatalf("enroll: %d", code)
	}
	var req syncengine.PushRequest
	for i := 0; i < 5; i++ {
		op := syncengine.Op{ID: "resend-" + string(rune('a'+i)), RecordID: "vis-" + string(rune('a'+i)), Collection: "visits", Area: demoArea,
			Author: "wang", Device: enr.DeviceID, HLC: syncengine.MakeHLC(1_790_000_000_000+int64(i), 0), Set: visitFields(t, demoHousehold, "wang", i)}
		req.Ops = append(req.Ops, op.ToWire())
	}
	first := pushRaw(t, srv.url, enr.AccessToken, req)
	var feed1 syncengine.PullResponse
	county := login(t, srv.url, "county")
	county.do("GET", "/v1/sync/pull?limit=2000", nil, &feed1)
	second := pushRaw(t, srv.url, enr.AccessToken, req)
	if len(first.Acked) != 5 || len(second.Acked) != 5 || len(second.Rejected) != 0 {
		t.Fatalf("acks: first %v, second %v (rejected %v)", first.Acked, second.Acked, second.Rejected)
	}
	var feed2 syncengine.PullResponse
	county.do("GET", "/v1/sync/pull?limit=2000", nil, &feed2)
	if feed1.Cursor != feed2.Cursor || len(feed1.Records) != len(feed2.Records) {
		t.Fatalf("resend moved the change feed: %s → %s, %d → %d records", feed1.Cursor, feed2.Cursor, len(feed1.Records), len(feed2.Records))
	}
	for _, op := range req.Ops {
		if h := county.record("visits", op.RecordID).History; len(h) != 1 {
			t.Fatalf("%s has %d ops in history after a resend, want 1", op.RecordID, len(h))
		}
	}
}

// TestRestoredServerMakesTabletsResync: the server is restored from a
// backup taken before some of a tablet's ops; the tablet's cursor names an
// epoch the restored server does not know, so it resyncs in full and sends
// again the ops the server lost.
func TestRestoredServerMakesTabletsResync(t *testing.T) {
	if os.Getenv("RUHU_TEST_SERVE_STORE") == "postgres" {
		t.Skip("restores a bbolt backup file; TestRestoredPostgresMakesTabletsResync restores a pg_dump")
	}
	dir := t.TempDir()
	data := filepath.Join(dir, "server")
	srv := startServer(t, data)
	ctx := context.Background()
	tab := newTablet(t, dir, srv.url, "wang")
	var early, late []string
	for i := 0; i < 3; i++ {
		id := tab.NewID()
		early = append(early, id)
		if _, err := tab.Save(ctx, "visits", id, demoArea, visitFields(t, demoHousehold, "wang", i)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tab.Sync(ctx, nil); err != nil {
		t.Fatal(err)
	}
	srv.stop()
	backup := filepath.Join(dir, "backup.db")
	var out bytes.Buffer
	if err := run(ctx, []string{"backup", "--data", data, "--out", backup}, os.Getenv, &out, &out); err != nil {
		t.Fatal(err)
	}
	srv = startServerAt(t, data, strings.TrimPrefix(srv.url, "http://"))
	for i := 3; i < 6; i++ {
		id := tab.NewID()
		late = append(late, id)
		if _, err := tab.Save(ctx, "visits", id, demoArea, visitFields(t, demoHousehold, "wang", i)); err != nil {
			t.Fatal(err)
		}
	}
	if rep, err := tab.Sync(ctx, nil); err != nil || rep.Reset {
		t.Fatalf("sync before restore: %+v %v", rep, err)
	}
	srv.stop()
	if err := os.Rename(backup, filepath.Join(data, "ruhu.db")); err != nil {
		t.Fatal(err)
	}
	srv = startServerAt(t, data, strings.TrimPrefix(srv.url, "http://"))
	rep, err := tab.Sync(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Reset {
		t.Fatalf("a tablet syncing with a restored server must be told to resync: %+v", rep)
	}
	county := login(t, srv.url, "county")
	for _, id := range append(early, late...) {
		county.record("visits", id) // fails the test when the restored server lacks it
	}
	got, err := tab.Get("households", demoHousehold)
	if err != nil {
		t.Fatal(err)
	}
	valuesEqual(t, "tablet after resync", got.Values, county.record("households", demoHousehold).Record.Fields)
}

// TestDemoRuns runs `ruhu demo` to the end: the merged record and one open
// conflict are printed; the evidence checks find the demo renovation case
// complete, one reused photo (a resized copy passed off as another
// household's) and one stale signature (the household was edited after
// its head signed); then last month's county roll-up with the overdue
// household, the team member short of days and the seeded case whose
// photo file never arrived, and the workbook is saved.
func TestDemoRuns(t *testing.T) {
	var out syncBuffer
	dir := t.TempDir()
	err := run(context.Background(), []string{"demo", "--data", dir, "--listen", "127.0.0.1:0", "--exit"}, func(string) string { return "" }, &out, &out)
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	for _, want := range []string{"待处理冲突 (open conflicts): 1", "field address", "13905510001", "服务器运行中",
		"340199            县            4     走访逾期 1、驻村天数不足 1、危房改造资料不全 1、同一照片用于不同农户 1",
		"    340199002001  村    河湾村  1     走访逾期 1",
		"孙大山（户 " + demoOverdueHousehold + "，监测户）要求每月至少1次  最近走访 无",
		"340199001001 桃园村  " + demoShortMember + "  ", "驻村 14 天 / 要求 20 天（签到 12 天，公务 2 天，未计入签到 1 次）",
		"缺少 " + server.MissingBeforeUpload + "、" + server.MissingAfterPhoto + "、" + server.MissingAcceptance,
		"危房改造 " + demoCase + "：资料齐全", "照片核查 (photo findings): 1 条",
		"【" + findings.ReusedPhoto.Title() + "】农户 " + demoHousehold + " 与农户 " + demoCopyHousehold,
		"签字 张建国 在 housing_cases/" + demoCase + " 上：有效（valid）",
		"签字 张建国 在 households/" + demoHousehold + " 上：" + server.SignatureStatusTitle(signature.StatusStale) + "（stale）"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("demo output lacks %q:\n%s", want, out.String())
		}
	}
	path := filepath.Join(dir, "report-"+demoReportPeriod(time.Now()).Label+".xlsx")
	if !strings.Contains(out.String(), path) {
		t.Errorf("demo does not print the workbook path %s", path)
	}
	f, err := excelize.OpenFile(path)
	if err != nil {
		t.Fatalf("demo workbook: %v", err)
	}
	defer f.Close()
	overdue, err := f.GetRows(rules.KindVisitOverdue.Title())
	if err != nil || len(overdue) != 2 || overdue[1][1] != demoOverdueHousehold {
		t.Errorf("workbook overdue sheet %v (%v)", overdue, err)
	}
	short, err := f.GetRows(rules.KindResidencyShort.Title())
	if err != nil || len(short) != 2 || short[1][2] != demoShortMember || short[1][4] != "14" {
		t.Errorf("workbook residency sheet %v (%v)", short, err)
	}
}
