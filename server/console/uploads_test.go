package console_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ruhu-dev/ruhu/assets/photobench"
	"github.com/ruhu-dev/ruhu/internal/browsertest"
	"github.com/ruhu-dev/ruhu/server/uploads/faultproxy"
)

// A township clerk uploads a 3 MB photo from the browser through a link
// that cuts the connection once, and reloads the page half way: after
// re-selecting the file the upload resumes (far fewer than twice the
// bytes cross the link), the blob is byte-identical, and the household
// file shows the photo record once.
func TestUploadResumesAfterCutAndReload(t *testing.T) {
	t.Parallel()
	f := demo(t)
	const household = "h34019900100102"
	var photo []byte
	for q := 90; len(photo) < 3<<20 && q <= 100; q += 5 {
		var err error
		if photo, err = photobench.JPEG(3200, 2400, 11, q); err != nil {
			t.Fatal(err)
		}
	}
	if len(photo) < 2<<20 {
		photo = append(photo, bytes.Repeat([]byte{0}, 3<<20-len(photo))...) // trailing bytes after EOI stay a valid JPEG
	}
	sum := sha256.Sum256(photo)
	sha := hex.EncodeToString(sum[:])
	path := filepath.Join(t.TempDir(), "改造中.jpg")
	if err := os.WriteFile(path, photo, 0o644); err != nil {
		t.Fatal(err)
	}
	host := strings.TrimPrefix(f.url, "http://")
	proxy, err := faultproxy.Start(faultproxy.Options{Target: host, BytesPerSecond: 768 << 10,
		CutMin: 900 << 10, CutMax: 1100 << 10, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { proxy.Close() })
	base := proxy.URL()

	tab := browsers.Tab(t, browsertest.Desktop)
	tab.Do(
		chromedp.Navigate(base+"/login"),
		chromedp.WaitVisible(chromedp.CSS("#username")),
		chromedp.SendKeys(chromedp.CSS("#username"), "township1"),
		chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Click(chromedp.CSS("form button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("nav.menu")),
		chromedp.Navigate(base+"/uploads?household="+household),
		chromedp.WaitVisible(chromedp.CSS("#files")),
		chromedp.SetValue(chromedp.CSS("#stage"), "during"),
	)
	start := func() {
		tab.Do(
			chromedp.SetUploadFiles(chromedp.CSS("#files"), []string{path}),
			chromedp.Click(chromedp.CSS("#start")),
		)
	}
	// Cutting is on from the start: the browser reuses the connections of
	// the page loads (a few KB each), so the upload's is cut, once.
	before := proxy.Upstream()
	start()
	// Wait for the cut, then stop cutting (once is the test) and reload
	// the page when about half the file has gone.
	deadline := time.Now().Add(60 * time.Second)
	for proxy.Cuts() == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	proxy.SetCutting(false)
	if proxy.Cuts() == 0 {
		tab.Screenshot("no-cut")
		t.Fatalf("the proxy never cut the upload: %s", browsertest.Eval[string](tab, `document.getElementById("file-list").textContent`))
	}
	tab.WaitJS(`document.getElementById("total").value >= 0.5`)
	tab.Screenshot("half-way")
	tab.Do(chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#files")), chromedp.SetValue(chromedp.CSS("#stage"), "during"))
	start()
	tab.WaitJS(`(function(){var li = document.querySelector("#file-list li"); return li && (li.dataset.state === "done" || li.dataset.state === "error")})()`)
	tab.Screenshot("done")
	if st := browsertest.Eval[string](tab, `document.querySelector("#file-list li").dataset.state + " " + (document.querySelector("#file-list li").dataset.resumed || "") + " " + document.querySelector("#file-list li .state").textContent`); !strings.HasPrefix(st, "done 1") {
		t.Fatalf("after the reload the upload ended %q, want done and resumed", st)
	}
	if got := browsertest.Eval[string](tab, `document.querySelector("#file-list li").dataset.sha256`); got != sha {
		t.Errorf("browser sha256 %s, want %s", got, sha)
	}
	if up := proxy.Upstream() - before; up > int64(len(photo))*16/10 {
		t.Errorf("%d bytes crossed the link for a %d-byte photo: the upload restarted instead of resuming", up, len(photo))
	}

	// The blob is byte-identical, and the household file has the record once.
	c := httpClient(t)
	f.login(t, c, "township1")
	var original string
	for end := time.Now().Add(30 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		var code int
		code, _, original = get(t, c, f.url+"/photos/"+sha+"?size=original")
		if code == http.StatusOK {
			break
		}
	}
	if original != string(photo) {
		t.Errorf("the stored blob (%d bytes) differs from the photo (%d bytes)", len(original), len(photo))
	}
	tab.Do(chromedp.Navigate(base + "/households/" + household))
	if n := browsertest.Eval[int](tab, `document.querySelectorAll('#photos .photo[data-sha256="`+sha+`"]').length`); n != 1 {
		t.Errorf("household file shows the photo %d times, want once", n)
	}
	tab.Screenshot("household")
	tab.RequireLoopbackOnly()
	tab.RequireNoProblems()
}
