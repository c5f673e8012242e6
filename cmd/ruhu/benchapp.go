package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	client "github.com/ruhu-dev/ruhu/client-sdk"
	"github.com/ruhu-dev/ruhu/client-sdk/fieldapp"
	"github.com/ruhu-dev/ruhu/collection"
	"github.com/ruhu-dev/ruhu/internal/browsertest"
	"github.com/ruhu-dev/ruhu/schemas"
)

// benchAppResult is what `ruhu bench app` prints. Targets: app_list_ms ≤
// 1,500 and app_save_visit_ms ≤ 200.
type benchAppResult struct {
	// Households is how many the list draws: the seeded ones and the
	// demo officer's own.
	Households int `json:"households"`
	// AppListMS is the median time, in a 360×640 Chromium tab with its
	// CPU slowed 4× (a mid-range tablet), from switching to 我的农户 to the
	// list of every household laid out; AppListRunsMS are the runs.
	AppListMS     float64   `json:"app_list_ms"`
	AppListRunsMS []float64 `json:"app_list_runs_ms"`
	// AppFirstLoadMS is opening the app at its launch URL to the list.
	AppFirstLoadMS float64 `json:"app_first_load_ms"`
	// AppSaveVisitMS is the median time of saving a visit draft with two
	// camera photos (PhotoPixels each) until the save answers, the visit,
	// its photos and their files in the outbox.
	AppSaveVisitMS     float64   `json:"app_save_visit_ms"`
	AppSaveVisitRunsMS []float64 `json:"app_save_visit_runs_ms"`
	PhotoPixels        string    `json:"photo_pixels"`
	CPUThrottle        float64   `json:"cpu_throttle"`
}

// runBenchApp measures the field app: a tablet store holding n households
// assigned to wang (pushed by township staff to an in-process demo server
// and pulled), the app served on loopback from this process.
func runBenchApp(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench app", flag.ContinueOnError)
	fs.SetOutput(stderr)
	n := fs.Int("households", 300, "households on the officer's list")
	runs := fs.Int("runs", 5, "measured runs of each figure")
	if err := fs.Parse(args); err != nil {
		return err
	}
	bin := browsertest.FindBinary()
	if bin == "" {
		return fmt.Errorf("bench app: no Chromium binary (apt-get install chromium, or set RUHU_CHROMIUM)")
	}
	dir, err := os.MkdirTemp("", "ruhu-bench-app-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	res := benchAppResult{Households: *n, CPUThrottle: 4}

	fmt.Fprintf(stderr, "bench app: seeding %d households\n", *n)
	srvCtx, stopServer := context.WithCancel(ctx)
	defer stopServer()
	ready := make(chan string, 1)
	errc := make(chan error, 1)
	go func() {
		errc <- runServe(srvCtx, []string{"--listen", "127.0.0.1:0", "--data", filepath.Join(dir, "server"), "--seed-demo"},
			func(string) string { return "" }, io.Discard, io.Discard, ready)
	}()
	var url string
	select {
	case url = <-ready:
	case err := <-errc:
		return fmt.Errorf("bench app: server: %w", err)
	}
	ids, err := benchAppSeed(ctx, dir, url, *n)
	if err != nil {
		return err
	}
	reg, err := schemas.New()
	if err != nil {
		return err
	}
	c, err := client.Open(filepath.Join(dir, "tablet-wang.db"), client.Options{Validator: reg, Policy: mergePolicy(reg)})
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Login(ctx, url, "wang", demoPassword); err != nil {
		return err
	}
	if err := c.Enroll(ctx, "平板A"); err != nil {
		return err
	}
	if _, err := c.Sync(ctx, nil); err != nil {
		return err
	}
	stopServer()
	<-errc

	app, err := fieldapp.New(fieldapp.Options{Client: c, Schemas: reg, Version: appVersion})
	if err != nil {
		return err
	}
	defer app.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: app.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	defer hs.Close()
	base := "http://" + ln.Addr().String()

	if err := benchAppList(ctx, bin, app.LaunchURL(base), *n, *runs, &res); err != nil {
		return err
	}
	if err := benchAppSave(ctx, c, app.LaunchURL(base), base, ids, *runs, &res); err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(res)
}

// benchAppSeed has township1 register n monitored households in 桃园村
// and assign them to wang, and returns their ids.
func benchAppSeed(ctx context.Context, dir, url string, n int) ([]string, error) {
	reg, err := schemas.New()
	if err != nil {
		return nil, err
	}
	c, err := client.Open(filepath.Join(dir, "tablet-township.db"), client.Options{Validator: reg, Policy: mergePolicy(reg)})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if err := c.Login(ctx, url, "township1", demoPassword); err != nil {
		return nil, err
	}
	if err := c.Enroll(ctx, "乡镇平板"); err != nil {
		return nil, err
	}
	const area = "340199001001"
	var ids []string
	for i := range n {
		id := fmt.Sprintf("hb%05d", i)
		h, err := encodeFields(map[string]any{"head_name": demoSurnames[i%len(demoSurnames)] + demoGiven[(i/len(demoSurnames))%len(demoGiven)],
			"status": map[string]any{"value": "monitored", "year": 2025}, "address": fmt.Sprintf("桃园村%d组%d号", 1+i%9, 1+i), "member_count": 1 + i%5,
			"primary_cause": "illness"})
		if err != nil {
			return nil, err
		}
		a, err := encodeFields(map[string]any{"officer": "wang", "household_id": id, "active": true})
		if err != nil {
			return nil, err
		}
		m, err := encodeFields(map[string]any{"household_id": id, "name": "户主" + id, "relation": "head"})
		if err != nil {
			return nil, err
		}
		for _, w := range []struct {
			col, id string
			f       map[string]json.RawMessage
		}{{collection.Households, id, h}, {collection.Members, "m" + id, m}, {collection.Assignments, "a" + id, a}} {
			if _, err := c.Save(ctx, w.col, w.id, area, w.f); err != nil {
				return nil, fmt.Errorf("bench app: seed %s/%s: %w", w.col, w.id, err)
			}
		}
		ids = append(ids, id)
	}
	rep, err := c.Sync(ctx, nil)
	if err != nil {
		return nil, err
	}
	if rep.Rejected > 0 {
		return nil, fmt.Errorf("bench app: the server refused %d seed records", rep.Rejected)
	}
	return ids, nil
}

// listTimer switches to another screen and back to 我的农户 and answers the
// milliseconds until the list is drawn and the next frame laid out.
const listTimer = `new Promise((res, rej) => {
  const want = %d;
  const t0 = performance.now();
  delete document.body.dataset.ready;
  location.hash = "#/";
  const check = () => {
    if (performance.now() - t0 > 60000) return rej(new Error("list not drawn"));
    if (document.body.dataset.ready === "list" && document.querySelectorAll("#households .hh").length >= want)
      return requestAnimationFrame(() => setTimeout(() => res(performance.now() - t0), 0));
    setTimeout(check, 2);
  };
  check();
})`

func benchAppList(ctx context.Context, bin, launch string, n, runs int, res *benchAppResult) error {
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(bin), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("lang", "zh-CN"), chromedp.WindowSize(360, 640))
	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	tab, cancelTab := chromedp.NewContext(alloc)
	defer cancelTab()
	tab, cancelTimeout := context.WithTimeout(tab, 5*time.Minute)
	defer cancelTimeout()
	if err := chromedp.Do(tab, chromedp.EmulateViewport(360, 640, func(m *emulation.SetDeviceMetricsOverrideParams, tp *emulation.SetTouchEmulationEnabledParams) {
		m.DeviceScaleFactor, m.Mobile, tp.Enabled = 2, true, true
	})); err != nil {
		return fmt.Errorf("bench app: browser: %w", err)
	}
	if _, err := chromedp.Call(tab, emulation.SetCPUThrottlingRate, emulation.SetCPUThrottlingRateParams{Rate: res.CPUThrottle}); err != nil {
		return fmt.Errorf("bench app: cpu throttling: %w", err)
	}
	start := time.Now()
	if err := chromedp.Do(tab, chromedp.Navigate(launch)); err != nil {
		return fmt.Errorf("bench app: open: %w", err)
	}
	drawn := fmt.Sprintf(`document.body.dataset.ready === "list" && document.querySelectorAll("#households .hh").length >= %d`, n)
	if _, err := chromedp.Run(tab, chromedp.Poll[any](drawn)); err != nil {
		return fmt.Errorf("bench app: first list: %w", err)
	}
	res.AppFirstLoadMS = ms(time.Since(start))
	drawnCount, err := chromedp.Run(tab, chromedp.Evaluate[int](`document.querySelectorAll("#households .hh").length`))
	if err != nil {
		return err
	}
	res.Households = drawnCount
	for range runs {
		if err := chromedp.Do(tab, chromedp.Evaluate[chromedp.Void](`location.hash = "#/status"`)); err != nil {
			return err
		}
		if _, err := chromedp.Run(tab, chromedp.Poll[any](`document.body.dataset.ready === "status"`)); err != nil {
			return fmt.Errorf("bench app: status screen: %w", err)
		}
		v, err := chromedp.Run(tab, chromedp.Evaluate[float64](fmt.Sprintf(listTimer, n), chromedp.EvalAwaitPromise))
		if err != nil {
			return fmt.Errorf("bench app: list: %w", err)
		}
		res.AppListRunsMS = append(res.AppListRunsMS, round1(v))
	}
	res.AppListMS = median(res.AppListRunsMS)
	return nil
}

// benchAppSave saves visit drafts with two photos each through the app's
// API, as the page does, timing the save call.
func benchAppSave(ctx context.Context, c *client.Client, launch, base string, households []string, runs int, res *benchAppResult) error {
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Timeout: time.Minute}
	resp, err := hc.Get(launch)
	if err != nil {
		return err
	}
	resp.Body.Close()
	call := func(method, path, ctype string, body []byte) ([]byte, error) {
		req, err := http.NewRequestWithContext(ctx, method, base+path, bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.Header.Set("X-Ruhu-App", "1")
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		resp, err := hc.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, b)
		}
		return b, nil
	}
	const w, h = 3264, 2448 // an 8-megapixel tablet camera
	res.PhotoPixels = fmt.Sprintf("%dx%d", w, h)
	photos := [][]byte{benchJPEG(w, h, 1), benchJPEG(w, h, 2)}
	values, _ := json.Marshal(map[string]any{"values": map[string]string{"checklist.food": "ok", "checklist.clothing": "ok",
		"checklist.education": "ok", "checklist.medical": "ok", "checklist.housing": "ok", "checklist.drinking_water": "ok",
		"answered_by_name": "户主", "notes": "例行走访"}})
	for i := range runs {
		draft := "visit-" + households[i%len(households)]
		if _, err := call("PUT", "/api/drafts/"+draft, "application/json", values); err != nil {
			return fmt.Errorf("bench app: draft: %w", err)
		}
		for _, p := range photos {
			if _, err := call("POST", "/api/drafts/"+draft+"/photos?stage=before&name=p.jpg", "image/jpeg", p); err != nil {
				return fmt.Errorf("bench app: photo: %w", err)
			}
		}
		before, err := c.Status()
		if err != nil {
			return err
		}
		start := time.Now()
		if _, err := call("POST", "/api/drafts/"+draft+"/save", "", nil); err != nil {
			return fmt.Errorf("bench app: save: %w", err)
		}
		took := time.Since(start)
		after, err := c.Status()
		if err != nil {
			return err
		}
		// Two photos records and the visit are in the outbox.
		if after.Pending-before.Pending != 3 {
			return fmt.Errorf("bench app: the outbox grew by %d ops, want the visit and its two photos", after.Pending-before.Pending)
		}
		res.AppSaveVisitRunsMS = append(res.AppSaveVisitRunsMS, ms(took))
	}
	res.AppSaveVisitMS = median(res.AppSaveVisitRunsMS)
	return nil
}

// benchJPEG is a camera-like JPEG: a gradient with grain, so it neither
// compresses to nothing nor is pure noise.
func benchJPEG(w, h int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 7))
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			g := uint8(r.IntN(24))
			img.SetRGBA(x, y, color.RGBA{uint8(x*200/w) + g, uint8(y*180/h) + g, 90 + g, 255})
		}
	}
	var buf bytes.Buffer
	_ = jpeg.Encode(&buf, img, &jpeg.Options{Quality: 88})
	return buf.Bytes()
}

func ms(d time.Duration) float64 { return round1(float64(d.Microseconds()) / 1000) }

func round1(v float64) float64 { return float64(int64(v*10+0.5)) / 10 }

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}
