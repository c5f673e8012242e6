package console_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// apiToken logs user in through the JSON API.
func (f *fixture) apiToken(t testing.TB, user string) string {
	t.Helper()
	resp, err := http.Post(f.url+"/v1/auth/login", "application/json", strings.NewReader(`{"username":"`+user+`","password":"`+password+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.AccessToken == "" {
		t.Fatalf("api login %s: %v", user, err)
	}
	return tok.AccessToken
}

type apiConflict struct {
	ID         string `json:"id"`
	RecordID   string `json:"record_id"`
	Field      string `json:"field"`
	Status     string `json:"status"`
	Candidates []struct {
		Value  json.RawMessage `json:"value"`
		Winner bool            `json:"winner"`
	} `json:"candidates"`
	Resolution *struct {
		By    string          `json:"by"`
		Value json.RawMessage `json:"value"`
		Note  string          `json:"note"`
	} `json:"resolution"`
}

// apiConflict returns the conflict on demoHousehold's field, as the API
// shows it to the county.
func (f *fixture) apiConflict(t testing.TB, field string) apiConflict {
	t.Helper()
	req, _ := http.NewRequest("GET", f.url+"/v1/conflicts?status=all", nil)
	req.Header.Set("Authorization", "Bearer "+f.apiToken(t, "county"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Conflicts []apiConflict `json:"conflicts"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	for _, c := range out.Conflicts {
		if c.RecordID == demoHousehold && c.Field == field {
			return c
		}
	}
	t.Fatalf("no conflict on %s.%s among %+v", demoHousehold, field, out.Conflicts)
	return apiConflict{}
}

// Every console answer carries the CSP (no inline script, no framing) and
// pages with personal data are not stored by the browser.
func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	f := demo(t)
	c := httpClient(t)
	f.login(t, c, "county")
	for _, path := range []string{"/login", "/", "/households", "/households/" + demoHousehold, "/conflicts", "/findings", "/reports", "/households/nope"} {
		_, h, _ := get(t, c, f.url+path)
		if got := h.Get("Content-Security-Policy"); !strings.Contains(got, "default-src 'self'") || !strings.Contains(got, "frame-ancestors 'none'") ||
			!strings.Contains(got, "script-src 'self'") || strings.Contains(got, "unsafe-inline") {
			t.Errorf("%s: CSP = %q", path, got)
		}
		if got := h.Get("Cache-Control"); got != "no-store" {
			t.Errorf("%s: Cache-Control = %q, want no-store", path, got)
		}
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("X-Frame-Options") != "DENY" {
			t.Errorf("%s: missing nosniff or DENY: %v", path, h)
		}
	}
	// The login cookie is HttpOnly and SameSite=Strict.
	resp, err := httpClient(t).PostForm(f.url+"/login", url.Values{"username": {"county"}, "password": {password}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	sc := resp.Header.Get("Set-Cookie")
	if !strings.Contains(sc, "HttpOnly") || !strings.Contains(sc, "SameSite=Strict") {
		t.Errorf("session cookie %q lacks HttpOnly or SameSite=Strict", sc)
	}
}

// The console leaves the API alone: an unknown API path is still the JSON
// 404, health and metrics still answer.
func TestAPIPathsUnchanged(t *testing.T) {
	t.Parallel()
	f := demo(t)
	c := httpClient(t)
	status, h, body := get(t, c, f.url+"/v1/nothing")
	if status != 404 || !strings.Contains(h.Get("Content-Type"), "json") || !strings.Contains(body, "ENOTFOUND") {
		t.Errorf("/v1/nothing: %d %s %s", status, h.Get("Content-Type"), body)
	}
	if status, _, body := get(t, c, f.url+"/healthz"); status != 200 || !strings.Contains(body, `"ok"`) {
		t.Errorf("/healthz: %d %s", status, body)
	}
	if status, _, _ := get(t, c, f.url+"/metrics"); status != 200 {
		t.Errorf("/metrics: %d", status)
	}
	// Signed out, a page sends the browser to the login form.
	status, h, _ = get(t, c, f.url+"/households")
	if status != http.StatusSeeOther || !strings.HasPrefix(h.Get("Location"), "/login") {
		t.Errorf("signed-out /households: %d %s", status, h.Get("Location"))
	}
}

// A wrong password and an unknown user get the same answer.
func TestLoginFailureLooksTheSame(t *testing.T) {
	t.Parallel()
	f := demo(t)
	answer := func(user, pw string) (int, string) {
		resp, err := httpClient(t).PostForm(f.url+"/login", url.Values{"username": {user}, "password": {pw}})
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		_, main, _ := strings.Cut(string(b), "<main")
		return resp.StatusCode, strings.ReplaceAll(main, user, "")
	}
	s1, b1 := answer("county", "wrong-password")
	s2, b2 := answer("nosuchuser", "wrong-password")
	if s1 != http.StatusUnauthorized || s1 != s2 || b1 != b2 || !strings.Contains(b1, "用户名或密码错误") {
		t.Errorf("wrong password: %d, unknown user: %d; bodies equal: %v", s1, s2, b1 == b2)
	}
}

// A POST without the session's CSRF token changes nothing, even with the
// session cookie (a same-site attacker, a form planted by an extension).
func TestPostWithoutCSRFTokenRefused(t *testing.T) {
	t.Parallel()
	f := demo(t)
	c := httpClient(t)
	f.login(t, c, "county")
	cf := f.apiConflict(t, "member_count")
	if cf.Status != "open" {
		t.Skipf("conflict %s is %s", cf.ID, cf.Status)
	}
	for _, tok := range []string{"", "forged"} {
		resp, err := c.PostForm(f.url+"/conflicts/"+cf.ID+"/resolve", url.Values{"csrf": {tok}, "choice": {string(cf.Candidates[0].Value)}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("csrf %q: status %d, want 403", tok, resp.StatusCode)
		}
	}
	// A cross-origin Origin is refused before anything else.
	req, _ := http.NewRequest("POST", f.url+"/logout", strings.NewReader("csrf=x"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "http://evil.example")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-origin POST: %d, want 403", resp.StatusCode)
	}
	if got := f.apiConflict(t, "member_count"); got.Status != "open" {
		t.Errorf("conflict is %s after refused posts", got.Status)
	}
}

// Logging out deletes the session: the old cookie no longer opens a page.
func TestLogoutEndsSession(t *testing.T) {
	t.Parallel()
	f := demo(t)
	c := httpClient(t)
	f.login(t, c, "auditor")
	u, _ := url.Parse(f.url)
	cookies := c.Jar.Cookies(u)
	if len(cookies) == 0 {
		t.Fatal("no session cookie")
	}
	status, _, body := get(t, c, f.url+"/")
	if status != 200 {
		t.Fatalf("/ signed in: %d", status)
	}
	resp, err := c.PostForm(f.url+"/logout", url.Values{"csrf": {csrfOf(t, body)}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout: %d", resp.StatusCode)
	}
	// Replay the old cookie with a fresh client.
	old := httpClient(t)
	old.Jar.SetCookies(u, cookies)
	status, h, _ := get(t, old, f.url+"/")
	if status != http.StatusSeeOther || !strings.HasPrefix(h.Get("Location"), "/login") {
		t.Errorf("old cookie after logout: %d %s, want a redirect to /login", status, h.Get("Location"))
	}
}

// Officers see only the households assigned to them; another household of
// their township is not found.
func TestOfficerSeesOnlyAssignedHouseholds(t *testing.T) {
	t.Parallel()
	f := demo(t)
	c := httpClient(t)
	f.login(t, c, "wang")
	status, _, body := get(t, c, f.url+"/households")
	if status != 200 {
		t.Fatalf("/households: %d", status)
	}
	for _, id := range []string{"h34019900100101", "h34019900100102", "h34019900100103"} {
		if !strings.Contains(body, id) {
			t.Errorf("wang's list lacks %s", id)
		}
	}
	if strings.Contains(body, "h34019900100104") || strings.Contains(body, "h34019900100201") {
		t.Error("wang's list shows a household not assigned to him")
	}
	if status, _, _ := get(t, c, f.url+"/households/h34019900100104"); status != 404 {
		t.Errorf("unassigned household: %d, want 404", status)
	}
	if status, _, _ := get(t, c, f.url+"/reports"); status != 403 {
		t.Errorf("officer /reports: %d, want 403", status)
	}
}

// Every page of the console renders for the county.
func TestPagesRender(t *testing.T) {
	t.Parallel()
	f := demo(t)
	c := httpClient(t)
	f.login(t, c, "county")
	for _, path := range []string{"/", "/?period=" + f.month.Label, "/?area=340199001", "/households", "/households?q=张&status=exited",
		"/households/" + demoHousehold, "/conflicts", "/conflicts?status=all", "/findings", "/reports",
		"/reports?list=visit_overdue&period=" + f.month.Label, "/reports?list=summary"} {
		status, _, body := get(t, c, f.url+path)
		if status != 200 {
			t.Errorf("%s: %d %s", path, status, body)
		}
	}
	status, h, body := get(t, c, f.url+"/reports/download?format=xlsx&area="+county+"&period="+f.month.Label)
	if status != 200 || !strings.Contains(h.Get("Content-Type"), "spreadsheetml") || !strings.HasPrefix(body, "PK") {
		t.Errorf("xlsx download: %d %s", status, h.Get("Content-Type"))
	}
	status, _, body = get(t, c, f.url+"/reports/download?format=csv&list=residency_short&area="+county+"&period="+f.month.Label)
	if status != 200 || !strings.Contains(body, "zhao") {
		t.Errorf("csv download: %d %q", status, body)
	}
}
