package uploads_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ruhu-dev/ruhu/server/uploads/faultproxy"
)

// tusJSVersion is the tus-js-client release the test pins.
const tusJSVersion = "4.3.1"

// tusJS installs tus-js-client into a cache folder outside the repository
// (once) and returns its node_modules folder. Without node or npm the test
// is skipped, unless RUHU_REQUIRE_EXTERNAL=1.
func tusJS(t *testing.T) string {
	t.Helper()
	skip := func(msg string) {
		if os.Getenv("RUHU_REQUIRE_EXTERNAL") == "1" {
			t.Fatal(msg + "; RUHU_REQUIRE_EXTERNAL=1 forbids skipping")
		}
		t.Skip(msg)
	}
	if _, err := exec.LookPath("node"); err != nil {
		skip("node is not installed")
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		skip("no cache folder: " + err.Error())
	}
	dir := filepath.Join(cache, "ruhu-tools", "tus-js-client-"+tusJSVersion)
	mods := filepath.Join(dir, "node_modules")
	if _, err := os.Stat(filepath.Join(mods, "tus-js-client", "package.json")); err == nil {
		return mods
	}
	if _, err := exec.LookPath("npm"); err != nil {
		skip("npm is not installed")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("npm", "install", "--no-save", "--no-audit", "--no-fund", "--prefix", dir, "tus-js-client@"+tusJSVersion)
	if out, err := cmd.CombinedOutput(); err != nil {
		skip("npm install tus-js-client@" + tusJSVersion + ": " + err.Error() + "\n" + string(out))
	}
	return mods
}

// TestStandardTusClient: tus-js-client, unchanged, uploads to the server
// directly and over a link that cuts connections (it resumes with HEAD),
// completes at once when the blob exists and the caller can read it, and
// sends the bytes as proof of possession when the caller cannot.
func TestStandardTusClient(t *testing.T) {
	mods := tusJS(t)
	e := startEnv(t, envOptions{})
	px, err := faultproxy.Start(faultproxy.Options{Target: strings.TrimPrefix(e.url, "http://"), CutMin: 16 << 10, CutMax: 64 << 10, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	defer px.Close()
	var runAs func(endpoint, user, area string, data []byte, record, chunk string) string
	script, err := filepath.Abs("testdata/tusjs_upload.js")
	if err != nil {
		t.Fatal(err)
	}
	run := func(endpoint string, data []byte, record, chunk string) string {
		return runAs(endpoint, "wang", areaV1, data, record, chunk)
	}
	runAs = func(endpoint, user, area string, data []byte, record, chunk string) string {
		t.Helper()
		file := filepath.Join(t.TempDir(), "photo.jpg")
		if err := os.WriteFile(file, data, 0o600); err != nil {
			t.Fatal(err)
		}
		args := []string{script, endpoint + "/v1/uploads/", e.token(user), file, hexSHA(data), record, area}
		if chunk != "" {
			args = append(args, chunk)
		}
		cmd := exec.CommandContext(t.Context(), "node", args...)
		cmd.Env = append(os.Environ(), "NODE_PATH="+mods)
		start := time.Now()
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("tus-js-client: %v\n%s", err, out)
		}
		t.Logf("tus-js-client %s in %v: %s", record, time.Since(start).Round(time.Millisecond), bytes.TrimSpace(out))
		return string(out)
	}
	check := func(data []byte) {
		t.Helper()
		if got := e.do("GET", "/v1/blobs/"+hexSHA(data), "wang", nil, nil); got.status != 200 || !bytes.Equal(got.body, data) {
			t.Fatalf("blob after tus-js-client: %d, %d bytes", got.status, len(got.body))
		}
	}

	direct := testJPEG(t, 900, 600, 21)
	run(e.url, direct, "js-1", "")
	check(direct)
	run(e.url, direct, "js-2", "") // dedup: the server already has it
	// A user who cannot read the blob proves possession by sending the
	// bytes: the same unchanged client, the same calls.
	runAs(e.url, "zhou", areaVX, direct, "js-zhou", "")
	if got := e.do("GET", "/v1/blobs/"+hexSHA(direct), "zhou", nil, nil); got.status != 200 || !bytes.Equal(got.body, direct) {
		t.Fatalf("blob after zhou's proof: %d, %d bytes", got.status, len(got.body))
	}

	cut := testJPEG(t, 1200, 900, 22)
	run(px.URL(), cut, "js-3", "")
	check(cut)
	chunked := testJPEG(t, 1000, 700, 23)
	run(px.URL(), chunked, "js-4", "20000")
	check(chunked)
	if px.Cuts() == 0 {
		t.Error("the proxy cut nothing: resumption was not exercised")
	}
	t.Logf("%d cuts", px.Cuts())
}
