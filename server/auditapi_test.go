package server_test

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"

	"github.com/ruhu-dev/ruhu/syncengine"
)

// TestSignedPushOverHTTP: the server checks Ruhu-Batch-Signature against
// the body as sent before gzip; a signature for other bytes, by another
// key or malformed is refused whole with 403 EFORBIDDEN and nothing is
// applied; an unsigned batch (an old tablet) passes; the audit trail keeps
// the digest and the signature.
func TestSignedPushOverHTTP(t *testing.T) {
	ts := startServer(t, serverOptions{users: testUsers()})
	s := &session{user: "township", login: ts.login("township", testPassword)}
	key := ts.enroll(s, "signing tablet")
	other := &session{user: "township", login: s.login}
	otherKey := ts.enroll(other, "another tablet")
	household := func(id string) []byte {
		b, err := json.Marshal(syncengine.PushRequest{Ops: []syncengine.WireOp{ts.op(s, "op-"+id, "households", id, areaV1,
			map[string]any{"head_name": "张三", "status": map[string]any{"value": "exited", "year": 2019}, "primary_cause": "illness"})}})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	b1, b2 := household("h1"), household("h2")
	sig1 := syncengine.SignBatch(key, s.device, b1)

	r := ts.do("POST", "/v1/sync/push", s.access, gzipBytes(t, b1), "Content-Encoding", "gzip", syncengine.BatchSignatureHeader, sig1)
	if r.status != 200 || !strings.Contains(string(r.body), `"acked":["op-h1"]`) {
		t.Fatalf("signed gzip push: %s", r)
	}
	refused := map[string]string{
		"the signature of another body":                 sig1,
		"signed by another enrolled device of the user": syncengine.SignBatch(otherKey, other.device, b2),
		"signed by the key for another device id":       syncengine.SignBatch(key, other.device, b2),
		"not base64": strings.Repeat("!", 88),
		"too short":  base64.StdEncoding.EncodeToString([]byte("sig")),
		"empty":      "",
	}
	for name, h := range refused {
		r := ts.do("POST", "/v1/sync/push", s.access, b2, syncengine.BatchSignatureHeader, h)
		if r.status != 403 || r.errorCode() != syncengine.EFORBIDDEN {
			t.Errorf("%s: got %s, want 403 EFORBIDDEN", name, r)
		}
	}
	if r := ts.do("GET", "/v1/records/households/h2", ts.as("admin").login, nil); r.status != 404 {
		t.Fatalf("a refused batch was applied: %s", r)
	}
	if r := ts.do("POST", "/v1/sync/push", s.access, b2); r.status != 200 || !strings.Contains(string(r.body), `"acked":["op-h2"]`) {
		t.Fatalf("unsigned push from an old tablet: %s", r)
	}

	var trail struct {
		Entries []struct {
			Seq    uint64            `json:"seq"`
			Kind   string            `json:"kind"`
			Device string            `json:"device"`
			Area   string            `json:"area"`
			Detail map[string]string `json:"detail"`
			Hash   string            `json:"hash"`
		} `json:"entries"`
	}
	ts.mustJSON("GET", "/v1/audit?area=340199001", ts.as("auditor").login, nil, 200, &trail)
	var pushes []map[string]string
	for _, e := range trail.Entries {
		if e.Kind == "push" {
			pushes = append(pushes, e.Detail)
			if e.Device != s.device || e.Area != areaV1 || len(e.Hash) != 64 {
				t.Errorf("push entry: %+v", e)
			}
		}
	}
	d1 := syncengine.BatchDigest(b1)
	if len(pushes) != 2 || pushes[0]["signature"] != "none" || pushes[1]["signature"] != sig1 ||
		pushes[1]["digest"] != hex.EncodeToString(d1[:]) {
		t.Fatalf("push entries (newest first): %v", pushes)
	}
}

// TestAuditAPIScope: the trail is for auditors, county staff and admins,
// within their scopes.
func TestAuditAPIScope(t *testing.T) {
	ts := startServer(t, serverOptions{users: testUsers()})
	tests := []struct {
		user, area string
		status     int
		code       string
	}{
		{"auditor", "340199", 200, ""},
		{"county", "340199001", 200, ""},
		{"admin", "", 200, ""},
		{"auditor", "3401", 403, syncengine.EFORBIDDEN},
		{"auditor", "", 400, syncengine.EINVALID},
		{"township", "340199001", 403, syncengine.EFORBIDDEN},
		{"wang", "340199001", 403, syncengine.EFORBIDDEN},
	}
	for _, tt := range tests {
		r := ts.do("GET", "/v1/audit?area="+tt.area, ts.as(tt.user).login, nil)
		if r.status != tt.status || r.errorCode() != tt.code {
			t.Errorf("%s area %q: got %s, want %d %s", tt.user, tt.area, r, tt.status, tt.code)
		}
	}
	if r := ts.do("GET", "/v1/audit?area=340199", "", nil); r.status != 401 {
		t.Errorf("anonymous: got %s", r)
	}
}
