package auth_test

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/ruhu-dev/ruhu/server/auth"
)

func TestPasswordHash(t *testing.T) {
	hash, err := auth.HashPassword("正确的马电池钉-7")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(hash, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("hash %q is not argon2id with the stated parameters", hash)
	}
	again, _ := auth.HashPassword("正确的马电池钉-7")
	if again == hash {
		t.Errorf("two hashes of one password are equal: no salt")
	}
	tests := []struct {
		name, hash, password string
		ok                   bool
		err                  error
	}{
		{"right password", hash, "正确的马电池钉-7", true, nil},
		{"right password, second hash", again, "正确的马电池钉-7", true, nil},
		{"wrong password", hash, "正确的马电池钉-8", false, nil},
		{"empty password", hash, "", false, nil},
		{"prefix of the password", hash, "正确的马电池钉", false, nil},
		{"not ours", "$2a$10$abcdefghijklmnopqrstuu", "x", false, auth.ErrBadHash},
		{"empty hash", "", "x", false, auth.ErrBadHash},
		{"bad parameters", "$argon2id$v=19$m=x,t=2,p=1$c2FsdA$a2V5", "x", false, auth.ErrBadHash},
		{"bad salt", "$argon2id$v=19$m=19456,t=2,p=1$!!$a2V5", "x", false, auth.ErrBadHash},
		{"bad key", "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$!!", "x", false, auth.ErrBadHash},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ok, err := auth.CheckPassword(tc.hash, tc.password)
			if ok != tc.ok || !errors.Is(err, tc.err) {
				t.Errorf("CheckPassword = %v, %v; want %v, %v", ok, err, tc.ok, tc.err)
			}
		})
	}
}

// fakeNow is an injected clock.
type fakeNow struct {
	mu sync.Mutex
	t  time.Time
}

func (f *fakeNow) Now() time.Time  { f.mu.Lock(); defer f.mu.Unlock(); return f.t }
func (f *fakeNow) Set(t time.Time) { f.mu.Lock(); defer f.mu.Unlock(); f.t = t }

func TestTokens(t *testing.T) {
	start := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	clock := &fakeNow{t: start}
	secret := []byte("0123456789abcdef0123456789abcdef")
	tokens := auth.NewTokens(secret, 0, clock.Now)
	if tokens.TTL() != 15*time.Minute {
		t.Errorf("default TTL %v", tokens.TTL())
	}
	tok, err := tokens.Issue("wang", auth.RoleOfficer, []string{"340199001"}, "d1")
	if err != nil {
		t.Fatal(err)
	}
	devless, _ := tokens.Issue("wang", auth.RoleOfficer, []string{"340199001"}, "")

	c, err := tokens.Verify(tok)
	if err != nil || c.Username() != "wang" || c.Role != auth.RoleOfficer || !slices.Equal(c.Scopes, []string{"340199001"}) || c.Device != "d1" {
		t.Fatalf("Verify = %+v, %v", c, err)
	}
	if c, err := tokens.Verify(devless); err != nil || c.Device != "" {
		t.Errorf("token without device: %+v %v", c, err)
	}
	if !c.ExpiresAt.Time.Equal(start.Add(15 * time.Minute)) {
		t.Errorf("expires at %v", c.ExpiresAt.Time)
	}

	other := auth.NewTokens([]byte("another secret, as long as the first"), time.Hour, clock.Now)
	forged, _ := other.Issue("wang", auth.RoleAdmin, []string{""}, "")
	sign := func(m jwt.SigningMethod, key any, mod func(*auth.Claims)) string {
		cl := &auth.Claims{Role: auth.RoleAdmin, Scopes: []string{""}, RegisteredClaims: jwt.RegisteredClaims{
			Issuer: "ruhu", Subject: "wang", ExpiresAt: jwt.NewNumericDate(start.Add(time.Minute))}}
		if mod != nil {
			mod(cl)
		}
		s, err := jwt.NewWithClaims(m, cl).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	tests := []struct {
		name  string
		token string
		at    time.Duration // clock offset from start
		ok    bool
	}{
		{"fresh", tok, 0, true},
		{"within its life", tok, 14*time.Minute + 59*time.Second, true},
		{"expired", tok, 15*time.Minute + time.Second, false},
		{"long expired", tok, 48 * time.Hour, false},
		{"clock moved back before issue (nbf has a minute of slack)", tok, -30 * time.Second, true},
		{"clock far before issue", tok, -time.Hour, false},
		{"other secret", forged, 0, false},
		{"hand-made with our secret", sign(jwt.SigningMethodHS256, secret, nil), 0, true},
		{"HS512", sign(jwt.SigningMethodHS512, secret, nil), 0, false},
		{"none", sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, nil), 0, false},
		{"wrong issuer", sign(jwt.SigningMethodHS256, secret, func(c *auth.Claims) { c.Issuer = "evil" }), 0, false},
		{"no issuer", sign(jwt.SigningMethodHS256, secret, func(c *auth.Claims) { c.Issuer = "" }), 0, false},
		{"no expiry", sign(jwt.SigningMethodHS256, secret, func(c *auth.Claims) { c.ExpiresAt = nil }), 0, false},
		{"no subject", sign(jwt.SigningMethodHS256, secret, func(c *auth.Claims) { c.Subject = "" }), 0, false},
		{"garbage", "a.b.c", 0, false},
		{"empty", "", 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock.Set(start.Add(tc.at))
			defer clock.Set(start)
			_, err := tokens.Verify(tc.token)
			if (err == nil) != tc.ok {
				t.Errorf("Verify err = %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, auth.ErrBadToken) {
				t.Errorf("error %v is not ErrBadToken", err)
			}
		})
	}

	a, b := auth.NewRefreshToken(), auth.NewRefreshToken()
	if a == b || len(a) < 40 {
		t.Errorf("refresh tokens %q %q", a, b)
	}
}

func TestRoles(t *testing.T) {
	collections := []string{"households", "members", "visits", "photos", "signatures", "housing_cases",
		"checkins", "assignments", "villages", "teams", "duty_days"}
	writes := map[string][]string{
		auth.RoleOfficer:    {"households", "members", "visits", "photos", "signatures", "housing_cases"},
		auth.RoleTeamMember: {"checkins", "signatures", "photos"},
		auth.RoleTownship:   {"households", "members", "assignments", "villages", "teams", "duty_days", "housing_cases", "signatures", "photos"},
		auth.RoleCounty:     {"households", "members", "assignments", "villages", "teams", "duty_days", "housing_cases"},
		auth.RoleAuditor:    {},
		auth.RoleAdmin:      collections,
		"stranger":          {},
	}
	for role, allowed := range writes {
		for _, col := range collections {
			if got := auth.CanWrite(role, col); got != slices.Contains(allowed, col) {
				t.Errorf("CanWrite(%s, %s) = %v", role, col, got)
			}
		}
		wantResolve := role == auth.RoleTownship || role == auth.RoleCounty || role == auth.RoleAdmin
		if auth.CanResolveConflicts(role) != wantResolve {
			t.Errorf("CanResolveConflicts(%s) = %v", role, !wantResolve)
		}
		if auth.ValidRole(role) != (role != "stranger") {
			t.Errorf("ValidRole(%s)", role)
		}
	}

	scopes := []struct {
		scopes []string
		area   string
		in     bool
	}{
		{[]string{"340199001"}, "340199001001", true},
		{[]string{"340199001"}, "340199002001", false},
		{[]string{"340199001", "340199002"}, "340199002001", true},
		{[]string{"34"}, "340199002001", true},
		{[]string{""}, "110101001001", true},
		{nil, "340199001001", false},
		{[]string{"340199001001"}, "34019900100", false},
	}
	for _, tc := range scopes {
		if got := auth.InScope(tc.scopes, tc.area); got != tc.in {
			t.Errorf("InScope(%v, %s) = %v", tc.scopes, tc.area, got)
		}
	}
	if !auth.ScopeCovers([]string{"340199"}, "340199001") || auth.ScopeCovers([]string{"340199001"}, "340199") {
		t.Errorf("ScopeCovers: a county scope covers its township, not the other way round")
	}

	valid := []struct {
		role   string
		scopes []string
		ok     bool
	}{
		{auth.RoleAdmin, []string{""}, true},
		{auth.RoleOfficer, []string{""}, false},
		{auth.RoleOfficer, nil, false},
		{auth.RoleOfficer, []string{"3"}, false},
		{auth.RoleOfficer, []string{"34"}, true},
		{auth.RoleOfficer, []string{"340199001001"}, true},
		{auth.RoleOfficer, []string{"3401990010011"}, false},
		{auth.RoleOfficer, []string{"34019900a"}, false},
	}
	for _, tc := range valid {
		if err := auth.ValidateScopes(tc.role, tc.scopes); (err == nil) != tc.ok {
			t.Errorf("ValidateScopes(%s, %q) = %v", tc.role, tc.scopes, err)
		}
	}
}
