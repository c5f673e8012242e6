package console_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/ruhu-dev/ruhu/server/audit"
	"github.com/ruhu-dev/ruhu/server/core"
	"github.com/ruhu-dev/ruhu/syncengine"
)

// The admin page's per-user form moves an officer to another township and
// disables him through the core: the change is audited, and his open
// console session and his password stop working. A post without the
// CSRF token, a non-admin's post and an admin disabling themself change
// nothing.
func TestAdminUpdatesUser(t *testing.T) {
	t.Parallel()
	f := demo(t)
	ctx := context.Background()
	app := f.srv.Core()
	if _, err := app.AddUser(ctx, core.Operator(), core.UserInput{Username: "zhou", Password: password, Role: "officer",
		Scopes: []string{"340199001"}, DisplayName: "周帮扶"}); err != nil {
		t.Fatal(err)
	}
	zhou := httpClient(t)
	f.login(t, zhou, "zhou")
	if status, _, _ := get(t, zhou, f.url+"/"); status != http.StatusOK {
		t.Fatalf("zhou's console before: %d", status)
	}
	stored := func() *core.User {
		t.Helper()
		list, err := app.Users(ctx, core.Operator())
		if err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(list, func(u *core.User) bool { return u.Username == "zhou" })
		return list[i]
	}
	post := func(c *http.Client, user string, form url.Values) (int, string) {
		t.Helper()
		resp, err := c.PostForm(f.url+"/admin/users/"+user, form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	admin := httpClient(t)
	f.login(t, admin, "admin")
	status, _, page := get(t, admin, f.url+"/admin")
	if status != http.StatusOK || !strings.Contains(page, `action="/admin/users/zhou"`) {
		t.Fatalf("/admin: %d, no form for zhou", status)
	}
	csrf := csrfOf(t, page)
	move := url.Values{"role": {"township"}, "scopes": {"340199002"}, "status": {"enabled"}}

	if code, _ := post(admin, "zhou", move); code != http.StatusForbidden {
		t.Errorf("post without CSRF: %d, want 403", code)
	}
	county := httpClient(t)
	f.login(t, county, "county")
	_, _, countyPage := get(t, county, f.url+"/")
	move.Set("csrf", csrfOf(t, countyPage))
	if code, _ := post(county, "zhou", move); code != http.StatusForbidden {
		t.Errorf("county's post: %d, want 403", code)
	}
	if u := stored(); u.Role != "officer" {
		t.Fatalf("refused posts changed zhou: %+v", u)
	}

	move.Set("csrf", csrf)
	if code, _ := post(admin, "zhou", move); code != http.StatusSeeOther {
		t.Fatalf("move: %d", code)
	}
	if u := stored(); u.Role != "township" || !slices.Equal(u.Scopes, []string{"340199002"}) || u.Disabled {
		t.Errorf("after the move zhou is %+v", u)
	}
	entries, err := app.AuditTrail(ctx, core.Operator(), "34019900", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(entries, func(e *audit.Entry) bool {
		return e.Detail["action"] == "update" && e.Detail["user"] == "zhou"
	})
	if i < 0 || entries[i].Actor != "admin" || entries[i].Detail["role_before"] != "officer" || entries[i].Detail["scopes"] != "340199002" {
		t.Errorf("no audited move of zhou by admin in %d entries", len(entries))
	}

	disable := url.Values{"csrf": {csrf}, "role": {"township"}, "scopes": {"340199002"}, "status": {"disabled"}}
	if code, _ := post(admin, "zhou", disable); code != http.StatusSeeOther {
		t.Fatalf("disable: %d", code)
	}
	if status, h, _ := get(t, zhou, f.url+"/"); status != http.StatusSeeOther || !strings.HasPrefix(h.Get("Location"), "/login") {
		t.Errorf("disabled zhou's console session: %d %s, want a redirect to /login", status, h.Get("Location"))
	}
	if _, err := app.Login(ctx, "zhou", password); syncengine.ErrorCode(err) != syncengine.EUNAUTHORIZED {
		t.Errorf("disabled zhou's login: %v", err)
	}
	self := url.Values{"csrf": {csrf}, "role": {"admin"}, "scopes": {""}, "status": {"disabled"}}
	if code, body := post(admin, "admin", self); code != http.StatusBadRequest || !strings.Contains(body, "不能停用自己的账号") {
		t.Errorf("admin disabling self: %d", code)
	}
	if _, err := app.Login(ctx, "admin", password); err != nil {
		t.Errorf("admin after the refused self-disable: %v", err)
	}
}
