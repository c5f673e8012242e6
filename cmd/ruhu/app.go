package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	client "github.com/ruhu-dev/ruhu/client-sdk"
	"github.com/ruhu-dev/ruhu/client-sdk/fieldapp"
	"github.com/ruhu-dev/ruhu/schemas"
)

// appVersion is shown on the field app's status screen.
const appVersion = "0.8.0"

// tabletApp serves the field app on loopback until ctx ends: `ruhu tablet
// --data DIR app [--listen 127.0.0.1:8765]`. It prints the launch URL,
// which carries this launch's secret; ready (tests) receives it too.
func tabletApp(ctx context.Context, c *client.Client, reg *schemas.Registry, args []string, getenv func(string) string, stdout, stderr io.Writer, ready chan<- string, asJSON bool) error {
	fs := flag.NewFlagSet("tablet app", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:8765", "loopback address to serve the field app on")
	idle := fs.Duration("idle-lock", 5*time.Minute, "lock the app after this long without activity (when a PIN is set)")
	jsonOut := fs.Bool("json", asJSON, "print the launch URL as one JSON object")
	policies := fs.String("policies", getenv("RUHU_POLICIES"), "folder of the jurisdiction's policy YAML files (env RUHU_POLICIES)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	host, _, err := net.SplitHostPort(*listen)
	if err != nil {
		return fmt.Errorf("app: --listen %q: %w", *listen, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("app: --listen %q: the field app serves loopback only (127.0.0.1)", *listen)
	}
	opts := fieldapp.Options{Client: c, Schemas: reg, IdleLock: *idle, Version: appVersion}
	if *policies != "" {
		opts.PolicyFiles = os.DirFS(*policies)
	}
	app, err := fieldapp.New(opts)
	if err != nil {
		return err
	}
	defer app.Close()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("app: %w", err)
	}
	srv := &http.Server{Handler: app.Handler(), ReadHeaderTimeout: 10 * time.Second}
	base := "http://" + ln.Addr().String()
	url := app.LaunchURL(base)
	if *jsonOut {
		b, _ := json.Marshal(map[string]any{"ok": true, "url": url, "listen": ln.Addr().String()})
		fmt.Fprintf(stdout, "%s\n", b)
	} else {
		fmt.Fprintf(stdout, "入户外勤应用已启动：%s\n请在本机浏览器中打开上面的链接（链接含本次启动的密钥，只在本机有效）。按 Ctrl+C 退出。\n", url)
	}
	if ready != nil {
		ready <- url
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shut)
		return nil
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("app: %w", err)
	}
}
