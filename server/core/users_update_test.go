package core_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"maps"
	"slices"
	"testing"

	"github.com/ruhu-dev/ruhu/server/audit"
	"github.com/ruhu-dev/ruhu/server/core"
	"github.com/ruhu-dev/ruhu/syncengine"
)

func ptr[T any](v T) *T { return &v }

// TestUpdateUser: an admin changes another account's role, scopes, name
// or disabled flag; each change is stored and leaves one audit entry with
// the role and scopes before and after; refusals store and record nothing.
func TestUpdateUser(t *testing.T) {
	admin := core.Caller{User: "root", Role: "admin", Scopes: []string{""}}
	cases := []struct {
		name   string
		caller core.Caller
		user   string
		up     core.UserUpdate
		code   string
		want   core.User         // Username, Role, Scopes, Disabled, DisplayName after
		detail map[string]string // the audit entry's detail; nil: no entry
	}{
		{name: "move to another township", caller: admin, user: "wang", up: core.UserUpdate{Scopes: []string{"340199002001"}},
			want: core.User{Role: "officer", Scopes: []string{"340199002001"}},
			detail: map[string]string{"action": "update", "user": "wang", "role_before": "officer", "role": "officer",
				"scopes_before": "340199001001", "scopes": "340199002001"}},
		{name: "promote with new scopes", caller: admin, user: "wang", up: core.UserUpdate{Role: ptr("township"), Scopes: []string{"340199001", "340199003"}},
			want: core.User{Role: "township", Scopes: []string{"340199001", "340199003"}},
			detail: map[string]string{"action": "update", "user": "wang", "role_before": "officer", "role": "township",
				"scopes_before": "340199001001", "scopes": "340199001,340199003"}},
		{name: "disable a leaver", caller: admin, user: "wang", up: core.UserUpdate{Disabled: ptr(true)},
			want: core.User{Role: "officer", Scopes: []string{"340199001001"}, Disabled: true},
			detail: map[string]string{"action": "update", "user": "wang", "role_before": "officer", "role": "officer",
				"scopes_before": "340199001001", "scopes": "340199001001", "status": "disable"}},
		{name: "rename", caller: admin, user: "wang", up: core.UserUpdate{DisplayName: ptr("王五")},
			want: core.User{Role: "officer", Scopes: []string{"340199001001"}, DisplayName: "王五"},
			detail: map[string]string{"action": "update", "user": "wang", "role_before": "officer", "role": "officer",
				"scopes_before": "340199001001", "scopes": "340199001001", "display_name": "王五"}},
		{name: "same values change nothing", caller: admin, user: "wang", up: core.UserUpdate{Role: ptr("officer"), Disabled: ptr(false)},
			want: core.User{Role: "officer", Scopes: []string{"340199001001"}}},
		{name: "admin keeps own admin role", caller: admin, user: "root", up: core.UserUpdate{Role: ptr("admin"), DisplayName: ptr("管理员")},
			want: core.User{Role: "admin", Scopes: []string{""}, DisplayName: "管理员"},
			detail: map[string]string{"action": "update", "user": "root", "role_before": "admin", "role": "admin",
				"scopes_before": "", "scopes": "", "display_name": "管理员"}},
		{name: "not an admin", caller: core.Caller{User: "tz", Role: "county", Scopes: []string{"340199"}}, user: "wang",
			up: core.UserUpdate{Disabled: ptr(true)}, code: syncengine.EFORBIDDEN},
		{name: "unknown user", caller: admin, user: "nobody", up: core.UserUpdate{Disabled: ptr(true)}, code: syncengine.ENOTFOUND},
		{name: "empty update", caller: admin, user: "wang", code: syncengine.EINVALID},
		{name: "unknown role", caller: admin, user: "wang", up: core.UserUpdate{Role: ptr("mayor")}, code: syncengine.EINVALID},
		{name: "no scopes", caller: admin, user: "wang", up: core.UserUpdate{Scopes: []string{}}, code: syncengine.EINVALID},
		{name: "bad scope", caller: admin, user: "wang", up: core.UserUpdate{Scopes: []string{"34x"}}, code: syncengine.EINVALID},
		{name: "everything scope for an officer", caller: admin, user: "wang", up: core.UserUpdate{Scopes: []string{""}}, code: syncengine.EINVALID},
		{name: "demote an admin keeping its everything scope", caller: admin, user: "boss", up: core.UserUpdate{Role: ptr("county")}, code: syncengine.EINVALID},
		{name: "admin disables self", caller: admin, user: "root", up: core.UserUpdate{Disabled: ptr(true)}, code: syncengine.EINVALID},
		{name: "admin demotes self", caller: admin, user: "root", up: core.UserUpdate{Role: ptr("county"), Scopes: []string{"340199"}}, code: syncengine.EINVALID},
		{name: "long display name", caller: admin, user: "wang", up: core.UserUpdate{DisplayName: ptr(string(make([]byte, 101)))}, code: syncengine.EINVALID},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, st := auditCore(t, core.Options{})
			ctx := context.Background()
			for _, in := range []core.UserInput{
				{Username: "root", Password: "long-enough-1", Role: "admin", Scopes: []string{""}},
				{Username: "boss", Password: "long-enough-1", Role: "admin", Scopes: []string{""}},
				{Username: "wang", Password: "long-enough-1", Role: "officer", Scopes: []string{"340199001001"}},
			} {
				if _, err := c.AddUser(ctx, core.Operator(), in); err != nil {
					t.Fatal(err)
				}
			}
			before, err := c.AuditTrail(ctx, core.Operator(), "", 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			u, err := c.UpdateUser(ctx, tc.caller, tc.user, tc.up)
			if syncengine.ErrorCode(err) != tc.code {
				t.Fatalf("answered %v, want code %q", err, tc.code)
			}
			users, err := c.Users(ctx, core.Operator())
			if err != nil {
				t.Fatal(err)
			}
			idx := slices.IndexFunc(users, func(u *core.User) bool { return u.Username == "wang" })
			if tc.code == "" {
				if u.Username != tc.user {
					t.Errorf("returned user %q", u.Username)
				}
				idx = slices.IndexFunc(users, func(u *core.User) bool { return u.Username == tc.user })
				got := users[idx]
				if got.Role != tc.want.Role || !slices.Equal(got.Scopes, tc.want.Scopes) || got.Disabled != tc.want.Disabled ||
					got.DisplayName != tc.want.DisplayName || got.PasswordHash == "" {
					t.Errorf("stored %+v, want %+v", got, tc.want)
				}
			} else if w := users[idx]; w.Role != "officer" || !slices.Equal(w.Scopes, []string{"340199001001"}) || w.Disabled {
				t.Errorf("a refused update changed wang: %+v", w)
			}
			after, err := c.AuditTrail(ctx, core.Operator(), "", 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			added := after[:len(after)-len(before)]
			switch {
			case tc.detail == nil && len(added) != 0:
				t.Errorf("recorded %+v, want nothing", added[0])
			case tc.detail != nil && len(added) != 1:
				t.Errorf("recorded %d entries, want 1", len(added))
			case tc.detail != nil:
				e := added[0]
				if e.Kind != audit.KindUser || e.Actor != tc.caller.User || !maps.Equal(e.Detail, tc.detail) {
					t.Errorf("entry %s by %s %v, want %v", e.Kind, e.Actor, e.Detail, tc.detail)
				}
			}
			if _, err := st.VerifyAudit(nil); err != nil {
				t.Errorf("verify: %v", err)
			}
		})
	}
}

// TestUpdateUserTakesEffect: a moved officer's existing access token
// carries the new scope from the next request, and a disabled one can no
// longer log in, use an access token or refresh a device token; enabled
// again, they can.
func TestUpdateUserTakesEffect(t *testing.T) {
	c, _ := auditCore(t, core.Options{})
	ctx := context.Background()
	if _, err := c.AddUser(ctx, core.Operator(), core.UserInput{Username: "wang", Password: "long-enough-1", Role: "officer", Scopes: []string{"340199001001"}}); err != nil {
		t.Fatal(err)
	}
	s, err := c.Login(ctx, "wang", "long-enough-1")
	if err != nil {
		t.Fatal(err)
	}
	user, err := c.Authenticate(ctx, s.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	dev, err := c.Enroll(ctx, user, "tablet", pub)
	if err != nil {
		t.Fatal(err)
	}

	if _, err := c.UpdateUser(ctx, core.Operator(), "wang", core.UserUpdate{Scopes: []string{"340199002001"}}); err != nil {
		t.Fatal(err)
	}
	moved, err := c.Authenticate(ctx, dev.AccessToken)
	if err != nil || !slices.Equal(moved.Scopes, []string{"340199002001"}) {
		t.Fatalf("after the move the old token authenticates as %+v, %v", moved, err)
	}

	if _, err := c.UpdateUser(ctx, core.Operator(), "wang", core.UserUpdate{Disabled: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Login(ctx, "wang", "long-enough-1"); syncengine.ErrorCode(err) != syncengine.EUNAUTHORIZED {
		t.Errorf("disabled login: %v", err)
	}
	if _, err := c.Authenticate(ctx, dev.AccessToken); syncengine.ErrorCode(err) != syncengine.EUNAUTHORIZED {
		t.Errorf("disabled access token: %v", err)
	}
	if _, err := c.Refresh(ctx, dev.RefreshToken); syncengine.ErrorCode(err) != syncengine.EUNAUTHORIZED {
		t.Errorf("disabled refresh: %v", err)
	}

	if _, err := c.UpdateUser(ctx, core.Operator(), "wang", core.UserUpdate{Disabled: ptr(false)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Refresh(ctx, dev.RefreshToken); err != nil {
		t.Errorf("enabled again, refresh: %v", err)
	}
	if _, err := c.Login(ctx, "wang", "long-enough-1"); err != nil {
		t.Errorf("enabled again, login: %v", err)
	}
}
