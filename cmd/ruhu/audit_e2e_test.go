package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"testing"
	"time"
)

// TestTabletSignsPushBatches: against `ruhu serve --require-signed-push`,
// a tablet's sync is accepted (client-sdk signs every batch with its
// enrolled key) while an unsigned push with the same device token is
// refused with EFORBIDDEN; the audit trail shows the signed batch.
func TestTabletSignsPushBatches(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	var out syncBuffer
	go func() {
		done <- runServe(ctx, []string{"--listen", "127.0.0.1:0", "--data", dir + "/server", "--seed-demo", "--require-signed-push"},
			func(string) string { return "" }, &out, &out, ready)
	}()
	var url string
	select {
	case url = <-ready:
	case err := <-done:
		t.Fatalf("server did not start: %v\n%s", err, out.String())
	case <-time.After(30 * time.Second):
		t.Fatal("server did not start in 30 s")
	}
	t.Cleanup(func() { cancel(); <-done })

	tab := newTablet(t, dir, url, "wang")
	for i := 0; i < 3; i++ {
		if _, err := tab.Save(ctx, "visits", tab.NewID(), demoArea, visitFields(t, demoHousehold, "wang", i)); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := tab.Sync(ctx, nil)
	if err != nil || rep.Pushed != 3 {
		t.Fatalf("signed sync: %+v %v", rep, err)
	}

	// The same user on a device whose pushes carry no signature.
	wang := login(t, url, "wang")
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	var enr struct {
		AccessToken string `json:"access_token"`
	}
	if code := wang.do("POST", "/v1/devices", map[string]string{"name": "old", "public_key": base64.StdEncoding.EncodeToString(pub)}, &enr); code != 201 {
		t.Fatalf("enroll: %d", code)
	}
	old := &api{t: t, url: url, token: enr.AccessToken}
	if code := old.do("POST", "/v1/sync/push", map[string]any{"ops": []any{}}, nil); code != 403 {
		t.Fatalf("unsigned push answered %d, want 403", code)
	}

	var trail struct {
		Entries []struct {
			Kind   string            `json:"kind"`
			Actor  string            `json:"actor"`
			Detail map[string]string `json:"detail"`
		} `json:"entries"`
	}
	admin := login(t, url, "admin")
	if code := admin.do("GET", "/v1/audit?area=", nil, &trail); code != 200 {
		t.Fatalf("audit trail: %d", code)
	}
	for _, e := range trail.Entries {
		if e.Kind == "push" && e.Actor == "wang" {
			if e.Detail["signature"] == "none" || e.Detail["applied"] != "3" {
				t.Fatalf("push entry: %+v", e)
			}
			return
		}
	}
	t.Fatalf("no push entry by wang in %+v", trail.Entries)
}
