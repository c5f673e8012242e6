package fieldapp_test

import (
	"context"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	client "github.com/ruhu-dev/ruhu/client-sdk"
	"github.com/ruhu-dev/ruhu/client-sdk/fieldapp"
	"github.com/ruhu-dev/ruhu/schemas"
)

// clock is the idle lock's clock under the test's control.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func newApp(t *testing.T, reg *schemas.Registry, clk *clock) (*fieldapp.App, *client.Client, *httptest.Server) {
	t.Helper()
	if reg == nil {
		var err error
		if reg, err = schemas.New(); err != nil {
			t.Fatal(err)
		}
	}
	c, err := client.Open(filepath.Join(t.TempDir(), "tablet.db"), client.Options{Validator: reg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	opts := fieldapp.Options{Client: c, Schemas: reg, IdleLock: 2 * time.Minute}
	if clk != nil {
		opts.Now = clk.Now
	}
	app, err := fieldapp.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(app.Close)
	srv := httptest.NewServer(app.Handler())
	t.Cleanup(srv.Close)
	return app, c, srv
}

func do(t *testing.T, hc *http.Client, method, url, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Ruhu-App", "1")
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// Without the per-launch secret nothing is served, not even the page or
// its script; the launch URL sets an HttpOnly SameSite=Strict cookie that
// opens everything; a wrong secret or a foreign Host is refused.
func TestRequestsWithoutTheLaunchSecretAreRefused(t *testing.T) {
	app, _, srv := newApp(t, nil, nil)
	plain := &http.Client{}
	for _, path := range []string{"/", "/static/app.js", "/api/me", "/api/households", "/open?k=wrong" + app.Secret()} {
		if code, _ := do(t, plain, "GET", srv.URL+path, ""); code != http.StatusForbidden {
			t.Errorf("GET %s without the secret: %d, want 403", path, code)
		}
	}
	// A browser opening the bare address reads why, in a page; the API
	// answers JSON.
	if code, body := do(t, plain, "GET", srv.URL+"/", ""); code != http.StatusForbidden || !strings.Contains(body, "需要本次启动的链接") || strings.Contains(body, `"code"`) {
		t.Errorf("GET / without the secret: %d %s; want a page saying why", code, body)
	}
	if code, body := do(t, plain, "GET", srv.URL+"/api/me", ""); code != http.StatusForbidden || !strings.Contains(body, `"code":"EFORBIDDEN"`) {
		t.Errorf("GET /api/me without the secret: %d %s; want JSON", code, body)
	}
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar}
	resp, err := hc.Get(app.LaunchURL(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Request.URL.Path != "/" {
		t.Fatalf("launch URL: %d at %s", resp.StatusCode, resp.Request.URL)
	}
	set := resp.Request.Response.Header.Get("Set-Cookie")
	if !strings.Contains(set, "HttpOnly") || !strings.Contains(set, "SameSite=Strict") || strings.Contains(set, app.Secret()) {
		t.Fatalf("cookie %q: want HttpOnly, SameSite=Strict and not the secret itself", set)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
		t.Fatalf("CSP %q", csp)
	}
	if code, body := do(t, hc, "GET", srv.URL+"/api/me", ""); code != 200 || !strings.Contains(body, `"enrolled":false`) {
		t.Fatalf("/api/me with the cookie: %d %s", code, body)
	}
	req, _ := http.NewRequest("GET", srv.URL+"/api/me", nil)
	req.Host = "evil.example:80"
	for _, c := range jar.Cookies(req.URL) {
		req.AddCookie(c)
	}
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("foreign Host: %v %v", err, resp.Status)
	}
	// A POST without the app's header (a cross-site form) is refused.
	req, _ = http.NewRequest("POST", srv.URL+"/api/lock/lock", nil)
	if resp, err := hc.Do(req); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("POST without X-Ruhu-App: %v %v", err, resp.Status)
	}
}

// With a PIN set, the API locks after the idle time (the clock is
// injected) and only the right PIN unlocks it; activity keeps it open.
func TestPINLockAfterIdle(t *testing.T) {
	clk := &clock{now: time.Date(2026, 11, 10, 9, 0, 0, 0, time.UTC)}
	app, c, srv := newApp(t, nil, clk)
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar}
	if _, err := hc.Get(app.LaunchURL(srv.URL)); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Hour)
	if code, _ := do(t, hc, "GET", srv.URL+"/api/me", ""); code != 200 {
		t.Fatalf("no PIN set: locked anyway (%d)", code)
	}
	// The first PIN needs the server's key share (lock_test.go).
	if err := c.Login(context.Background(), newKeyServer(t, &clock{now: time.Now()}).URL, "wang", "pw"); err != nil {
		t.Fatal(err)
	}
	if err := c.Enroll(context.Background(), "平板"); err != nil {
		t.Fatal(err)
	}
	if err := c.RenewKeyShare(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := c.SetPIN("2468"); err != nil {
		t.Fatal(err)
	}
	clk.Advance(90 * time.Second)
	if code, _ := do(t, hc, "GET", srv.URL+"/api/me", ""); code != 200 {
		t.Fatalf("90 s idle of 2 min: %d", code)
	}
	clk.Advance(90 * time.Second) // activity at the last call: still open
	if code, _ := do(t, hc, "GET", srv.URL+"/api/me", ""); code != 200 {
		t.Fatalf("90 s after the last activity: %d", code)
	}
	clk.Advance(2 * time.Minute)
	if code, body := do(t, hc, "GET", srv.URL+"/api/me", ""); code != http.StatusLocked || !strings.Contains(body, "ELOCKED") {
		t.Fatalf("after the idle time: %d %s, want 423 ELOCKED", code, body)
	}
	if _, body := do(t, hc, "GET", srv.URL+"/api/lock", ""); !strings.Contains(body, `"locked":true`) {
		t.Fatalf("lock state %s", body)
	}
	if code, _ := do(t, hc, "POST", srv.URL+"/api/lock/unlock", `{"pin":"1111"}`); code != http.StatusUnauthorized {
		t.Fatalf("wrong PIN: %d", code)
	}
	if code, _ := do(t, hc, "GET", srv.URL+"/api/households", ""); code != http.StatusLocked {
		t.Fatalf("still locked after a wrong PIN: %d", code)
	}
	if code, _ := do(t, hc, "POST", srv.URL+"/api/lock/unlock", `{"pin":"2468"}`); code != 200 {
		t.Fatalf("right PIN: %d", code)
	}
	if code, _ := do(t, hc, "GET", srv.URL+"/api/me", ""); code != 200 {
		t.Fatalf("after unlock: %d", code)
	}
}

// The visit form is generated from the schema: inputs named by field path,
// in the schema's order, with the Chinese titles and enum labels the
// schema gives; a field added to the schema appears with no UI code and
// its value is typed by the schema.
func TestFormGeneratedFromSchema(t *testing.T) {
	reg, err := schemas.New()
	if err != nil {
		t.Fatal(err)
	}
	f, err := fieldapp.BuildForm(reg, "visits")
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]fieldapp.Field{}
	var order []string
	var walk func([]fieldapp.Field)
	walk = func(fs []fieldapp.Field) {
		for _, fd := range fs {
			names[fd.Name] = fd
			order = append(order, fd.Name)
			walk(fd.Fields)
		}
	}
	walk(f.Fields)
	tests := []struct{ name, widget, title string }{
		{"checklist.food", fieldapp.WidgetRadio, "不愁吃"},
		{"checklist.drinking_water", fieldapp.WidgetRadio, "饮水安全有保障"},
		{"notes", fieldapp.WidgetTextarea, "走访记录"},
		{"answered_by_member_id", fieldapp.WidgetMember, "受访家庭成员"},
		{"answered_by_name", fieldapp.WidgetText, "受访人姓名"},
		{"answered_by_relation", fieldapp.WidgetSelect, "受访人与户主关系"},
		{"gps", fieldapp.WidgetGPS, "位置"},
		{"photo_sha256s", fieldapp.WidgetPhotos, "照片"},
	}
	for _, tt := range tests {
		fd, ok := names[tt.name]
		if !ok || fd.Widget != tt.widget || fd.Title != tt.title {
			t.Errorf("%s: %+v, want widget %s title %s", tt.name, fd, tt.widget, tt.title)
		}
	}
	if got := names["checklist.food"].Options; len(got) != 3 || got[0].Label != "已保障" || got[1].Label != "存在问题" {
		t.Errorf("checklist options %+v", got)
	}
	if got := names["answered_by_relation"].Options[0]; got.Value != "head" || got.Label != "户主" {
		t.Errorf("relation option %+v", got)
	}
	for _, hidden := range []string{"household_id", "officer", "visited_at", "review_status", "review_note"} {
		if _, ok := names[hidden]; ok {
			t.Errorf("%s is filled by the app or a reviewer, yet has an input", hidden)
		}
	}
	if strings.Join(order[:3], " ") != "gps checklist checklist.food" {
		t.Errorf("order %v does not follow the schema", order)
	}

	// One more field in a test schema: it appears and saves, typed.
	reg2 := extraFieldSchemas(t)
	f2, err := fieldapp.BuildForm(reg2, "visits")
	if err != nil {
		t.Fatal(err)
	}
	var extra *fieldapp.Field
	for i := range f2.Fields {
		if f2.Fields[i].Name == "adults_at_home" {
			extra = &f2.Fields[i]
		}
	}
	if extra == nil || extra.Widget != fieldapp.WidgetNumber || extra.Title != "在家成年人数" {
		t.Fatalf("extra field %+v", extra)
	}
	vals, err := f2.Values(map[string]string{"adults_at_home": "3", "checklist.food": "ok", "notes": " "})
	if err != nil {
		t.Fatal(err)
	}
	if string(vals["adults_at_home"]) != "3" || string(vals["checklist"]) != `{"food":"ok"}` || vals["notes"] != nil {
		t.Fatalf("values %s", vals)
	}
	if _, err := f2.Values(map[string]string{"nope": "1"}); err == nil {
		t.Fatal("an input the form lacks was accepted")
	}
}

// extraFieldSchemas is the shipped schemas with one more visits field.
func extraFieldSchemas(t testing.TB) *schemas.Registry {
	t.Helper()
	files := fstest.MapFS{}
	err := fsWalk(schemas.Shipped(), files)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(files["json/visits.v1.json"].Data, &doc); err != nil {
		t.Fatal(err)
	}
	doc["properties"].(map[string]any)["adults_at_home"] = map[string]any{"type": "integer", "minimum": 0, "title": "在家成年人数"}
	b, _ := json.Marshal(doc)
	files["json/visits.v1.json"] = &fstest.MapFile{Data: b}
	reg, err := schemas.Load(files)
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

func fsWalk(src fs.FS, dst fstest.MapFS) error {
	return fs.WalkDir(src, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(src, p)
		if err != nil {
			return err
		}
		dst[p] = &fstest.MapFile{Data: b}
		return nil
	})
}
