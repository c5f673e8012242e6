package client_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	client "github.com/ruhu-dev/ruhu/client-sdk"
	"github.com/ruhu-dev/ruhu/syncengine"
)

func TestHTTPTransportMapsErrors(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		want   string
	}{
		{"coded 400", 400, `{"code":"EINVALID","message":"bad op"}`, syncengine.EINVALID},
		{"coded 401", 401, `{"code":"EUNAUTHORIZED","message":"expired"}`, syncengine.EUNAUTHORIZED},
		{"revoked", 403, `{"code":"EREVOKED","message":"lost tablet"}`, syncengine.EREVOKED},
		{"forbidden", 403, `{"code":"EFORBIDDEN","message":"scope"}`, syncengine.EFORBIDDEN},
		{"too large", 413, `{"code":"ETOOLARGE","message":"big"}`, syncengine.ETOOLARGE},
		{"503 coded", 503, `{"code":"ETRANSIENT","message":"busy"}`, syncengine.ETRANSIENT},
		{"500 internal is retried", 500, `{"code":"EINTERNAL","message":"bug"}`, syncengine.ETRANSIENT},
		{"502 from a proxy, html", 502, `<html>bad gateway</html>`, syncengine.ETRANSIENT},
		{"404 without body", 404, ``, syncengine.ENOTFOUND},
		{"unknown code falls back to status", 409, `{"code":"EWHAT","message":"?"}`, syncengine.ECONFLICT},
		{"429", 429, ``, syncengine.ETRANSIENT},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
			}))
			defer srv.Close()
			tr := &client.HTTPTransport{BaseURL: srv.URL}
			_, err := tr.Pull(context.Background(), "", 10)
			if got := syncengine.ErrorCode(err); got != tt.want {
				t.Fatalf("code %q (%v), want %q", got, err, tt.want)
			}
		})
	}
}

func TestHTTPTransportNetworkErrorsAreTransient(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // connection refused from now on
	tr := &client.HTTPTransport{BaseURL: url}
	_, err := tr.Push(context.Background(), &syncengine.PushRequest{})
	if syncengine.ErrorCode(err) != syncengine.ETRANSIENT {
		t.Fatalf("refused connection: %v, want ETRANSIENT", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := tr.Push(ctx, &syncengine.PushRequest{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled request: %v, want context.Canceled", err)
	}
}

func TestHTTPTransportGzipAndServerTime(t *testing.T) {
	f := newFakeServer(t)
	var ex []client.Exchange
	tr := &client.HTTPTransport{BaseURL: f.URL(), OnExchange: func(e client.Exchange) { ex = append(ex, e) }}
	if _, err := tr.Login(context.Background(), fakeUser, fakePassword); err != nil {
		t.Fatal(err)
	}
	if len(ex) != 1 || !ex[0].ServerTime.Equal(f.now) || ex[0].WireOut == 0 || ex[0].WireIn == 0 || ex[0].RawIn == 0 {
		t.Fatalf("exchange %+v", ex)
	}
}

func TestPIIIsSealedAtRest(t *testing.T) {
	const idNumber = "34012219800101123X"
	f := newFakeServer(t)
	tb := newTablet(t, f, nil)
	tb.save(t, "members", "m1", map[string]any{"name": "张三", "id_number": idNumber, "relation": "配偶"})
	f.seed(&syncengine.Op{ID: "srv-m2", RecordID: "m2", Collection: "members", Area: testArea,
		Author: "county", Device: "web", Set: raw(t, map[string]any{"id_number": "340122198001011234"})})
	tb.sync(t)
	got, err := tb.Get("members", "m1")
	if err != nil || got.String("id_number") != idNumber {
		t.Fatalf("get member: %v, %v", got, err)
	}
	if srv := f.record("members/m1"); string(srv.Fields["id_number"].Value) != `"`+idNumber+`"` {
		t.Fatalf("server got id_number %s", srv.Fields["id_number"].Value)
	}
	tb.Close()
	file, err := os.ReadFile(tb.path)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{idNumber, "340122198001011234", "张三"} {
		if bytes.Contains(file, []byte(secret)) {
			t.Fatalf("tablet file holds %s in clear", secret)
		}
	}
	if !bytes.Contains(file, []byte("配偶")) {
		t.Fatal("test is broken: the non-PII relation should be in the file")
	}
}
