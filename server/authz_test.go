package server_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/ruhu-dev/ruhu/server"
	"github.com/ruhu-dev/ruhu/server/auth"
	"github.com/ruhu-dev/ruhu/syncengine"
)

const sha = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// createFields returns a valid new record of col written by user: every
// collection's required fields, with the identity fields set to the writer
// (visits name an officer assigned to hV1a).
func createFields(col, area, user string) map[string]any {
	switch col {
	case "households":
		return map[string]any{"head_name": "新户", "status": map[string]any{"value": "poor"}, "primary_cause": "illness"}
	case "members":
		return map[string]any{"household_id": "hV1a", "name": "李四"}
	case "assignments":
		return map[string]any{"officer": "li", "household_id": "hNew", "active": true}
	case "villages":
		return map[string]any{"code": area, "name": "新村", "center": map[string]any{"lat": 31.7, "lon": 117.1}}
	case "teams":
		return map[string]any{"village_code": area, "members": []string{"sun"}}
	case "duty_days":
		return map[string]any{"member": "sun", "date": "2026-02-03", "kind": "meeting"}
	case "housing_cases":
		return map[string]any{"household_id": "hV1a", "grade": "C"}
	case "team_duties":
		return map[string]any{"team_id": "teamV1", "kind": "policy_quiz", "date": "2026-02-03"}
	case "doctor_contracts":
		return map[string]any{"household_id": "hV1a", "doctor": "刘芳", "package": "basic", "start_date": "2026-01-01"}
	case "doctor_visits":
		return map[string]any{"household_id": "hV1a", "date": "2026-02-03", "doctor": "刘芳"}
	case "visits":
		officer := user
		if user != "wang" && user != "li" {
			officer = "wang"
		}
		return visitFields("hV1a", officer)
	case "checkins":
		return map[string]any{"member": user, "village_code": area, "at": "2026-02-28T08:00:00+08:00",
			"gps": map[string]any{"lat": 31.7, "lon": 117.1, "accuracy_m": 8}}
	case "photos":
		return map[string]any{"blob_sha256": sha, "stage": "before", "captured_at": "2026-02-28T08:00:00+08:00", "household_id": "hV1a"}
	case "signatures":
		return map[string]any{"signer_name": "张三", "signer_role": "household_head", "signed_collection": "visits",
			"signed_record_id": "visV1", "signed_content_sha256": sha, "signed_at": "2026-02-28T08:00:00+08:00"}
	// Collections of the exit and rectification procedures (issue 9),
	// written by the roles of core's procedureWriters and judged per op.
	case "income_surveys":
		return map[string]any{"household_id": "hV1a", "income_year": "2025-2026", "surveyed_at": "2026-02-28T08:00:00+08:00", "surveyor": user, "household_size": 2}
	case "exit_cases":
		return map[string]any{"household_id": "hV1a", "exit_year": 2026, "opened_by": user, "opened_at": "2026-02-28T08:00:00+08:00"}
	case "exit_steps":
		return map[string]any{"case_id": "exitV1a", "household_id": "hV1a", "step": "appraisal", "at": "2026-02-28T08:00:00+08:00", "actor": user}
	case "ledger_items":
		return map[string]any{"source": "inspection", "problem": "走访记录缺签字", "responsible_unit": "某乡", "deadline": "2026-03-31",
			"status": "open", "opened_by": user, "opened_at": "2026-02-28T08:00:00+08:00"}
	}
	panic("no fixture for collection " + col)
}

// TestPushAuthorizationMatrix pushes a valid new record of every collection
// as every role, inside and outside the role's area scope. Refusals are
// per-op EFORBIDDEN inside a 200 answer, and only accepted ops reach the
// store.
func TestPushAuthorizationMatrix(t *testing.T) {
	ts := startServer(t, serverOptions{users: testUsers(), seed: standardSeed()})

	// Who may create what, as DESIGN.md and the role table say; the table
	// is spelled out here so a change to auth.CanWrite shows up as a
	// failure.
	// The procedure collections (issue 9) are judged per op by
	// rules.CheckOp: exit steps and ledger items created by a role with no
	// part in the fixture's step are EFORBIDDEN (admins included), and the
	// fixture's appraisal by the village side is refused for the
	// household's unmet exit standards (notRole).
	writes := map[string][]string{
		"officer":     {"households", "members", "visits", "photos", "signatures", "housing_cases", "income_surveys", "exit_cases"},
		"team_member": {"checkins", "signatures", "photos", "income_surveys", "exit_cases"},
		"township":    {"households", "members", "assignments", "villages", "teams", "duty_days", "housing_cases", "signatures", "photos", "income_surveys", "exit_cases", "ledger_items", "team_duties", "doctor_contracts", "doctor_visits"},
		"county":      {"households", "members", "assignments", "villages", "teams", "duty_days", "housing_cases", "exit_cases", "ledger_items", "team_duties", "doctor_contracts", "doctor_visits"},
		"auditor":     {},
		"admin":       slices.DeleteFunc(ts.reg.Collections(), func(c string) bool { return c == "exit_steps" || c == "ledger_items" }),
	}
	notRole := map[string]string{"officer/exit_steps": syncengine.EINVALID, "team_member/exit_steps": syncengine.EINVALID}
	outside := map[string]string{"officer": areaV3, "team_member": areaV2, "township": areaV3, "county": areaVX, "auditor": areaVX}

	type scenario struct {
		role, col, area string
		allowed         bool
	}
	var scenarios []scenario
	for _, role := range roles {
		for _, col := range ts.reg.Collections() {
			scenarios = append(scenarios, scenario{role, col, areaV1, slices.Contains(writes[role], col)})
			if out, ok := outside[role]; ok {
				scenarios = append(scenarios, scenario{role, col, out, false})
			}
		}
	}
	for _, role := range roles {
		s := ts.as(roleUser[role])
		var ops []syncengine.WireOp
		var mine []scenario
		for _, sc := range scenarios {
			if sc.role != role {
				continue
			}
			id := fmt.Sprintf("m-%s-%s-%s", role, sc.col, sc.area)
			ops = append(ops, ts.op(s, id, sc.col, id, sc.area, createFields(sc.col, sc.area, s.user)))
			mine = append(mine, sc)
		}
		resp := ts.push(s, ops...)
		for i, sc := range mine {
			id := ops[i].ID
			rej, refused := rejection(resp, id)
			switch {
			case sc.allowed && !acked(resp, id):
				t.Errorf("%s writing %s in %s: want acked, got %+v", role, sc.col, sc.area, rej)
			case !sc.allowed && sc.area == areaV1 && notRole[role+"/"+sc.col] != "":
				if !refused || rej.Code != notRole[role+"/"+sc.col] {
					t.Errorf("%s writing %s in %s: want %s, got acked=%v %+v", role, sc.col, sc.area, notRole[role+"/"+sc.col], acked(resp, id), rej)
				}
			case !sc.allowed && (!refused || rej.Code != syncengine.EFORBIDDEN):
				t.Errorf("%s writing %s in %s: want EFORBIDDEN, got acked=%v %+v", role, sc.col, sc.area, acked(resp, id), rej)
			}
			if got := ts.storeRecord(sc.col, id) != nil; got != sc.allowed {
				t.Errorf("%s writing %s in %s: record stored = %v, want %v", role, sc.col, sc.area, got, sc.allowed)
			}
		}
	}
}

// TestPushRecordRules covers the rules that read the store or the record:
// officers visit only assigned households and only as themselves, team
// members touch only their own check-ins, ops carry the token's identity,
// and the assignment index follows assignment edits.
func TestPushRecordRules(t *testing.T) {
	ts := startServer(t, serverOptions{users: testUsers(), seed: standardSeed()})
	wang, li, zhao, sun, county := ts.as("wang"), ts.as("li"), ts.as("zhao"), ts.as("sun"), ts.as("county")
	wang2 := ts.newDevice("wang")

	// sun's own check-in, which zhao later tries to annotate.
	if r := ts.push(sun, ts.op(sun, "ck-sun", "checkins", "ck-sun", areaV1, createFields("checkins", areaV1, "sun"))); len(r.Acked) != 1 {
		t.Fatalf("sun's check-in: %+v", r)
	}

	tests := []struct {
		name string
		as   *session
		op   func(id string) syncengine.WireOp
		want string // "" = acked
	}{
		{"officer visits an assigned household", wang, func(id string) syncengine.WireOp {
			return ts.op(wang, id, "visits", id, areaV1, visitFields("hV1a", "wang"))
		}, ""},
		{"second officer of the same household", li, func(id string) syncengine.WireOp {
			return ts.op(li, id, "visits", id, areaV1, visitFields("hV1a", "li"))
		}, ""},
		{"officer visits an assigned household in another village", wang, func(id string) syncengine.WireOp {
			return ts.op(wang, id, "visits", id, areaV2, visitFields("hV2a", "wang"))
		}, ""},
		{"officer visits an unassigned household in scope", wang, func(id string) syncengine.WireOp {
			return ts.op(wang, id, "visits", id, areaV1, visitFields("hV1b", "wang"))
		}, syncengine.EFORBIDDEN},
		{"li visits a household assigned only to wang", li, func(id string) syncengine.WireOp {
			return ts.op(li, id, "visits", id, areaV2, visitFields("hV2a", "li"))
		}, syncengine.EFORBIDDEN},
		{"officer records a visit in another officer's name", wang, func(id string) syncengine.WireOp {
			return ts.op(wang, id, "visits", id, areaV1, visitFields("hV1a", "li"))
		}, syncengine.EFORBIDDEN},
		{"team member records her own check-in", zhao, func(id string) syncengine.WireOp {
			return ts.op(zhao, id, "checkins", id, areaV1, createFields("checkins", areaV1, "zhao"))
		}, ""},
		{"team member records someone else's check-in", zhao, func(id string) syncengine.WireOp {
			return ts.op(zhao, id, "checkins", id, areaV1, createFields("checkins", areaV1, "sun"))
		}, syncengine.EFORBIDDEN},
		{"team member annotates someone else's check-in", zhao, func(id string) syncengine.WireOp {
			return ts.op(zhao, id, "checkins", "ck-sun", areaV1, map[string]any{"review_note": "ok"})
		}, syncengine.EFORBIDDEN},
		{"op authored by another user", wang, func(id string) syncengine.WireOp {
			op := ts.op(wang, id, "households", "hV1a", areaV1, map[string]any{"address": "x"})
			op.Author = "li"
			return op
		}, syncengine.EFORBIDDEN},
		{"op from another device of the same user", wang, func(id string) syncengine.WireOp {
			op := ts.op(wang, id, "households", "hV1a", areaV1, map[string]any{"address": "x"})
			op.Device = wang2.device
			return op
		}, syncengine.EFORBIDDEN},
		{"officer edits a household in scope", wang, func(id string) syncengine.WireOp {
			return ts.op(wang, id, "households", "hV1b", areaV1, map[string]any{"address": "新地址"})
		}, ""},
	}
	sent := map[string]syncengine.WireOp{}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			op := tc.op(fmt.Sprintf("rule-%02d", i))
			sent[tc.name] = op
			resp := ts.push(tc.as, op)
			rej, refused := rejection(resp, op.ID)
			if tc.want == "" && !acked(resp, op.ID) {
				t.Errorf("want acked, got %+v", rej)
			}
			if tc.want != "" && (!refused || rej.Code != tc.want) {
				t.Errorf("want %s, got %+v", tc.want, resp)
			}
		})
	}

	// Ending wang's assignment to hV1a takes his right to visit it at once;
	// li, still assigned, keeps hers.
	if r := ts.push(county, ts.op(county, "end-a1", "assignments", "a1", areaV1, map[string]any{"active": false})); len(r.Acked) != 1 {
		t.Fatalf("end assignment: %+v", r)
	}
	r := ts.push(wang, ts.op(wang, "after-end-wang", "visits", "after-end-wang", areaV1, visitFields("hV1a", "wang")),
		ts.op(li, "after-end-li", "visits", "after-end-li", areaV1, visitFields("hV1a", "li")))
	if rej, ok := rejection(r, "after-end-wang"); !ok || rej.Code != syncengine.EFORBIDDEN {
		t.Errorf("visit after the assignment ended: %+v", r)
	}
	if rej, ok := rejection(r, "after-end-li"); !ok || rej.Code != syncengine.EFORBIDDEN {
		t.Errorf("li's op pushed from wang's tablet must be refused: %+v", r)
	}
	if r := ts.push(li, ts.op(li, "after-end-li2", "visits", "after-end-li2", areaV1, visitFields("hV1a", "li"))); len(r.Acked) != 1 {
		t.Errorf("li's visit after wang's assignment ended: %+v", r)
	}
	// Renewal: a new assignment of wang to hV2a is made, then the old one
	// (a3) ended; wang still visits hV2a.
	renew := ts.push(county, ts.op(county, "renew-a3", "assignments", "a3-2027", areaV2, map[string]any{"officer": "wang", "household_id": "hV2a", "active": true}),
		ts.op(county, "end-a3", "assignments", "a3", areaV2, map[string]any{"active": false}))
	if len(renew.Acked) != 2 {
		t.Fatalf("renewal: %+v", renew)
	}
	if r := ts.push(wang, ts.op(wang, "after-renewal", "visits", "after-renewal", areaV2, visitFields("hV2a", "wang"))); len(r.Acked) != 1 {
		t.Errorf("visit after the assignment was renewed and the old one ended: %+v", r)
	}

	// A visit wang made while assigned, re-sent after the assignment ended
	// (the tablet never got the answer), is acked as before: the server
	// holds it, the tablet must not park it.
	resend := sent["officer visits an assigned household"]
	if r := ts.push(wang, resend); !acked(r, resend.ID) {
		t.Errorf("resend of an accepted visit after the assignment ended: %+v", r)
	}
}

// TestEndpointAuthorization runs every endpoint as every role, with data in
// and out of the role's scope.
func TestEndpointAuthorization(t *testing.T) {
	ts := startServer(t, serverOptions{users: testUsers(), seed: standardSeed()})

	all := []string{"villages/vV1", "villages/vV2", "villages/vV3", "villages/vVX",
		"households/hV1a", "households/hV1b", "households/hV2a", "households/hV3a", "households/hVXa",
		"members/mV1a", "assignments/a1", "assignments/a2", "assignments/a3", "teams/tV1", "visits/visV1"}
	without := func(drop ...string) []string {
		var out []string
		for _, k := range all {
			if !slices.ContainsFunc(drop, func(d string) bool { return strings.HasSuffix(k, "/"+d) }) {
				out = append(out, k)
			}
		}
		return out
	}
	township := without("vV3", "vVX", "hV3a", "hVXa")
	county := without("vVX", "hVXa")
	village := without("vV2", "vV3", "vVX", "hV2a", "hV3a", "hVXa", "a3")
	cV1, cV3, cVX := seededConflictID(t, ts, "hV1a"), seededConflictID(t, ts, "hV3a"), seededConflictID(t, ts, "hVXa")

	scopes := []struct {
		role      string
		pull      []string
		inRecord  string // a record GET may read
		outRecord string // a record outside scope: 404
		conflicts []string
	}{
		{"officer", township, "households/hV2a", "households/hV3a", []string{cV1}},
		{"team_member", village, "households/hV1b", "households/hV2a", []string{cV1}},
		{"township", township, "villages/vV2", "villages/vV3", []string{cV1}},
		{"county", county, "households/hV3a", "households/hVXa", []string{cV1, cV3}},
		{"auditor", county, "visits/visV1", "villages/vVX", []string{cV1, cV3}},
		{"admin", all, "households/hVXa", "", []string{cV1, cV3, cVX}},
	}
	for _, sc := range scopes {
		t.Run("scope/"+sc.role, func(t *testing.T) {
			s := ts.as(roleUser[sc.role])
			got, _ := ts.pullAll(s, "", 0)
			slices.Sort(sc.pull)
			if !slices.Equal(got, sc.pull) {
				t.Errorf("pull returned\n%v\nwant\n%v", got, sc.pull)
			}
			if r := ts.do("GET", "/v1/records/"+sc.inRecord, s.access, nil); r.status != 200 {
				t.Errorf("GET in-scope %s: %s", sc.inRecord, r)
			}
			if sc.outRecord != "" {
				ts.expectError(ts.do("GET", "/v1/records/"+sc.outRecord, s.access, nil), 404, syncengine.ENOTFOUND)
			}
			ts.expectError(ts.do("GET", "/v1/records/households/nosuch", s.access, nil), 404, syncengine.ENOTFOUND)
			var list struct {
				Conflicts []struct {
					ID string `json:"id"`
				} `json:"conflicts"`
			}
			ts.mustJSON("GET", "/v1/conflicts", s.login, nil, 200, &list)
			var ids []string
			for _, c := range list.Conflicts {
				ids = append(ids, c.ID)
			}
			slices.Sort(ids)
			slices.Sort(sc.conflicts)
			if !slices.Equal(ids, sc.conflicts) {
				t.Errorf("conflicts %v, want %v", ids, sc.conflicts)
			}
		})
	}

	// Resolving: only township, county and admin, only in scope, once.
	resolve := []struct {
		role, conflict string
		status         int
		code           string
	}{
		{"officer", cV1, 403, syncengine.EFORBIDDEN},
		{"team_member", cV1, 403, syncengine.EFORBIDDEN},
		{"auditor", cV1, 403, syncengine.EFORBIDDEN},
		{"township", cV3, 404, syncengine.ENOTFOUND},
		{"county", cVX, 404, syncengine.ENOTFOUND},
		{"township", "cnosuch", 404, syncengine.ENOTFOUND},
		{"township", cV1, 200, ""},
		{"county", cV3, 200, ""},
		{"admin", cVX, 200, ""},
		{"county", cV1, 409, syncengine.ECONFLICT},
	}
	for _, tc := range resolve {
		t.Run(fmt.Sprintf("resolve/%s/%s", tc.role, tc.conflict), func(t *testing.T) {
			r := ts.do("POST", "/v1/conflicts/"+tc.conflict+"/resolve", ts.as(roleUser[tc.role]).access, map[string]string{"note": "checked"})
			if tc.status == 200 {
				if r.status != 200 {
					t.Errorf("got %s", r)
				}
				return
			}
			ts.expectError(r, tc.status, tc.code)
		})
	}

	// Every other endpoint, as every role. want is the status for admin
	// and for everyone else.
	spare := ts.newDevice("sun") // revoked by the admin below
	endpoints := []struct {
		name                 string
		method, path         string
		body                 func(role string) any
		token                func(s *session) string
		wantAdmin, wantOther int
	}{
		{"healthz", "GET", "/healthz", nil, nil, 200, 200},
		{"openapi", "GET", "/v1/openapi.json", nil, nil, 200, 200},
		{"login", "POST", "/v1/auth/login", func(role string) any {
			return map[string]string{"username": roleUser[role], "password": testPassword}
		}, nil, 200, 200},
		{"login wrong password", "POST", "/v1/auth/login", func(role string) any {
			return map[string]string{"username": roleUser[role], "password": testPassword + "x"}
		}, nil, 401, 401},
		{"enroll device", "POST", "/v1/devices", func(string) any {
			pub, _, _ := ed25519.GenerateKey(rand.Reader)
			return map[string]string{"name": "spare", "public_key": base64.StdEncoding.EncodeToString(pub)}
		}, func(s *session) string { return s.login }, 201, 201},
		{"empty push", "POST", "/v1/sync/push", func(string) any { return syncengine.PushRequest{Ops: []syncengine.WireOp{}} },
			func(s *session) string { return s.access }, 200, 200},
		{"pull", "GET", "/v1/sync/pull?limit=1", nil, func(s *session) string { return s.access }, 200, 200},
		{"list conflicts", "GET", "/v1/conflicts?status=all", nil, func(s *session) string { return s.access }, 200, 200},
		{"admin list users", "GET", "/v1/admin/users", nil, func(s *session) string { return s.login }, 200, 403},
		{"admin add user", "POST", "/v1/admin/users", func(role string) any {
			return server.UserInput{Username: "new-" + role, Password: testPassword, Role: "officer", Scopes: []string{"340199001"}}
		}, func(s *session) string { return s.login }, 201, 403},
		{"admin list devices", "GET", "/v1/admin/devices", nil, func(s *session) string { return s.access }, 200, 403},
		{"admin revoke device", "POST", "/v1/admin/devices/" + spare.device + "/revoke", nil, func(s *session) string { return s.access }, 200, 403},
	}
	for _, ep := range endpoints {
		for _, role := range roles {
			t.Run(fmt.Sprintf("endpoint/%s/%s", ep.name, role), func(t *testing.T) {
				s := ts.as(roleUser[role])
				var body any
				if ep.body != nil {
					body = ep.body(role)
				}
				token := ""
				if ep.token != nil {
					token = ep.token(s)
				}
				want := ep.wantOther
				if role == "admin" {
					want = ep.wantAdmin
				}
				r := ts.do(ep.method, ep.path, token, body)
				if r.status != want {
					t.Errorf("got %s, want %d", r, want)
				}
				if want == 403 && r.errorCode() != syncengine.EFORBIDDEN || want == 401 && r.errorCode() != syncengine.EUNAUTHORIZED {
					t.Errorf("error code %q", r.errorCode())
				}
			})
		}
	}
	// Every role's tablet refreshes its token; the refresh token rotates.
	for _, role := range roles {
		t.Run("endpoint/refresh/"+role, func(t *testing.T) {
			s := ts.as(roleUser[role])
			var out struct {
				AccessToken  string `json:"access_token"`
				RefreshToken string `json:"refresh_token"`
			}
			ts.mustJSON("POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": s.refresh}, 200, &out)
			ts.expectError(ts.do("POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": s.refresh}), 401, syncengine.EUNAUTHORIZED)
			s.refresh, s.access = out.RefreshToken, out.AccessToken
			if r := ts.do("GET", "/v1/sync/pull?limit=1", s.access, nil); r.status != 200 {
				t.Errorf("pull with the refreshed token: %s", r)
			}
		})
	}

	// The admin's revoke took effect; the users the admin added exist.
	ts.expectError(ts.do("GET", "/v1/sync/pull", spare.access, nil), 403, syncengine.EREVOKED)
	var users struct {
		Users []struct {
			Username string `json:"username"`
		} `json:"users"`
	}
	ts.mustJSON("GET", "/v1/admin/users", ts.as("admin").login, nil, 200, &users)
	var names []string
	for _, u := range users.Users {
		names = append(names, u.Username)
	}
	if !slices.Contains(names, "new-admin") || slices.Contains(names, "new-officer") {
		t.Errorf("users after the admin-add calls: %v", names)
	}
}

// TestTokens checks that every token that must not be believed is refused
// with 401 EUNAUTHORIZED, and that a valid one of each kind works.
func TestTokens(t *testing.T) {
	ts := startServer(t, serverOptions{users: testUsers()[:4], seed: standardSeed()})
	wang := ts.as("wang")
	secret := ts.store.Secret()
	claims := func(mod func(*auth.Claims)) *auth.Claims {
		now := ts.clock.Now()
		c := &auth.Claims{Role: "officer", Scopes: []string{"340199001"}, Device: wang.device, RegisteredClaims: jwt.RegisteredClaims{
			Issuer: "ruhu", Subject: "wang", IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(10 * time.Minute))}}
		if mod != nil {
			mod(c)
		}
		return c
	}
	sign := func(m jwt.SigningMethod, key any, c *auth.Claims) string {
		s, err := jwt.NewWithClaims(m, c).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	// resign keeps a token's claims but replaces its header's alg, and
	// signs header.payload with HMAC-SHA256 of the real key: the classic
	// algorithm-confusion forgery.
	resign := func(alg string) string {
		hdr := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"` + alg + `","typ":"JWT"}`))
		payload := strings.Split(sign(jwt.SigningMethodHS256, secret, claims(nil)), ".")[1]
		sig, err := jwt.SigningMethodHS256.Sign(hdr+"."+payload, secret)
		if err != nil {
			t.Fatal(err)
		}
		return hdr + "." + payload + "." + base64.RawURLEncoding.EncodeToString(sig)
	}
	none := func() string {
		s, err := jwt.NewWithClaims(jwt.SigningMethodNone, claims(nil)).SignedString(jwt.UnsafeAllowNoneSignatureType)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}

	tests := []struct {
		name   string
		header string // the whole Authorization header
		want   int
	}{
		{"valid device token", "Bearer " + wang.access, 200},
		{"valid hand-made token", "Bearer " + sign(jwt.SigningMethodHS256, secret, claims(nil)), 200},
		{"forged signature", "Bearer " + sign(jwt.SigningMethodHS256, []byte("not the server's secret, 32 byte"), claims(nil)), 401},
		{"tampered payload", "Bearer " + tamper(wang.access), 401},
		{"alg none", "Bearer " + none(), 401},
		{"RS256 header, HMAC signature", "Bearer " + resign("RS256"), 401},
		{"HS512 header, HS256 signature", "Bearer " + resign("HS512"), 401},
		{"HS512 with the real secret", "Bearer " + sign(jwt.SigningMethodHS512, secret, claims(nil)), 401},
		{"HS384 with the real secret", "Bearer " + sign(jwt.SigningMethodHS384, secret, claims(nil)), 401},
		{"wrong issuer", "Bearer " + sign(jwt.SigningMethodHS256, secret, claims(func(c *auth.Claims) { c.Issuer = "someone" })), 401},
		{"no expiry", "Bearer " + sign(jwt.SigningMethodHS256, secret, claims(func(c *auth.Claims) { c.ExpiresAt = nil })), 401},
		{"expired", "Bearer " + sign(jwt.SigningMethodHS256, secret, claims(func(c *auth.Claims) {
			c.ExpiresAt = jwt.NewNumericDate(ts.clock.Now().Add(-time.Second))
		})), 401},
		{"not yet valid", "Bearer " + sign(jwt.SigningMethodHS256, secret, claims(func(c *auth.Claims) {
			c.NotBefore = jwt.NewNumericDate(ts.clock.Now().Add(time.Hour))
		})), 401},
		{"unknown user", "Bearer " + sign(jwt.SigningMethodHS256, secret, claims(func(c *auth.Claims) { c.Subject = "ghost" })), 401},
		{"no subject", "Bearer " + sign(jwt.SigningMethodHS256, secret, claims(func(c *auth.Claims) { c.Subject = "" })), 401},
		{"garbage", "Bearer abc.def.ghi", 401},
		{"not a JWT", "Bearer " + wang.refresh, 401},
		{"no scheme", wang.access, 401},
		{"basic auth", "Basic d2FuZzpwYXNz", 401},
		{"empty", "", 401},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, ep := range []struct{ method, path string }{{"GET", "/v1/sync/pull?limit=1"}, {"GET", "/v1/conflicts"}} {
				var r response
				if tc.header == "" {
					r = ts.do(ep.method, ep.path, "", nil)
				} else {
					r = ts.do(ep.method, ep.path, "", nil, "Authorization", tc.header)
				}
				if r.status != tc.want || tc.want == 401 && r.errorCode() != syncengine.EUNAUTHORIZED {
					t.Errorf("%s %s: got %s, want %d", ep.method, ep.path, r, tc.want)
				}
			}
		})
	}

	t.Run("expired by the server clock", func(t *testing.T) {
		defer ts.clock.Set(ts.clock.Now())
		ts.clock.Set(testStart.Add(14 * time.Minute))
		if r := ts.do("GET", "/v1/conflicts", wang.access, nil); r.status != 200 {
			t.Fatalf("token within its 15 minutes: %s", r)
		}
		ts.clock.Set(testStart.Add(16 * time.Minute))
		ts.expectError(ts.do("GET", "/v1/conflicts", wang.access, nil), 401, syncengine.EUNAUTHORIZED)
		ts.expectError(ts.do("GET", "/v1/sync/pull", wang.access, nil), 401, syncengine.EUNAUTHORIZED)
		// The refresh token still gets a fresh access token.
		var out struct {
			AccessToken string `json:"access_token"`
		}
		ts.mustJSON("POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": wang.refresh}, 200, &out)
		wang.refresh = ""
		if r := ts.do("GET", "/v1/sync/pull?limit=1", out.AccessToken, nil); r.status != 200 {
			t.Errorf("refreshed token: %s", r)
		}
	})
}

// tamper flips the role in a token's payload, keeping its signature.
func tamper(tok string) string {
	parts := strings.Split(tok, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	payload = []byte(strings.Replace(string(payload), `"officer"`, `"admin"`, 1))
	parts[1] = base64.RawURLEncoding.EncodeToString(payload)
	return strings.Join(parts, ".")
}

// TestDevices checks what only an enrolled, unrevoked device may do, and
// that refresh tokens rotate.
func TestDevices(t *testing.T) {
	ts := startServer(t, serverOptions{users: testUsers()[:4], seed: standardSeed()})
	wang := ts.as("wang")

	t.Run("sync needs a device-bound token", func(t *testing.T) {
		ts.expectError(ts.do("POST", "/v1/sync/push", wang.login, syncengine.PushRequest{Ops: []syncengine.WireOp{}}), 403, syncengine.EFORBIDDEN)
		ts.expectError(ts.do("GET", "/v1/sync/pull", wang.login, nil), 403, syncengine.EFORBIDDEN)
	})

	t.Run("bad enrollment", func(t *testing.T) {
		for _, key := range []string{"", "not base64!", base64.StdEncoding.EncodeToString(make([]byte, 31))} {
			ts.expectError(ts.do("POST", "/v1/devices", wang.login, map[string]string{"name": "x", "public_key": key}), 400, syncengine.EINVALID)
		}
		ts.expectError(ts.do("POST", "/v1/devices", "", map[string]string{"name": "x"}), 401, syncengine.EUNAUTHORIZED)
	})

	t.Run("refresh rotates", func(t *testing.T) {
		s := ts.newDevice("wang")
		old := s.refresh
		var out struct {
			AccessToken  string `json:"access_token"`
			RefreshToken string `json:"refresh_token"`
			DeviceID     string `json:"device_id"`
		}
		ts.mustJSON("POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": old}, 200, &out)
		if out.RefreshToken == "" || out.RefreshToken == old || out.DeviceID != s.device {
			t.Fatalf("refresh answer %+v", out)
		}
		ts.expectError(ts.do("POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": old}), 401, syncengine.EUNAUTHORIZED)
		// The new access token is bound to the same device.
		r := ts.push(&session{user: "wang", device: s.device, access: out.AccessToken},
			ts.op(&session{user: "wang", device: s.device}, "via-refresh", "households", "hV1b", areaV1, map[string]any{"address": "x"}))
		if len(r.Acked) != 1 {
			t.Errorf("push with refreshed token: %+v", r)
		}
		var again struct {
			RefreshToken string `json:"refresh_token"`
		}
		ts.mustJSON("POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": out.RefreshToken}, 200, &again)
		ts.expectError(ts.do("POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": "garbage"}), 401, syncengine.EUNAUTHORIZED)
		ts.expectError(ts.do("POST", "/v1/auth/refresh", "", map[string]string{}), 400, syncengine.EINVALID)
	})

	t.Run("revoked device", func(t *testing.T) {
		s := ts.newDevice("wang")
		before := ts.lastSeq()
		if err := server.RevokeDevice(ts.store.Core(), s.device, ts.clock.Now()); err != nil {
			t.Fatal(err)
		}
		push := ts.do("POST", "/v1/sync/push", s.access, syncengine.PushRequest{Ops: []syncengine.WireOp{
			ts.op(s, "from-revoked", "households", "hV1b", areaV1, map[string]any{"address": "stolen"})}})
		ts.expectError(push, 403, syncengine.EREVOKED)
		ts.expectError(ts.do("GET", "/v1/sync/pull", s.access, nil), 403, syncengine.EREVOKED)
		ts.expectError(ts.do("POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": s.refresh}), 403, syncengine.EREVOKED)
		if ts.lastSeq() != before {
			t.Errorf("a revoked device's push changed the store")
		}
		// Other devices of the same user keep working.
		if r := ts.do("GET", "/v1/sync/pull?limit=1", wang.access, nil); r.status != 200 {
			t.Errorf("other device after revoke: %s", r)
		}
		if err := server.RevokeDevice(ts.store.Core(), "dnosuch", ts.clock.Now()); syncengine.ErrorCode(err) != syncengine.ENOTFOUND {
			t.Errorf("revoke unknown device: %v", err)
		}
	})
}
