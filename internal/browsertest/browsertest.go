// Package browsertest drives a real headless Chromium (Debian's chromium
// package) for the web console's and the field app's tests: one browser
// process per test package, one isolated browser context (cookies, storage)
// per tab, every request the page makes recorded, console errors and
// uncaught exceptions collected, screenshots saved as test artifacts.
//
// A test package shares one browser through a Pool declared in a test file:
//
//	var browsers browsertest.Pool
//
//	func TestMain(m *testing.M) {
//		code := m.Run()
//		browsers.Close()
//		os.Exit(code)
//	}
//
//	func TestLogin(t *testing.T) {
//		tab := browsers.Tab(t, browsertest.Desktop)
//		tab.Do(chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS("form")))
//		tab.Screenshot("login")
//	}
//
// When no Chromium binary is found the tests skip with a message, unless
// RUHU_REQUIRE_EXTERNAL=1, in which case they fail: CI must never pass by
// skipping. RUHU_CHROMIUM names the binary explicitly.
package browsertest

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// FindBinary returns the Chromium executable to use: $RUHU_CHROMIUM, else
// chromium or chromium-browser on PATH; "" when none is found.
func FindBinary() string {
	if p := os.Getenv("RUHU_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// Pool lazily launches one Chromium for the tests of a package and hands out
// isolated tabs. The zero value is ready to use; Close stops the browser.
type Pool struct {
	once    sync.Once
	err     error
	missing string
	alloc   context.Context
	browser context.Context
	cancel  []context.CancelFunc
}

func (p *Pool) start() {
	bin := FindBinary()
	if bin == "" {
		p.missing = "browsertest: no Chromium binary (apt-get install chromium, or set RUHU_CHROMIUM)"
		return
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("lang", "zh-CN"),
		chromedp.WindowSize(1366, 768),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelBrowser := chromedp.NewContext(alloc)
	p.cancel = append(p.cancel, cancelBrowser, cancelAlloc)
	// The first Do starts the browser process.
	if err := chromedp.Do(ctx); err != nil {
		p.err = fmt.Errorf("browsertest: start %s: %w", bin, err)
		return
	}
	p.alloc, p.browser = alloc, ctx
}

// Close stops the browser, if one was started.
func (p *Pool) Close() {
	for _, c := range p.cancel {
		c()
	}
	p.cancel = nil
}

// Available reports whether a browser is running (starting it if needed)
// without skipping or failing; benches use it.
func (p *Pool) Available() error {
	p.once.Do(p.start)
	if p.missing != "" {
		return errors.New(p.missing)
	}
	return p.err
}

// Device describes the screen a tab emulates.
type Device struct {
	Name          string
	Width, Height int64
	Scale         float64
	Mobile, Touch bool
}

// Desktop is the township office laptop; Phone is a 390-px phone; Tablet360
// is a cheap Android tablet/phone at 360×640.
var (
	Desktop   = Device{Name: "desktop", Width: 1366, Height: 768, Scale: 1}
	Phone     = Device{Name: "phone", Width: 390, Height: 844, Scale: 2, Mobile: true, Touch: true}
	Tablet360 = Device{Name: "tablet360", Width: 360, Height: 640, Scale: 2, Mobile: true, Touch: true}
	Tablet10  = Device{Name: "tablet10", Width: 800, Height: 1280, Scale: 1.5, Mobile: true, Touch: true}
)

// Tab is one page in its own browser context (its own cookies and storage).
type Tab struct {
	// Ctx is the chromedp context of the tab: pass it to chromedp.Do/Run.
	Ctx context.Context
	tb  testing.TB
	dev Device

	mu       sync.Mutex
	requests []string
	problems []string
}

// Tab opens a new isolated tab emulating dev. It skips (or fails, see the
// package doc) when no browser is available; the tab closes at the test's
// end.
func (p *Pool) Tab(tb testing.TB, dev Device) *Tab {
	tb.Helper()
	p.once.Do(p.start)
	if p.missing != "" {
		if os.Getenv("RUHU_REQUIRE_EXTERNAL") == "1" {
			tb.Fatal(p.missing + "; RUHU_REQUIRE_EXTERNAL=1 forbids skipping")
		}
		tb.Skip(p.missing)
	}
	if p.err != nil {
		tb.Fatal(p.err)
	}
	ctx, cancel := chromedp.NewContext(p.browser, chromedp.WithNewBrowserContext())
	// Bound every test's browser work; a hung page must not hang make test.
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	t := &Tab{Ctx: ctx, tb: tb, dev: dev}
	tb.Cleanup(func() { cancelTimeout(); cancel() })
	if err := chromedp.Listen(ctx, t.observe); err != nil {
		tb.Fatalf("browsertest: listen: %v", err)
	}
	t.Do(chromedp.EmulateViewport(dev.Width, dev.Height, func(m *emulation.SetDeviceMetricsOverrideParams, tp *emulation.SetTouchEmulationEnabledParams) {
		m.DeviceScaleFactor = dev.Scale
		m.Mobile = dev.Mobile
		tp.Enabled = dev.Touch
	}))
	return t
}

func (t *Tab) observe(ev any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch e := ev.(type) {
	case *network.EventRequestWillBeSent:
		if e.Request != nil {
			t.requests = append(t.requests, e.Request.URL)
		}
	case *runtime.EventExceptionThrown:
		if e.ExceptionDetails != nil {
			msg := e.ExceptionDetails.Text
			if e.ExceptionDetails.Exception != nil && e.ExceptionDetails.Exception.Description != "" {
				msg += ": " + e.ExceptionDetails.Exception.Description
			}
			t.problems = append(t.problems, "exception: "+msg)
		}
	case *runtime.EventConsoleAPICalled:
		if e.Type == runtime.ConsoleAPICalledTypeError {
			var parts []string
			for _, a := range e.Args {
				if a == nil {
					continue
				}
				if len(a.Value) > 0 {
					parts = append(parts, string(a.Value))
				} else {
					parts = append(parts, a.Description)
				}
			}
			t.problems = append(t.problems, "console.error: "+strings.Join(parts, " "))
		}
	}
}

// Do runs actions in the tab and fails the test on the first error.
func (t *Tab) Do(actions ...chromedp.Action[chromedp.Void]) {
	t.tb.Helper()
	if err := chromedp.Do(t.Ctx, actions...); err != nil {
		t.Screenshot("failure")
		t.tb.Fatalf("browsertest: %v", err)
	}
}

// Eval evaluates a JavaScript expression in the page and decodes its value
// into T, failing the test on error.
func Eval[T any](t *Tab, expr string) T {
	t.tb.Helper()
	v, err := chromedp.Run(t.Ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Screenshot("failure")
		t.tb.Fatalf("browsertest: eval %q: %v", expr, err)
	}
	return v
}

// WaitJS waits until the JavaScript expression is truthy in the page.
func (t *Tab) WaitJS(expr string) {
	t.tb.Helper()
	if _, err := chromedp.Run(t.Ctx, chromedp.Poll[any](expr)); err != nil {
		t.Screenshot("failure")
		t.tb.Fatalf("browsertest: wait for %q: %v", expr, err)
	}
}

// Text returns the visible text of the first element matching the CSS
// selector, waiting for it to be visible.
func (t *Tab) Text(css string) string {
	t.tb.Helper()
	t.Do(chromedp.WaitVisible(chromedp.CSS(css)))
	s, err := chromedp.Run(t.Ctx, chromedp.Text(chromedp.CSS(css)))
	if err != nil {
		t.tb.Fatalf("browsertest: text of %s: %v", css, err)
	}
	return s
}

// Throttle slows the tab's CPU by rate (4 = a mid-range tablet).
func (t *Tab) Throttle(rate float64) {
	t.tb.Helper()
	if _, err := chromedp.Call(t.Ctx, emulation.SetCPUThrottlingRate, emulation.SetCPUThrottlingRateParams{Rate: rate}); err != nil {
		t.tb.Fatalf("browsertest: cpu throttling: %v", err)
	}
}

// Geolocation makes navigator.geolocation answer the given position to
// pages of origin (e.g. "http://127.0.0.1:8765"), permission granted.
func (t *Tab) Geolocation(origin string, lat, lon, accuracy float64) {
	t.tb.Helper()
	if _, err := chromedp.CallBrowser(t.Ctx, browser.SetPermission, browser.SetPermissionParams{
		Permission:       &browser.PermissionDescriptor{Name: "geolocation"},
		Setting:          "granted",
		Origin:           origin,
		BrowserContextID: chromedp.FromContext(t.Ctx).BrowserContextID,
	}); err != nil {
		t.tb.Fatalf("browsertest: grant geolocation: %v", err)
	}
	if _, err := chromedp.Call(t.Ctx, emulation.SetGeolocationOverride, emulation.SetGeolocationOverrideParams{
		Latitude: &lat, Longitude: &lon, Accuracy: &accuracy,
	}); err != nil {
		t.tb.Fatalf("browsertest: geolocation override: %v", err)
	}
}

// Requests returns every URL the tab has requested so far.
func (t *Tab) Requests() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.requests...)
}

// Problems returns the console errors and uncaught exceptions seen so far
// (a CSP violation shows up here too).
func (t *Tab) Problems() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.problems...)
}

// RequireLoopbackOnly fails the test if the tab requested any host that is
// not loopback (a CDN, a font service): the county intranet has no internet.
// data: and blob: URLs are local and allowed.
func (t *Tab) RequireLoopbackOnly() {
	t.tb.Helper()
	for _, r := range t.Requests() {
		if strings.HasPrefix(r, "data:") || strings.HasPrefix(r, "blob:") || strings.HasPrefix(r, "about:") {
			continue
		}
		u, err := url.Parse(r)
		if err != nil {
			t.tb.Errorf("browsertest: unparsable request URL %q", r)
			continue
		}
		switch u.Hostname() {
		case "127.0.0.1", "localhost", "::1":
		default:
			t.tb.Errorf("browsertest: the page requested a non-loopback URL %s", r)
		}
	}
}

// RequireNoProblems fails the test if the page logged a console error or
// threw an uncaught exception.
func (t *Tab) RequireNoProblems() {
	t.tb.Helper()
	for _, p := range t.Problems() {
		t.tb.Errorf("browsertest: %s", p)
	}
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// ArtifactDir is where screenshots go: $RUHU_ARTIFACTS, else
// $TMPDIR/ruhu-artifacts.
func ArtifactDir() string {
	if d := os.Getenv("RUHU_ARTIFACTS"); d != "" {
		return d
	}
	return filepath.Join(os.TempDir(), "ruhu-artifacts")
}

// Screenshot saves a full-page PNG of the tab as
// <ArtifactDir>/<test>-<device>-<name>.png and returns its path.
func (t *Tab) Screenshot(name string) string {
	t.tb.Helper()
	// A screenshot taken while a page is navigating can wait for a frame
	// that never comes; bound it so that it cannot eat the tab's whole
	// budget and hide the assertion that matters.
	ctx, cancel := context.WithTimeout(t.Ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.tb.Logf("browsertest: screenshot %s: %v", name, err)
		return ""
	}
	dir := ArtifactDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.tb.Logf("browsertest: %v", err)
		return ""
	}
	file := filepath.Join(dir, unsafeName.ReplaceAllString(t.tb.Name()+"-"+t.dev.Name+"-"+name, "_")+".png")
	if err := os.WriteFile(file, png, 0o644); err != nil {
		t.tb.Logf("browsertest: %v", err)
		return ""
	}
	t.tb.Logf("screenshot: %s", file)
	return file
}

// SaveScreenshotTo writes a full-page PNG of the tab to path (for the
// README's images, refreshed by the tests when RUHU_UPDATE_SCREENSHOTS=1).
func (t *Tab) SaveScreenshotTo(path string) {
	t.tb.Helper()
	png, err := chromedp.Run(t.Ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.tb.Fatalf("browsertest: screenshot: %v", err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.tb.Fatalf("browsertest: %v", err)
	}
}
