package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"net/http/cookiejar"
	neturl "net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ruhu-dev/ruhu/assets/miniotest"
	client "github.com/ruhu-dev/ruhu/client-sdk"
	"github.com/ruhu-dev/ruhu/collection"
	"github.com/ruhu-dev/ruhu/server/core"
	"github.com/ruhu-dev/ruhu/server/pgstore"
	"github.com/ruhu-dev/ruhu/server/pgstore/pgtest"
)

// instancePicker is an http.RoundTripper that sends every request to one
// of several servers at random (or to the one pinned), as a load balancer
// without affinity would.
type instancePicker struct {
	hosts []string
	pin   atomic.Int32 // -1: random
	mu    sync.Mutex
	hits  map[string]int
}

func newInstancePicker(hosts ...string) *instancePicker {
	p := &instancePicker{hosts: hosts, hits: map[string]int{}}
	p.pin.Store(-1)
	return p
}

func (p *instancePicker) RoundTrip(req *http.Request) (*http.Response, error) {
	i := int(p.pin.Load())
	if i < 0 {
		i = mrand.IntN(len(p.hosts))
	}
	req = req.Clone(req.Context())
	req.URL.Host, req.Host = p.hosts[i], ""
	p.mu.Lock()
	p.hits[p.hosts[i]]++
	p.mu.Unlock()
	return http.DefaultTransport.RoundTrip(req)
}

// twoInstances starts two `ruhu serve` processes on one PostgreSQL
// database and one MinIO bucket, with a short photo lease.
func twoInstances(t *testing.T, dir string) (url string, procs [2]*serverProcess, logs [2]string) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts server processes, PostgreSQL and MinIO; skipped in -short")
	}
	url = pgtest.Database(t)
	mio := miniotest.Start(t)
	t.Setenv("RUHU_PHOTO_LEASE", "3s")
	for i := range procs {
		logs[i] = filepath.Join(dir, fmt.Sprintf("server%d.log", i))
		f, err := os.Create(logs[i])
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		procs[i] = &serverProcess{t: t, addr: freeAddr(t), data: filepath.Join(dir, fmt.Sprintf("server%d", i)), store: url,
			blobs: mio.URL("ruhu-blobs"), log: f}
		procs[i].start() // one after the other: the second finds the demo county seeded
		t.Cleanup(procs[i].stop)
	}
	return url, procs, logs
}

// TestTwoInstancesOnePostgres runs two `ruhu serve` processes on one
// PostgreSQL database and one MinIO: 20 tablets whose every request goes
// to either server at random converge with no visit lost or doubled; a
// tus upload begun on one server is finished on the other; a web console
// session begun on one holds on the other; a revoked
// device is refused by both at once; a refresh token sent to both at once
// rotates once; every photo is processed by exactly
// one server, and a photo whose claim is held by a server that died (a
// claim written for a dead server, then a server SIGKILLed while it
// processes a large photo) is processed by a live one once the claim's
// lease runs out.
func TestTwoInstancesOnePostgres(t *testing.T) {
	dir := t.TempDir()
	url, procs, logs := twoInstances(t, dir)
	hosts := []string{procs[0].addr, procs[1].addr}
	base := [2]string{"http://" + hosts[0], "http://" + hosts[1]}
	ctx := context.Background()
	picker := newInstancePicker(hosts...)

	// 20 tablets, every request to a random server.
	const tablets, rounds, perRound = 20, 3, 5
	admin := login(t, base[0], "admin")
	township := newTablet(t, dir, base[1], "township1")
	var users []string
	for i := range tablets {
		u := fmt.Sprintf("multi%02d", i)
		users = append(users, u)
		if code := admin.do("POST", "/v1/admin/users", map[string]any{"username": u, "password": demoPassword, "role": "officer", "scopes": []string{"340199001"}}, nil); code != 201 {
			t.Fatalf("add user %s: %d", u, code)
		}
		if _, err := township.Save(ctx, "assignments", "multi-a-"+u, demoArea, rawFields(t, map[string]any{"officer": u, "household_id": demoHousehold, "active": true})); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := township.Sync(ctx, nil); err != nil {
		t.Fatal(err)
	}
	reg := testSchemas(t)
	clients := make([]*client.Client, tablets)
	for i, u := range users {
		c, err := client.Open(filepath.Join(dir, "tablet-"+u+".db"), client.Options{Validator: reg, Policy: mergePolicy(reg),
			HTTPClient: &http.Client{Transport: picker, Timeout: time.Minute}, RetryBase: 20 * time.Millisecond, RetryMax: 200 * time.Millisecond, MaxAttempts: 6})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		if err := c.Login(ctx, base[0], u, demoPassword); err != nil {
			t.Fatalf("login %s: %v", u, err)
		}
		if err := c.Enroll(ctx, "tablet of "+u); err != nil {
			t.Fatalf("enroll %s: %v", u, err)
		}
		clients[i] = c
	}
	saved := make([][]string, tablets)
	var wg sync.WaitGroup
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range rounds {
				for k := range perRound {
					id := clients[i].NewID()
					if _, err := clients[i].Save(ctx, "visits", id, demoArea, visitFields(t, demoHousehold, users[i], r*perRound+k)); err != nil {
						t.Errorf("save: %v", err)
						return
					}
					saved[i] = append(saved[i], id)
				}
				if _, err := clients[i].Sync(ctx, nil); err != nil {
					t.Errorf("tablet %d sync: %v", i, err)
				}
			}
		}()
	}
	wg.Wait()
	for _, c := range clients { // everyone pulls what the others pushed last
		if _, err := c.Sync(ctx, nil); err != nil {
			t.Fatal(err)
		}
	}
	s, err := pgstore.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	all, lost, doubled := visitTally(t, s.Core(), saved)
	t.Logf("%d visits from %d tablets over two servers (requests %v): %d lost, %d doubled", len(all), tablets, picker.hits, lost, doubled)
	if len(all) != tablets*rounds*perRound || lost != 0 || doubled != 0 {
		t.Fatalf("%d visits saved, %d lost, %d doubled", len(all), lost, doubled)
	}
	requireEveryVisit(t, clients, all)
	if picker.hits[hosts[0]] == 0 || picker.hits[hosts[1]] == 0 {
		t.Fatalf("one server got no request: %v", picker.hits)
	}

	// A tus upload begun on one server and finished on the other.
	wang := login(t, base[0], "wang")
	original := cameraJPEG(t, 1000, 750, 11)
	sha := hexSHA256(original)
	meta := func(kv ...string) string {
		var parts []string
		for i := 0; i+1 < len(kv); i += 2 {
			parts = append(parts, kv[i]+" "+base64.StdEncoding.EncodeToString([]byte(kv[i+1])))
		}
		return strings.Join(parts, ",")
	}
	tus := func(host, method, path string, h map[string]string, body []byte) *http.Response {
		t.Helper()
		req, err := http.NewRequest(method, "http://"+host+path, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+wang.token)
		req.Header.Set("Tus-Resumable", "1.0.0")
		for k, v := range h {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	resp := tus(hosts[0], "POST", "/v1/uploads", map[string]string{"Upload-Length": fmt.Sprint(len(original)),
		"Upload-Metadata": meta("sha256", sha, "kind", "photo", "collection", "photos", "record_id", "multi-photo-1", "area", demoArea)}, nil)
	if resp.StatusCode != 201 {
		t.Fatalf("create on server 0: %s", resp.Status)
	}
	loc := resp.Header.Get("Location")
	if i := strings.Index(loc, "/v1/uploads/"); i >= 0 {
		loc = loc[i:]
	}
	half := len(original) / 2
	if resp := tus(hosts[0], "PATCH", loc, map[string]string{"Content-Type": "application/offset+octet-stream", "Upload-Offset": "0"}, original[:half]); resp.StatusCode != 204 {
		t.Fatalf("first half on server 0: %s", resp.Status)
	}
	resp = tus(hosts[1], "HEAD", loc, nil, nil)
	if resp.StatusCode != 200 || resp.Header.Get("Upload-Offset") != fmt.Sprint(half) {
		t.Fatalf("HEAD on server 1: %s offset %q, want %d", resp.Status, resp.Header.Get("Upload-Offset"), half)
	}
	if resp := tus(hosts[1], "PATCH", loc, map[string]string{"Content-Type": "application/offset+octet-stream", "Upload-Offset": fmt.Sprint(half)}, original[half:]); resp.StatusCode != 204 {
		t.Fatalf("second half on server 1: %s", resp.Status)
	}
	if code, got := wang.getBlob(sha); code != 200 || !bytes.Equal(got, original) {
		t.Fatalf("the handed-over upload on server 0: %d, %d bytes", code, len(got))
	}

	// A revocation holds on both servers at once.
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	var enrolled struct {
		DeviceID     string `json:"device_id"`
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
	}
	if code := login(t, base[1], "li").do("POST", "/v1/devices", map[string]string{"name": "李的平板", "public_key": base64.StdEncoding.EncodeToString(pub)}, &enrolled); code != 201 {
		t.Fatalf("enroll: %d", code)
	}
	pull := func(host string) (int, string) {
		req, _ := http.NewRequest("GET", "http://"+host+"/v1/sync/pull", nil)
		req.Header.Set("Authorization", "Bearer "+enrolled.AccessToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var e struct {
			Code string `json:"code"`
		}
		json.NewDecoder(resp.Body).Decode(&e)
		return resp.StatusCode, e.Code
	}
	for _, h := range hosts {
		if code, _ := pull(h); code != 200 {
			t.Fatalf("pull before revocation on %s: %d", h, code)
		}
	}
	if code := admin.do("POST", "/v1/admin/devices/"+enrolled.DeviceID+"/revoke", nil, nil); code != 200 {
		t.Fatalf("revoke on server 0: %d", code)
	}
	for _, h := range hosts {
		if code, ecode := pull(h); code != 403 || ecode != "EREVOKED" {
			t.Errorf("pull right after revocation on %s: %d %s, want 403 EREVOKED", h, code, ecode)
		}
		var out map[string]any
		if code := (&api{t: t, url: "http://" + h}).do("POST", "/v1/auth/refresh", map[string]string{"refresh_token": enrolled.RefreshToken}, &out); code < 400 {
			t.Errorf("refresh of a revoked device on %s: %d", h, code)
		}
	}

	// A web console session begun on one server holds on the other.
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err = browser.PostForm(base[0]+"/login", neturl.Values{"username": {"county"}, "password": {demoPassword}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("console login on server 0: %s", resp.Status)
	}
	resp, err = browser.Get(base[1] + "/households")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("console page on server 1 with server 0's session: %s (%s)", resp.Status, resp.Header.Get("Location"))
	}

	// A refresh token presented to both servers at once rotates once.
	var dev struct {
		RefreshToken string `json:"refresh_token"`
	}
	pub2, _, _ := ed25519.GenerateKey(rand.Reader)
	if code := login(t, base[0], "wang").do("POST", "/v1/devices", map[string]string{"name": "王的平板", "public_key": base64.StdEncoding.EncodeToString(pub2)}, &dev); code != 201 {
		t.Fatalf("enroll: %d", code)
	}
	token := dev.RefreshToken
	for round := range 5 {
		var codes [2]int
		var next [2]string
		var rw sync.WaitGroup
		for i, h := range hosts {
			rw.Add(1)
			go func() {
				defer rw.Done()
				var out struct {
					RefreshToken string `json:"refresh_token"`
				}
				codes[i] = (&api{t: t, url: "http://" + h}).do("POST", "/v1/auth/refresh", map[string]string{"refresh_token": token}, &out)
				next[i] = out.RefreshToken
			}()
		}
		rw.Wait()
		ok := 0
		for i, c := range codes {
			if c == 200 {
				ok++
				token = next[i]
			}
		}
		if ok != 1 {
			t.Fatalf("round %d: one refresh token on both servers at once answered %v, want exactly one 200", round, codes)
		}
	}

	// Photos: each processed by exactly one server.
	var photos []string
	for i := range 6 {
		img := cameraJPEG(t, 900, 700, uint64(100+i))
		photos = append(photos, hexSHA256(img))
		if _, err := clients[i].AttachPhoto(ctx, client.PhotoAttachment{HouseholdID: demoHousehold, Stage: "after", Original: img}); err != nil {
			t.Fatal(err)
		}
		if _, err := clients[i].Sync(ctx, nil); err != nil {
			t.Fatal(err)
		}
		if rep, err := clients[i].UploadAll(ctx, nil); err != nil || rep.Failed != 0 {
			t.Fatalf("upload: %+v %v", rep, err)
		}
	}
	photos = append(photos, sha)
	waitProcessed(t, url, photos, 60*time.Second)
	counts := processedCounts(t, logs)
	for _, p := range photos {
		if counts[p] != 1 {
			t.Errorf("photo %s processed %d times, want once", p[:12], counts[p])
		}
	}

	// A photo claimed by a server that died: nobody touches it until the
	// claim's lease runs out, then a live server processes it.
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	dead := photos[0]
	if _, err := conn.Exec(ctx, `UPDATE blobs SET status = 'processing', body = jsonb_set(body, '{status}', '"processing"'),
		claimed_by = 'a-server-that-died', claimed_until = now() + interval '4 seconds' WHERE sha256 = $1`, dead); err != nil {
		t.Fatal(err)
	}
	claimedAt := time.Now()
	time.Sleep(3 * time.Second)
	if got := processedCounts(t, logs)[dead]; got != 1 {
		t.Fatalf("a live server processed a photo another server held: %d runs", got)
	}
	waitProcessed(t, url, []string{dead}, 30*time.Second)
	if got := processedCounts(t, logs)[dead]; got != 2 {
		t.Fatalf("the dead server's photo was processed %d times in all, want once more", got)
	}
	t.Logf("the dead server's photo was processed %.1f s after its claim (lease 4 s)", time.Since(claimedAt).Seconds())

	// The same with a real death: server 0 is SIGKILLed while it
	// processes a large photo it claimed; server 1 processes it once the
	// lease (3 s) has run out.
	big := cameraJPEG(t, 5200, 3900, 77)
	bigSHA := hexSHA256(big)
	resp = tus(hosts[0], "POST", "/v1/uploads", map[string]string{"Upload-Length": fmt.Sprint(len(big)),
		"Upload-Metadata": meta("sha256", bigSHA, "kind", "photo", "collection", "photos", "record_id", "multi-photo-big", "area", demoArea)}, nil)
	if resp.StatusCode != 201 {
		t.Fatalf("create on server 0: %s", resp.Status)
	}
	loc = resp.Header.Get("Location")
	if i := strings.Index(loc, "/v1/uploads/"); i >= 0 {
		loc = loc[i:]
	}
	if resp := tus(hosts[0], "PATCH", loc, map[string]string{"Content-Type": "application/offset+octet-stream", "Upload-Offset": "0"}, big); resp.StatusCode != 204 {
		t.Fatalf("upload on server 0: %s", resp.Status)
	}
	var holder, status string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		err := conn.QueryRow(ctx, "SELECT status, coalesce(claimed_by, '') FROM blobs WHERE sha256 = $1", bigSHA).Scan(&status, &holder)
		if err != nil && err != pgx.ErrNoRows {
			t.Fatal(err)
		}
		if status != "processing" || holder != "" || time.Now().After(deadline) {
			break
		}
	}
	if status != "processing" || holder == "" {
		t.Fatalf("server 0 did not hold the large photo in processing (status %q, claimed by %q): too fast to kill mid-work", status, holder)
	}
	procs[0].kill()
	killedAt := time.Now()
	waitProcessed(t, url, []string{bigSHA}, 30*time.Second)
	counts = processedCounts(t, logs)
	if counts[bigSHA] != 1 {
		t.Fatalf("the large photo was processed %d times, want once (by server 1)", counts[bigSHA])
	}
	if b, err := os.ReadFile(logs[0]); err != nil || strings.Contains(string(b), `msg="photo processed" sha256=`+bigSHA) {
		t.Fatalf("server 0 finished the photo it was killed processing (%v)", err)
	}
	t.Logf("claimed by %s, SIGKILLed; processed by the other server %.1f s later (lease 3 s)", holder, time.Since(killedAt).Seconds())
}

// waitProcessed polls the database until none of the blobs is in
// processing.
func waitProcessed(t *testing.T, url string, shas []string, limit time.Duration) {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	deadline := time.Now().Add(limit)
	for {
		var open int
		if err := conn.QueryRow(t.Context(), "SELECT count(*) FROM blobs WHERE sha256 = ANY($1) AND status <> 'ready'", shas).Scan(&open); err != nil {
			t.Fatal(err)
		}
		var known int
		if err := conn.QueryRow(t.Context(), "SELECT count(*) FROM blobs WHERE sha256 = ANY($1)", shas).Scan(&known); err != nil {
			t.Fatal(err)
		}
		if open == 0 && known == len(shas) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d photos not ready (%d known) after %s", open, len(shas), known, limit)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// processedCounts counts the "photo processed" lines per sha256 in the
// servers' logs.
func processedCounts(t *testing.T, logs [2]string) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, l := range logs {
		b, err := os.ReadFile(l)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			if !strings.Contains(line, `msg="photo processed"`) {
				continue
			}
			if _, rest, ok := strings.Cut(line, "sha256="); ok {
				out[strings.Fields(rest)[0]]++
			}
		}
	}
	return out
}

// visitTally reads the visits the tablets saved back from the store: all
// of them, those it lost (no history) and those it holds twice.
func visitTally(t *testing.T, s core.Store, saved [][]string) (all []string, lost, doubled int) {
	t.Helper()
	err := s.View(func(tx core.Tx) error {
		for _, ids := range saved {
			for _, id := range ids {
				all = append(all, id)
				h, err := tx.History(collection.Visits, id)
				if err != nil {
					return err
				}
				switch {
				case len(h) == 0:
					lost++
				case len(h) > 1:
					doubled++
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return all, lost, doubled
}

// requireEveryVisit fails unless every tablet holds every visit in ids.
func requireEveryVisit(t *testing.T, clients []*client.Client, ids []string) {
	t.Helper()
	for i, c := range clients {
		views, err := c.Query(collection.Visits, nil)
		if err != nil {
			t.Fatal(err)
		}
		have := make(map[string]bool, len(views))
		for _, v := range views {
			have[v.ID] = true
		}
		for _, id := range ids {
			if !have[id] {
				t.Fatalf("tablet %d lacks visit %s after syncing", i, id)
			}
		}
	}
}
