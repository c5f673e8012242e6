package console_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"image/jpeg"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/disintegration/imaging"

	"github.com/ruhu-dev/ruhu/assets/diskstore"
	"github.com/ruhu-dev/ruhu/assets/photobench"
	client "github.com/ruhu-dev/ruhu/client-sdk"
	"github.com/ruhu-dev/ruhu/internal/browsertest"
	"github.com/ruhu-dev/ruhu/rules"
	"github.com/ruhu-dev/ruhu/schemas"
	"github.com/ruhu-dev/ruhu/server"
	"github.com/ruhu-dev/ruhu/server/boltstore"
	"github.com/ruhu-dev/ruhu/server/core"
	"github.com/ruhu-dev/ruhu/syncengine"
)

var browsers browsertest.Pool

func TestMain(m *testing.M) {
	code := m.Run()
	browsers.Close()
	if fx != nil {
		fx.close()
	}
	os.Exit(code)
}

// The demo county of cmd/ruhu (seed.go, demo.go), rebuilt here through
// the same paths: users and records through the core, then two tablets
// (client-sdk over HTTP) that edit one household offline, attach photos
// and signatures, sync and upload.
const (
	password       = "ruhu-demo-2026"
	county         = "340199"
	township1      = "340199001"
	demoHousehold  = "h34019900100101"
	demoArea       = "340199001001"
	demoCase       = "hc34019900100101"
	copyHousehold  = "h34019900100201"
	otherTownshipH = "h34019900200101" // in township 340199002
	xssHousehold   = "h34019900100105"
	xssName        = `<img src=x onerror=alert(1)>`
)

var villages = []struct{ code, name, township string }{
	{"340199001001", "桃园村", "340199001"},
	{"340199001002", "李家村", "340199001"},
	{"340199002001", "河湾村", "340199002"},
}

var users = []core.UserInput{
	{Username: "admin", Role: "admin", Scopes: []string{""}, DisplayName: "系统管理员"},
	{Username: "county", Role: "county", Scopes: []string{county}, DisplayName: "县扶贫办"},
	{Username: "township1", Role: "township", Scopes: []string{township1}, DisplayName: "一乡扶贫工作站"},
	{Username: "wang", Role: "officer", Scopes: []string{township1}, DisplayName: "王帮扶"},
	{Username: "li", Role: "officer", Scopes: []string{township1}, DisplayName: "李帮扶"},
	{Username: "zhao", Role: "team_member", Scopes: []string{demoArea}, DisplayName: "赵队员"},
	{Username: "sun", Role: "team_member", Scopes: []string{demoArea}, DisplayName: "孙书记"},
	{Username: "auditor", Role: "auditor", Scopes: []string{county}, DisplayName: "检查组"},
}

// fixture is the one server of this package with the demo county.
type fixture struct {
	url    string
	srv    *server.Server
	store  *boltstore.Store
	dir    string
	month  rules.Period // the report month with the seeded field work
	cancel func()
	err    error
}

var (
	fx     *fixture
	fxOnce sync.Once
)

// demo returns the package's seeded server, building it on first use.
func demo(t testing.TB) *fixture {
	t.Helper()
	fxOnce.Do(func() {
		fx = &fixture{}
		fx.err = fx.start()
	})
	if fx.err != nil {
		t.Fatalf("demo fixture: %v", fx.err)
	}
	return fx
}

func (f *fixture) close() {
	if f.cancel != nil {
		f.cancel()
	}
	if f.dir != "" {
		os.RemoveAll(f.dir)
	}
}

func (f *fixture) start() error {
	dir, err := os.MkdirTemp("", "ruhu-console-test-")
	if err != nil {
		return err
	}
	f.dir = dir
	store, err := boltstore.Open(filepath.Join(dir, "ruhu.db"), boltstore.Options{})
	if err != nil {
		return err
	}
	f.store = store
	blobs, err := diskstore.Open(filepath.Join(dir, "blobs"))
	if err != nil {
		return err
	}
	reg, err := schemas.New()
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if os.Getenv("RUHU_CONSOLE_TEST_LOG") == "1" {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	f.srv = server.New(log, server.Config{Blobs: blobs}, store.Core(), reg)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	f.url = "http://" + ln.Addr().String()
	go func() { _ = f.srv.Serve(ln) }()
	f.cancel = func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = f.srv.Shutdown(ctx)
		_ = store.Close()
	}
	now := time.Now()
	f.month = rules.PeriodOf(rules.UnitMonth, rules.PeriodOf(rules.UnitMonth, now).Start.Add(-time.Nanosecond))
	if err := seed(f.srv.Core(), f.month, now); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	return f.tablets(reg)
}

// seed writes the demo county's users and records through the core, as
// cmd/ruhu's seedDemo does, plus a household whose head's name is markup.
func seed(app *core.Core, month rules.Period, now time.Time) error {
	ctx := context.Background()
	for _, u := range users {
		u.Password = password
		if _, err := app.AddUser(ctx, core.Operator(), u); err != nil {
			return fmt.Errorf("user %s: %w", u.Username, err)
		}
	}
	surnames := []string{"张", "王", "李", "赵", "刘", "陈", "杨", "黄", "周", "吴", "徐", "孙"}
	given := []string{"建国", "秀英", "桂兰", "德明", "玉珍", "志强", "凤英", "国华", "淑珍", "永福", "春梅", "大山"}
	base := time.Date(2026, 1, 1, 8, 0, 0, 0, time.UTC).UnixMilli()
	n := 0
	var ops []*syncengine.Op
	add := func(author, col, id, area string, fields map[string]any) {
		n++
		set := map[string]json.RawMessage{}
		for k, v := range fields {
			b, _ := json.Marshal(v)
			set[k] = b
		}
		ops = append(ops, &syncengine.Op{ID: fmt.Sprintf("seed-%05d", n), RecordID: id, Collection: col, Area: area,
			Author: author, Device: "seed", HLC: syncengine.MakeHLC(base+int64(n), 0), Set: set, ReceivedAt: now.UTC()})
	}
	centers := [][2]float64{{31.7051, 117.1402}, {31.7188, 117.1610}, {31.6520, 117.2033}}
	for vi, v := range villages {
		add("seed", "villages", "v"+v.code, v.code, map[string]any{"code": v.code, "name": v.name, "township_code": v.township,
			"center": map[string]any{"lat": centers[vi][0], "lon": centers[vi][1], "accuracy_m": 10}, "geofence_m": 800})
		for h := 1; h <= 4; h++ {
			idx := vi*4 + h - 1
			hid := fmt.Sprintf("h%s%02d", v.code, h)
			status := map[string]any{"value": "exited", "year": 2019}
			if h == 4 {
				status = map[string]any{"value": "monitored", "year": 2025}
			}
			add("seed", "households", hid, v.code, map[string]any{"head_name": surnames[idx] + given[idx], "status": status,
				"address": fmt.Sprintf("%s%d组%d号", v.name, h, 10+h), "member_count": 2 + h%3, "primary_cause": "illness",
				"phone": fmt.Sprintf("1380551%04d", 1000+idx)})
			add("seed", "members", "m"+hid, v.code, map[string]any{"household_id": hid, "name": surnames[idx] + given[idx],
				"relation": "head", "id_number": fmt.Sprintf("34019919600101%03d3", idx)})
		}
	}
	add("seed", "households", xssHousehold, demoArea, map[string]any{"head_name": xssName, "status": map[string]any{"value": "poor"},
		"address": `桃园村5组"'><script>alert(2)</script>`, "member_count": 1, "primary_cause": "illness"})
	add("seed", "teams", "t"+demoArea, demoArea, map[string]any{"village_code": demoArea, "name": "桃园村驻村工作队", "members": []string{"sun", "zhao"}, "first_secretary": "sun"})
	for i, a := range []struct{ officer, hh string }{
		{"wang", demoHousehold}, {"wang", "h34019900100102"}, {"wang", "h34019900100103"},
		{"li", demoHousehold}, {"li", "h34019900100201"}, {"li", "h34019900100202"},
	} {
		add("seed", "assignments", fmt.Sprintf("a%02d", i+1), a.hh[1:13], map[string]any{"officer": a.officer, "household_id": a.hh, "active": true})
	}
	// A month of field work: visits to all but 河湾村's monitored
	// household, 22 check-in days for sun and 12 (plus one far away and
	// approved duty days) for zhao, a housing case whose photo never came.
	day := func(d, hour int) string {
		return month.Start.AddDate(0, 0, d-1).Add(time.Duration(hour) * time.Hour).Format(time.RFC3339)
	}
	checklist := map[string]string{"food": "ok", "clothing": "ok", "education": "ok", "medical": "ok", "housing": "ok", "drinking_water": "ok"}
	for vi, v := range villages {
		officer := "wang"
		if vi > 0 {
			officer = "li"
		}
		for h := 1; h <= 4; h++ {
			hid := fmt.Sprintf("h%s%02d", v.code, h)
			if hid == "h34019900200104" {
				continue
			}
			add(officer, "visits", "vis-"+hid+"-"+month.Label, v.code, map[string]any{"household_id": hid, "officer": officer,
				"visited_at": day(3+vi*4+h, 10), "checklist": checklist, "answered_by_member_id": "m" + hid, "answered_by_relation": "head",
				"notes": "例行走访，情况稳定。"})
		}
	}
	checkin := func(member string, d int, latOffset float64) {
		add(member, "checkins", fmt.Sprintf("ck-%s-%s-%02d", member, month.Label, d), demoArea, map[string]any{
			"member": member, "village_code": demoArea, "at": day(d, 8),
			"gps": map[string]any{"lat": centers[0][0] + latOffset, "lon": centers[0][1], "accuracy_m": 12}})
	}
	for d := 1; d <= 22; d++ {
		checkin("sun", d, 0)
	}
	for d := 1; d <= 12; d++ {
		checkin("zhao", d, 0)
	}
	checkin("zhao", 13, 0.05)
	for i, kind := range []string{"training", "meeting"} {
		d := 14 + i
		add("township1", "duty_days", fmt.Sprintf("dd-zhao-%s-%02d", month.Label, d), demoArea, map[string]any{
			"member": "zhao", "date": month.Start.AddDate(0, 0, d-1).Format(time.DateOnly), "kind": kind, "approved_by": "township1"})
	}
	caseID := "hc34019900100202"
	add("li", "housing_cases", caseID, "340199001002", map[string]any{"household_id": "h34019900100202", "grade": "C", "build_mode": "repair"})
	sum := sha256.Sum256([]byte("demo photo " + caseID))
	add("li", "photos", "ph-"+caseID+"-before", "340199001002", map[string]any{"blob_sha256": hex.EncodeToString(sum[:]),
		"case_id": caseID, "household_id": "h34019900100202", "stage": "before", "captured_at": day(2, 15)})
	_, err := app.Load(ctx, ops)
	return err
}

// tablets runs the demo's two tablets: offline evidence (a renovation
// case with before and after photos, the head's signatures, a resized copy
// of the after photo for another household), then both edit the address
// of demoHousehold (the open conflict) and sign-then-change makes the
// household signature stale.
func (f *fixture) tablets(reg *schemas.Registry) error {
	ctx := context.Background()
	policy := func(col string) syncengine.MergePolicy {
		p := reg.Policy(col)
		return syncengine.MergePolicy{AppendOnly: p.AppendOnly, Annotations: p.Annotations}
	}
	var tabs []*client.Client
	for _, u := range []string{"wang", "li"} {
		c, err := client.Open(filepath.Join(f.dir, "tablet-"+u+".db"), client.Options{Validator: reg, Policy: policy})
		if err != nil {
			return err
		}
		defer c.Close()
		if err := c.Login(ctx, f.url, u, password); err != nil {
			return fmt.Errorf("%s login: %w", u, err)
		}
		if err := c.Enroll(ctx, "平板-"+u); err != nil {
			return fmt.Errorf("%s enroll: %w", u, err)
		}
		if _, err := c.Sync(ctx, nil); err != nil {
			return fmt.Errorf("%s sync: %w", u, err)
		}
		tabs = append(tabs, c)
	}
	a, b := tabs[0], tabs[1]
	now := time.Now()
	if _, err := a.Save(ctx, "housing_cases", demoCase, demoArea, map[string]json.RawMessage{
		"household_id": json.RawMessage(`"` + demoHousehold + `"`), "grade": json.RawMessage(`"D"`), "build_mode": json.RawMessage(`"repair"`)}); err != nil {
		return err
	}
	before, err := photobench.JPEG(1600, 1200, 7, 90)
	if err != nil {
		return err
	}
	after, err := photobench.JPEG(1600, 1200, 8, 90)
	if err != nil {
		return err
	}
	site := client.GPS{Lat: 31.7051, Lon: 117.1402, AccuracyM: 5}
	for _, p := range []client.PhotoAttachment{
		{HouseholdID: demoHousehold, CaseID: demoCase, Stage: "before", Original: before, CapturedAt: now.AddDate(0, -2, 0), GPS: &site},
		{HouseholdID: demoHousehold, CaseID: demoCase, Stage: "after", Original: after, CapturedAt: now.Add(-2 * time.Hour),
			GPS: &client.GPS{Lat: site.Lat + 0.0002, Lon: site.Lon + 0.0001, AccuracyM: 5}},
	} {
		if _, err := a.AttachPhoto(ctx, p); err != nil {
			return fmt.Errorf("attach %s: %w", p.Stage, err)
		}
	}
	strokes := []client.Stroke{{{X: 10, Y: 40, T: 0}, {X: 30, Y: 10, T: 16}, {X: 50, Y: 42, T: 33}}}
	for _, sc := range []client.SignatureCapture{
		{SignerName: "张建国", SignerRole: "household_head", SignedCollection: "housing_cases", SignedRecordID: demoCase, Purpose: "acceptance", Strokes: strokes},
		{SignerName: "张建国", SignerRole: "household_head", SignedCollection: "households", SignedRecordID: demoHousehold, Purpose: "identification", Strokes: strokes},
	} {
		if _, err := a.CaptureSignature(ctx, sc); err != nil {
			return fmt.Errorf("signature: %w", err)
		}
	}
	img, err := jpeg.Decode(bytes.NewReader(after))
	if err != nil {
		return err
	}
	var copied bytes.Buffer
	if err := jpeg.Encode(&copied, imaging.Resize(img, 1200, 0, imaging.Lanczos), &jpeg.Options{Quality: 70}); err != nil {
		return err
	}
	if _, err := b.AttachPhoto(ctx, client.PhotoAttachment{HouseholdID: copyHousehold, Stage: "after", Original: copied.Bytes(),
		CapturedAt: now.Add(-time.Hour), GPS: &client.GPS{Lat: 31.7188, Lon: 117.1610, AccuracyM: 8}}); err != nil {
		return fmt.Errorf("attach copy: %w", err)
	}
	for _, e := range []struct {
		c      *client.Client
		fields map[string]any
	}{
		{a, map[string]any{"phone": "13905510001", "address": "桃园村1组11号（新房）", "member_count": 4}},
		{b, map[string]any{"member_count": 5, "address": "桃园村1组11号（已搬迁）", "phone": "13905510002"}},
	} {
		set := map[string]json.RawMessage{}
		for k, v := range e.fields {
			set[k], _ = json.Marshal(v)
		}
		if _, err := e.c.Save(ctx, "households", demoHousehold, demoArea, set); err != nil {
			return err
		}
	}
	for _, c := range []*client.Client{a, b, a} {
		if _, err := c.Sync(ctx, nil); err != nil {
			return fmt.Errorf("sync: %w", err)
		}
	}
	for _, c := range []*client.Client{a, b} {
		if _, err := c.UploadAll(ctx, nil); err != nil {
			return fmt.Errorf("upload: %w", err)
		}
	}
	// Wait for the server to make thumbnails and perceptual hashes: the
	// reused photo is found once both copies are processed.
	resp, err := http.Post(f.url+"/v1/auth/login", "application/json",
		strings.NewReader(`{"username":"county","password":"`+password+`"}`))
	if err != nil {
		return err
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	err = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if err != nil {
		return err
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		req, _ := http.NewRequest("GET", f.url+"/v1/findings?area="+county, nil)
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(body), `"reused_photo"`) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the photos were not processed within a minute: %s", body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// httpClient is a cookie-keeping client that does not follow redirects.
func httpClient(t testing.TB) *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// login signs a client in through the login form.
func (f *fixture) login(t testing.TB, c *http.Client, user string) {
	t.Helper()
	resp, err := c.PostForm(f.url+"/login", url.Values{"username": {user}, "password": {password}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login %s: status %d", user, resp.StatusCode)
	}
}

func get(t testing.TB, c *http.Client, u string) (int, http.Header, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// csrfOf extracts the CSRF token of a page's forms.
func csrfOf(t testing.TB, body string) string {
	t.Helper()
	_, rest, ok := strings.Cut(body, `name="csrf" value="`)
	if !ok {
		t.Fatal("page has no CSRF field")
	}
	tok, _, _ := strings.Cut(rest, `"`)
	return tok
}
