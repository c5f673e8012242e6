package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ruhu-dev/ruhu/assets/signature"
	client "github.com/ruhu-dev/ruhu/client-sdk"
	"github.com/ruhu-dev/ruhu/rules"
	"github.com/ruhu-dev/ruhu/syncengine"
)

// tabletCommands runs `ruhu tablet` over the tablet store in dataDir with
// the demo password in the environment: tablet returns stdout, stderr and
// the error; must fails the test on an error and returns stdout.
func tabletCommands(t *testing.T, dataDir string) (tablet func(args ...string) (string, string, error), must func(args ...string) string) {
	env := func(k string) string {
		if k == "RUHU_PASSWORD" {
			return demoPassword
		}
		return ""
	}
	tablet = func(args ...string) (string, string, error) {
		var out, errOut bytes.Buffer
		err := runTablet(t.Context(), append([]string{"--data", dataDir}, args...), env, &out, &errOut)
		return out.String(), errOut.String(), err
	}
	must = func(args ...string) string {
		t.Helper()
		out, errOut, err := tablet(args...)
		if err != nil {
			t.Fatalf("tablet %v: %v\n%s%s", args, err, out, errOut)
		}
		return out
	}
	return tablet, must
}

// TestTabletCLIAgainstRealServer drives the tablet CLI against a real
// seeded server on loopback: login, enroll, sync, list, record a visit,
// edit a household, refuse a bad value, sync again.
func TestTabletCLIAgainstRealServer(t *testing.T) {
	dir := t.TempDir()
	srv := startServer(t, filepath.Join(dir, "server"))
	tablet, must := tabletCommands(t, filepath.Join(dir, "tablet"))

	if out := must("login", "--server", srv.url, "--user", "wang"); !strings.Contains(out, "登录成功") {
		t.Fatalf("login output %q", out)
	}
	must("enroll", "--name", "平板A")
	if out, errOut, err := tablet("sync"); err != nil || !strings.Contains(out, "同步完成") || !strings.Contains(errOut, "下载") {
		t.Fatalf("first sync: %v\nstdout %q\nstderr %q", err, out, errOut)
	}
	out := must("households")
	for _, want := range []string{"户编号", "户主", demoHousehold, "共 3 户"} {
		if !strings.Contains(out, want) {
			t.Fatalf("households output lacks %q:\n%s", want, out)
		}
	}
	must("visit", "add", "--household", demoHousehold, "--notes", "入户走访", "--answered-by", "张建国", "--relation", "head", "--checklist", "housing=problem")
	must("household", "set", "--id", demoHousehold, "--field", "phone", "--value", `"13905510009"`)
	_, _, err := tablet("household", "set", "--id", demoHousehold, "--field", "housing_grade", "--value", "E")
	if syncengine.ErrorCode(err) != syncengine.EINVALID || !strings.Contains(err.Error(), "housing_grade") {
		t.Fatalf("bad housing grade: %v", err)
	}
	if out := must("status"); !strings.Contains(out, "待上传：2 条") {
		t.Fatalf("status before sync:\n%s", out)
	}
	if out := must("sync"); !strings.Contains(out, "上传 2 条，被拒 0 条") {
		t.Fatalf("second sync:\n%s", out)
	}
	if out := must("households"); strings.Contains(strings.SplitN(out, "\n", 3)[1], "从未") {
		t.Fatalf("visited household still listed as never visited:\n%s", out)
	}
	if out := must("rejected"); !strings.Contains(out, "没有被拒绝的记录") {
		t.Fatalf("rejected:\n%s", out)
	}
}

// cameraJPEG makes a camera-sized JPEG (a gradient with grain) so the
// evidence copy is a real reduction.
func cameraJPEG(t testing.TB, w, h int, seed uint64) []byte {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 3))
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, color.RGBA{uint8(x * 255 / w), uint8(y * 255 / h), 100 + uint8(r.IntN(40)), 255})
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 92}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// getBlob fetches GET /v1/blobs/{sha}?size=original as the api's user.
func (a *api) getBlob(sha string) (int, []byte) {
	a.t.Helper()
	req, err := http.NewRequest("GET", a.url+"/v1/blobs/"+sha+"?size=original", nil)
	if err != nil {
		a.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		a.t.Fatal(err)
	}
	return resp.StatusCode, b
}

// TestTabletEvidenceCLIAgainstRealServer drives photo attach, signature
// capture, uploads and sync (--unmetered) against a real server, and
// fetches the original back byte for byte.
func TestTabletEvidenceCLIAgainstRealServer(t *testing.T) {
	dir := t.TempDir()
	srv := startServer(t, filepath.Join(dir, "server"))
	tablet, must := tabletCommands(t, filepath.Join(dir, "tablet"))
	must("login", "--server", srv.url, "--user", "wang")
	must("enroll", "--name", "平板A")
	must("sync")

	original := cameraJPEG(t, 2200, 1650, 1)
	photoFile := filepath.Join(dir, "before.jpg")
	if err := os.WriteFile(photoFile, original, 0o600); err != nil {
		t.Fatal(err)
	}
	out := must("photo", "attach", "--household", demoHousehold, "--stage", "before", "--file", photoFile, "--lat", "31.86", "--lon", "117.28")
	if !strings.Contains(out, "照片已记录") {
		t.Fatalf("photo attach:\n%s", out)
	}
	if _, _, err := tablet("photo", "attach", "--household", demoHousehold, "--stage", "before", "--file", filepath.Join(dir, "missing.jpg")); err == nil {
		t.Fatal("attached a missing file")
	}
	out = must("visit", "add", "--household", demoHousehold, "--answered-by", "张建国", "--relation", "head")
	visitID := strings.TrimPrefix(strings.SplitN(out, "（", 2)[0], "走访已记录：")
	strokes := filepath.Join(dir, "strokes.json")
	if err := os.WriteFile(strokes, []byte(`[[{"x":10,"y":40,"t":0},{"x":30,"y":10,"t":16},{"x":50,"y":42,"t":33}],[{"x":70,"y":20,"t":300},{"x":120,"y":22,"t":340}]]`), 0o600); err != nil {
		t.Fatal(err)
	}
	out = must("signature", "capture", "--signer", "张建国", "--role", "household_head", "--record", "visits/"+visitID, "--purpose", "visit", "--strokes", strokes)
	if !strings.Contains(out, "签字已记录") || !strings.Contains(out, "所签内容 sha256") {
		t.Fatalf("signature capture:\n%s", out)
	}
	sigID := strings.TrimPrefix(strings.SplitN(out, "（", 2)[0], "签字已记录：")
	if _, _, err := tablet("signature", "capture", "--signer", "张建国", "--role", "household_head", "--record", "visits/nope", "--strokes", strokes); syncengine.ErrorCode(err) != syncengine.ENOTFOUND {
		t.Fatalf("signature of a missing record: %v", err)
	}

	out = must("uploads")
	for _, want := range []string{"类型", "状态", "签字图片", "照片压缩件", "照片原图", "等待 Wi-Fi", "待上传 3 个"} {
		if !strings.Contains(out, want) {
			t.Fatalf("uploads lacks %q:\n%s", want, out)
		}
	}
	out, errOut, err := tablet("sync")
	if err != nil || !strings.Contains(out, "上传 3 条") || !strings.Contains(out, "文件上传：完成 2 个，失败 0 个") ||
		!strings.Contains(out, "1 张原图等待 Wi-Fi") || !strings.Contains(errOut, "文件 [") {
		t.Fatalf("metered sync: %v\n%s\n%s", err, out, errOut)
	}
	if out := must("sync", "--unmetered"); !strings.Contains(out, "文件上传：完成 1 个") {
		t.Fatalf("unmetered sync:\n%s", out)
	}
	if out := must("uploads"); !strings.Contains(out, "没有待上传的文件（已完成 3 个）") {
		t.Fatalf("uploads after sync:\n%s", out)
	}
	if out := must("uploads", "--all"); strings.Count(out, "完成") < 3 {
		t.Fatalf("uploads --all:\n%s", out)
	}
	wang := login(t, srv.url, "wang")
	code, got := wang.getBlob(hexSHA256(original))
	if code != 200 || !bytes.Equal(got, original) {
		t.Fatalf("original on the server: %d, %d bytes (want %d identical)", code, len(got), len(original))
	}

	// What the tablet holds arrived byte for byte: the evidence copy and
	// the signature image the records cite.
	c, err := client.Open(filepath.Join(dir, "tablet", "tablet.db"), client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	q, err := c.UploadQueue()
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range q {
		code, got := wang.getBlob(it.SHA256)
		if code != 200 || hexSHA256(got) != it.SHA256 || int64(len(got)) != it.Size {
			t.Fatalf("%s %s on the server: %d, %d bytes", it.Class, it.SHA256, code, len(got))
		}
	}
	// The signature verifies on the server's copies of both records, with
	// the key the device enrolled.
	pub, err := c.DevicePublicKey()
	if err != nil {
		t.Fatal(err)
	}
	sig := wang.record("signatures", sigID).Record.Fields
	visit := wang.record("visits", visitID).Record.Fields
	annotations := testSchemas(t).Policy("visits").Annotations
	if s := signature.Status(sig, signature.Content(visit, annotations), pub); s != signature.StatusValid {
		t.Fatalf("signature on the server: %s", s)
	}
	if code, _ := wang.getBlob(strings.Repeat("0", 64)); code != http.StatusNotFound {
		t.Fatalf("unknown blob: %d", code)
	}
}

func hexSHA256(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// cutPatchOnce is a transport that breaks the connection in the middle of
// the first PATCH body sent after at least `after` bytes of the upload went
// through: the request fails on the tablet's side and the server reads a
// short body.
type cutPatchOnce struct {
	mu    sync.Mutex
	after int64
	done  bool
	cuts  int
	// cutAt is the Upload-Offset of the PATCH cut; resumedAt that of the
	// next PATCH, -1 until there is one.
	cutAt, resumedAt int64
	// cutURL is the upload the cut PATCH went to; settled is set once the
	// server was seen done with the cut request.
	cutURL  string
	settled bool
}

// settle waits, before the tablet's first request after the cut, until
// the server has finished the cut PATCH (its offset moved past cutAt): on
// a loaded machine the tablet's HEAD could otherwise overtake the server's
// handling of the broken request and rightly resume from the old offset,
// which says nothing about what the server keeps. A server that keeps
// nothing of a cut chunk never moves the offset; the wait then ends after
// 10 s and the test sees the resend.
func (c *cutPatchOnce) settle(like *http.Request) {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		head, err := http.NewRequestWithContext(like.Context(), http.MethodHead, c.cutURL, nil)
		if err != nil {
			return
		}
		head.Header.Set("Tus-Resumable", "1.0.0")
		head.Header.Set("Authorization", like.Header.Get("Authorization"))
		if resp, err := http.DefaultTransport.RoundTrip(head); err == nil {
			resp.Body.Close()
			if off, _ := strconv.ParseInt(resp.Header.Get("Upload-Offset"), 10, 64); off > c.cutAt {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type failingBody struct {
	r    io.Reader
	left int
}

func (b *failingBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, errors.New("connection cut by the test")
	}
	if len(p) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= n
	return n, err
}

func (b *failingBody) Close() error { return nil }

func (c *cutPatchOnce) RoundTrip(req *http.Request) (*http.Response, error) {
	c.mu.Lock()
	if c.done && !c.settled && req.URL.String() == c.cutURL {
		c.settled = true
		c.settle(req)
	}
	if req.Method == http.MethodPatch && c.done && c.resumedAt < 0 {
		c.resumedAt, _ = strconv.ParseInt(req.Header.Get("Upload-Offset"), 10, 64)
	}
	if req.Method == http.MethodPatch && !c.done {
		if off, _ := strconv.ParseInt(req.Header.Get("Upload-Offset"), 10, 64); off >= c.after && req.Body != nil {
			c.done = true
			c.cuts++
			c.cutAt, c.resumedAt, c.cutURL = off, -1, req.URL.String()
			req = req.Clone(req.Context())
			// 4 KiB: inside the 8 KiB the server's HTTP layer reads of a
			// body of known length before the handler runs; the client's
			// chunked bodies reach the handler from the first byte.
			req.Body = &failingBody{r: req.Body, left: 4 << 10}
		}
	}
	c.mu.Unlock()
	return http.DefaultTransport.RoundTrip(req)
}

// TestPhotoUploadSurvivesACutAgainstRealServer: the connection breaks
// mid-chunk late in a photo original; the real server keeps what arrived
// of the chunk, the tablet asks it for the offset and sends only the
// rest, and the server holds the original byte for byte.
func TestPhotoUploadSurvivesACutAgainstRealServer(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	srv := startServer(t, filepath.Join(dir, "server"))
	reg := testSchemas(t)
	original := cameraJPEG(t, 2600, 1950, 7)
	cut := &cutPatchOnce{after: int64(len(original)) * 6 / 10}
	c, err := client.Open(filepath.Join(dir, "tablet.db"), client.Options{Validator: reg, Policy: mergePolicy(reg),
		HTTPClient: &http.Client{Transport: cut, Timeout: time.Minute}, RetryBase: 10 * time.Millisecond, RetryMax: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(ctx, srv.url, "wang", demoPassword); err != nil {
		t.Fatal(err)
	}
	if err := c.Enroll(ctx, "平板B"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Sync(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AttachPhoto(ctx, client.PhotoAttachment{HouseholdID: demoHousehold, Stage: "after", Original: original}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Sync(ctx, nil); err != nil {
		t.Fatal(err)
	}
	rep, err := c.UploadAll(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cut.cuts != 1 || rep.Uploaded != 2 || rep.Failed != 0 || rep.ChunkFailures != 1 {
		t.Fatalf("cuts %d, report %+v", cut.cuts, rep)
	}
	if cut.resumedAt <= cut.cutAt {
		t.Fatalf("the chunk cut at offset %d was sent again from %d: the server kept none of what arrived", cut.cutAt, cut.resumedAt)
	}
	q, err := c.UploadQueue()
	if err != nil {
		t.Fatal(err)
	}
	var files int64
	for _, it := range q {
		files += it.Size
	}
	// The cut chunk is the only resend.
	if rep.BytesSent < files || rep.BytesSent > files+client.MaxChunkSize {
		t.Fatalf("sent %d bytes for %d bytes of files", rep.BytesSent, files)
	}
	code, got := login(t, srv.url, "wang").getBlob(hexSHA256(original))
	if code != 200 || !bytes.Equal(got, original) {
		t.Fatalf("original on the server: %d, %d bytes", code, len(got))
	}
}

// TestVisitDueFollowsThePolicy: the households list judges a household by
// its status's cadence (monthly for a monitored household, half-yearly for
// an exited one), not by one fixed interval (client.VisitStateOf).
func TestVisitDueFollowsThePolicy(t *testing.T) {
	policies, err := rules.DefaultPolicies()
	if err != nil {
		t.Fatal(err)
	}
	pol := policies.For(demoArea, 2026).Visits
	now := time.Date(2026, 11, 10, 12, 0, 0, 0, chinaTime)
	tests := []struct {
		name    string
		status  string
		last    time.Time
		visited bool
		want    client.VisitState
	}{
		{"monitored, visited 40 days ago (last month)", "monitored", now.AddDate(0, 0, -40), true, client.VisitDue},
		{"monitored, visited 70 days ago (month before last)", "monitored", now.AddDate(0, 0, -70), true, client.VisitOverdue},
		{"monitored, visited this month", "monitored", time.Date(2026, 11, 1, 0, 0, 0, 0, chinaTime), true, client.VisitDone},
		{"monitored, visited 1 s before this month", "monitored", time.Date(2026, 11, 1, 0, 0, 0, 0, chinaTime).Add(-time.Second), true, client.VisitDue},
		{"exited, visited 40 days ago (same half-year)", "exited", now.AddDate(0, 0, -40), true, client.VisitDone},
		{"exited, visited in the first half-year", "exited", time.Date(2026, 6, 30, 12, 0, 0, 0, chinaTime), true, client.VisitDue},
		{"exited, never visited", "exited", time.Time{}, false, client.VisitOverdue},
		{"removed, never visited", "removed", time.Time{}, false, client.VisitNotRequired},
	}
	for _, tt := range tests {
		var visits []time.Time
		if tt.visited {
			visits = append(visits, tt.last)
		}
		if got, _, _ := client.VisitStateOf(pol, tt.status, visits, now); got != tt.want {
			t.Errorf("%s: %s, want %s", tt.name, got, tt.want)
		}
	}
	// Within due_soon_days of the window's end, a short window is due soon.
	late := time.Date(2026, 11, 25, 12, 0, 0, 0, chinaTime)
	if got, _, _ := client.VisitStateOf(pol, "monitored", []time.Time{late.AddDate(0, 0, -30)}, late); got != client.VisitDueSoon {
		t.Errorf("monitored, 5 days before the month ends, visited last month: %s, want due_soon", got)
	}
}
