package server_test

import (
	"slices"
	"testing"

	"github.com/ruhu-dev/ruhu/syncengine"
)

// TestUpdateUserAPI: PATCH /v1/admin/users/{username} moves an officer to
// another township (his live token carries the new scope at once, and the
// county's auditor sees the change in the audit trail), disables a leaver
// (login, access token and refresh all refused), and refuses the wrong
// caller, an unknown user, bad input and an admin disabling themself.
func TestUpdateUserAPI(t *testing.T) {
	ts := startServer(t, serverOptions{users: pick(testUsers(), "admin", "county", "wang", "auditor"), seed: standardSeed()})
	admin := ts.as("admin").login
	wang := ts.as("wang")
	for id, status := range map[string]int{"hV1a": 200, "hV3a": 404} {
		if r := ts.do("GET", "/v1/records/households/"+id, wang.access, nil); r.status != status {
			t.Fatalf("%s before the move: %s, want %d", id, r, status)
		}
	}

	var moved struct {
		Username string   `json:"username"`
		Role     string   `json:"role"`
		Scopes   []string `json:"scopes"`
		Disabled bool     `json:"disabled"`
	}
	ts.mustJSON("PATCH", "/v1/admin/users/wang", admin, map[string]any{"scopes": []string{"340199002"}}, 200, &moved)
	if moved.Username != "wang" || moved.Role != "officer" || !slices.Equal(moved.Scopes, []string{"340199002"}) || moved.Disabled {
		t.Fatalf("moved: %+v", moved)
	}
	// His live device token now reaches the new township only.
	for id, status := range map[string]int{"hV1a": 404, "hV3a": 200} {
		if r := ts.do("GET", "/v1/records/households/"+id, wang.access, nil); r.status != status {
			t.Errorf("%s after the move: %s, want %d", id, r, status)
		}
	}

	var trail struct {
		Entries []struct {
			Kind   string            `json:"kind"`
			Actor  string            `json:"actor"`
			Area   string            `json:"area"`
			Detail map[string]string `json:"detail"`
		} `json:"entries"`
	}
	ts.mustJSON("GET", "/v1/audit?area=340199", ts.as("auditor").login, nil, 200, &trail)
	i := slices.IndexFunc(trail.Entries, func(e struct {
		Kind   string            `json:"kind"`
		Actor  string            `json:"actor"`
		Area   string            `json:"area"`
		Detail map[string]string `json:"detail"`
	}) bool {
		return e.Kind == "user" && e.Detail["action"] == "update"
	})
	if i < 0 {
		t.Fatalf("no user update in the trail: %+v", trail.Entries)
	}
	if e := trail.Entries[i]; e.Actor != "admin" || e.Area != "34019900" || e.Detail["user"] != "wang" ||
		e.Detail["scopes_before"] != "340199001" || e.Detail["scopes"] != "340199002" || e.Detail["role"] != "officer" {
		t.Errorf("update entry: %+v", e)
	}

	ts.mustJSON("PATCH", "/v1/admin/users/wang", admin, map[string]any{"disabled": true}, 200, &moved)
	if !moved.Disabled {
		t.Errorf("disable answered %+v", moved)
	}
	ts.expectError(ts.do("GET", "/v1/sync/pull", wang.access, nil), 401, syncengine.EUNAUTHORIZED)
	ts.expectError(ts.do("POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": wang.refresh}), 401, syncengine.EUNAUTHORIZED)
	ts.expectError(ts.do("POST", "/v1/auth/login", "", map[string]string{"username": "wang", "password": testPassword}), 401, syncengine.EUNAUTHORIZED)

	for _, tc := range []struct {
		name, token, user string
		body              any
		status            int
		code              string
	}{
		{"not an admin", ts.as("county").login, "wang", map[string]any{"disabled": false}, 403, syncengine.EFORBIDDEN},
		{"no token", "", "wang", map[string]any{"disabled": false}, 401, syncengine.EUNAUTHORIZED},
		{"unknown user", admin, "nobody", map[string]any{"disabled": true}, 404, syncengine.ENOTFOUND},
		{"unknown role", admin, "wang", map[string]any{"role": "mayor"}, 400, syncengine.EINVALID},
		{"everything scope for an officer", admin, "wang", map[string]any{"scopes": []string{""}}, 400, syncengine.EINVALID},
		{"unknown field", admin, "wang", map[string]any{"password": "long-enough-2"}, 400, syncengine.EINVALID},
		{"empty update", admin, "wang", map[string]any{}, 400, syncengine.EINVALID},
		{"admin disables self", admin, "admin", map[string]any{"disabled": true}, 400, syncengine.EINVALID},
		{"admin demotes self", admin, "admin", map[string]any{"role": "county", "scopes": []string{"340199"}}, 400, syncengine.EINVALID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts.expectError(ts.do("PATCH", "/v1/admin/users/"+tc.user, tc.token, tc.body), tc.status, tc.code)
		})
	}

	ts.mustJSON("PATCH", "/v1/admin/users/wang", admin, map[string]any{"disabled": false}, 200, &moved)
	ts.login("wang", testPassword)
}
