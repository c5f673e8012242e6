package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/ruhu-dev/ruhu/rules"
	"github.com/ruhu-dev/ruhu/schemas"
	"github.com/ruhu-dev/ruhu/server"
	"github.com/ruhu-dev/ruhu/server/auth"
	"github.com/ruhu-dev/ruhu/server/reports/reportbench"
)

// benchConsole adds the web console's figures to the report bench:
// console_overview_ms, the server time to render "/" (the county roll-up
// with its open conflicts and photo findings) for the benchmark county of
// 100,000 households, and console_household_ms, one household file page.
// Both are the median of three warm requests through the server's HTTP
// handler in process (no network), after one first request each, whose
// time is console_overview_cold_ms and console_household_cold_ms: the
// overview's report is reused while the store has not changed, so the
// warm overview shows that reuse and the cold one the report's making.
// console_overview_after_write_ms is the first overview after a write to
// the store: the last report, shown at once while a fresh one is made.
func benchConsole(ctx context.Context, out map[string]float64) error {
	dir, err := os.MkdirTemp("", "ruhu-bench-console-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	period, err := rules.ParsePeriod(reportbench.Period)
	if err != nil {
		return err
	}
	asOf := period.End.Add(-time.Hour)
	store, err := openStore(dir)
	if err != nil {
		return err
	}
	defer store.Close()
	in := reportbench.Generate(reportbench.County())
	household := in.Households[len(in.Households)/2].ID
	if err := reportbench.WriteStore(store, in, asOf); err != nil {
		return fmt.Errorf("bench console: %w", err)
	}
	in = nil
	runtime.GC()
	if err := ctx.Err(); err != nil {
		return err
	}
	const user, password = "console-bench", "console-bench-password"
	if err := server.AddUser(store.Core(), server.UserInput{Username: user, Password: password, Role: auth.RoleCounty,
		Scopes: []string{reportbench.CountyCode}}, asOf); err != nil {
		return fmt.Errorf("bench console: %w", err)
	}
	reg, err := schemas.New()
	if err != nil {
		return err
	}
	srv := server.New(slog.New(slog.NewTextHandler(io.Discard, nil)), server.Config{Now: func() time.Time { return asOf }}, store.Core(), reg)
	login := httptest.NewRequest(http.MethodPost, "/login", strings.NewReader(url.Values{"username": {user}, "password": {password}}.Encode()))
	login.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := srv.App().Test(login, -1)
	if err != nil {
		return fmt.Errorf("bench console login: %w", err)
	}
	resp.Body.Close()
	var cookie string
	for _, c := range resp.Cookies() {
		if c.Value != "" {
			cookie = c.Name + "=" + c.Value
		}
	}
	if cookie == "" {
		return fmt.Errorf("bench console login: status %d, no session cookie", resp.StatusCode)
	}
	page := func(path string) (warm, cold float64, err error) {
		var times []float64
		for i := 0; i < 4; i++ {
			if err := ctx.Err(); err != nil {
				return 0, 0, err
			}
			req := httptest.NewRequest(http.MethodGet, path, nil)
			req.Header.Set("Cookie", cookie)
			start := time.Now()
			resp, err := srv.App().Test(req, -1)
			if err != nil {
				return 0, 0, fmt.Errorf("bench console %s: %w", path, err)
			}
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			ms := float64(time.Since(start).Microseconds()) / 1000
			if err != nil || resp.StatusCode != http.StatusOK {
				return 0, 0, fmt.Errorf("bench console %s: status %d %v", path, resp.StatusCode, err)
			}
			if i == 0 { // the first request fills caches
				cold = ms
			} else {
				times = append(times, ms)
			}
		}
		slices.Sort(times)
		return times[len(times)/2], cold, nil
	}
	overview := "/?area=" + reportbench.CountyCode + "&period=" + period.Label
	if out["console_overview_ms"], out["console_overview_cold_ms"], err = page(overview); err != nil {
		return err
	}
	// While tablets sync the store changes every few seconds: after a
	// write the overview shows the report it has, marked as being
	// refreshed, and makes a fresh one in the background.
	if err := server.AddUser(store.Core(), server.UserInput{Username: "console-bench-2", Password: password, Role: auth.RoleCounty,
		Scopes: []string{reportbench.CountyCode}}, asOf); err != nil {
		return fmt.Errorf("bench console: %w", err)
	}
	if _, out["console_overview_after_write_ms"], err = page(overview); err != nil {
		return err
	}
	out["console_household_ms"], out["console_household_cold_ms"], err = page("/households/" + household)
	return err
}
