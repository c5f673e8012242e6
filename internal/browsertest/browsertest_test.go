package browsertest_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/ruhu-dev/ruhu/internal/browsertest"
)

var browsers browsertest.Pool

func TestMain(m *testing.M) {
	code := m.Run()
	browsers.Close()
	os.Exit(code)
}

// The helper records requests, console errors, geolocation and screenshots:
// the console and field app tests rely on each.
func TestTabRecordsWhatThePageDoes(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/style.css" {
			w.Header().Set("Content-Type", "text/css")
			_, _ = w.Write([]byte("body{font-size:20px}"))
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(`<!doctype html><html lang="zh-CN"><head><meta name="viewport" content="width=device-width,initial-scale=1"><link rel="stylesheet" href="/style.css"></head>
<body><h1 id="t">入户 测试</h1><p id="geo">-</p>
<script>
console.error("boom");
navigator.geolocation.getCurrentPosition(p => { document.getElementById("geo").textContent = p.coords.latitude.toFixed(3) + "," + p.coords.accuracy; });
</script></body></html>`))
	}))
	defer ts.Close()

	tab := browsers.Tab(t, browsertest.Phone)
	tab.Geolocation(ts.URL, 31.5, 117.2, 12)
	tab.Do(chromedp.Navigate(ts.URL))
	if got := tab.Text("#t"); got != "入户 测试" {
		t.Fatalf("heading = %q", got)
	}
	tab.WaitJS(`document.getElementById("geo").textContent !== "-"`)
	if got := tab.Text("#geo"); got != "31.500,12" {
		t.Fatalf("geolocation = %q", got)
	}
	if w := browsertest.Eval[float64](tab, "window.innerWidth"); w != 390 {
		t.Fatalf("viewport width = %v, want 390", w)
	}
	reqs := strings.Join(tab.Requests(), " ")
	if !strings.Contains(reqs, "/style.css") {
		t.Fatalf("requests %q lack the stylesheet", reqs)
	}
	probs := tab.Problems()
	if len(probs) != 1 || !strings.Contains(probs[0], "boom") {
		t.Fatalf("problems = %q, want the console error", probs)
	}
	if tab.Screenshot("page") == "" {
		t.Fatal("no screenshot written")
	}
	tab.RequireLoopbackOnly()
}
