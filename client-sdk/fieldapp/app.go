// Package fieldapp is the field app: a small web app the tablet's own
// process serves on loopback over client-sdk, for officers at a farmhouse
// door and work-team members in the village, offline from the first screen
// after enrolment. On Android a thin WebView shell shows it, the way
// Syncthing runs on phones.
//
// Everything it serves is embedded (no CDN, no build step): one HTML page,
// one stylesheet and one hand-written script that draws every screen from
// a JSON API (api.go). Forms are generated from the collections' JSON
// Schemas (form.go), each input named by its field's path.
//
// Another app on the tablet must not drive it: it answers only requests
// whose Host is a loopback address, and only with the per-launch secret —
// given once in the URL the launcher prints (/open?k=SECRET), exchanged
// for an HttpOnly SameSite=Strict cookie — every other request is refused.
// A PIN locks the API after a period without activity, and at launch:
// unlocking derives the key of the personal fields from the PIN and the
// server's key share (client-sdk tabletkeys.go), and locking forgets it.
package fieldapp

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	client "github.com/ruhu-dev/ruhu/client-sdk"
	"github.com/ruhu-dev/ruhu/rules"
	"github.com/ruhu-dev/ruhu/schemas"
	"github.com/ruhu-dev/ruhu/syncengine"
)

//go:embed static
var static embed.FS

// cookieName carries the session the launch secret was exchanged for.
const cookieName = "ruhu_app"

// Options configure an App. Every zero value has a useful meaning except
// Client and Schemas, which are required.
type Options struct {
	// Client is the tablet store and sync client, shared with nothing
	// else in the process while the app runs.
	Client *client.Client
	// Schemas generate the forms and validate what they save. A
	// registry with one more field shows that field in the form.
	Schemas *schemas.Registry
	// PolicyFiles are the jurisdiction's policy files over the shipped
	// ones (visit cadence, residency days). Nil: the shipped ones.
	PolicyFiles fs.FS
	// Secret is the per-launch secret. "": a random one (the launcher
	// prints it in the URL).
	Secret string
	// IdleLock is how long without activity before the PIN lock shows.
	// Zero: 5 minutes.
	IdleLock time.Duration
	// Now is the clock of the idle lock. Nil: time.Now.
	Now func() time.Time
	// Version is the app's version shown on the status screen.
	Version string
	// Metered reports whether the network costs by the byte; the sync
	// screen preselects it. Nil: metered.
	Metered func() bool
	// Logger receives request errors. Nil: discarded.
	Logger *slog.Logger
}

// App serves the field app. Create it with New; it is safe for concurrent
// use.
type App struct {
	c        *client.Client
	reg      *schemas.Registry
	policies *rules.PolicySet
	opts     Options
	secret   string
	session  string
	log      *slog.Logger
	ctx      context.Context
	cancel   context.CancelFunc

	mu         sync.Mutex
	lastActive time.Time
	locked     bool

	sync syncState
	// conflicts are the server's conflicts that involve this tablet's
	// edits, as the last sync (or the sync screen) fetched them.
	conflicts conflictState
	// draftMu serialises a draft's read-modify-write: the form's
	// autosave and a photo upload arrive concurrently.
	draftMu sync.Mutex
}

// New makes an App. Close stops a sync in flight.
func New(opts Options) (*App, error) {
	if opts.Client == nil || opts.Schemas == nil {
		return nil, errors.New("fieldapp: Client and Schemas are required")
	}
	if opts.IdleLock <= 0 {
		opts.IdleLock = 5 * time.Minute
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Version == "" {
		opts.Version = "dev"
	}
	pol, err := rules.LoadPolicies(opts.PolicyFiles)
	if err != nil {
		return nil, fmt.Errorf("fieldapp: %w", err)
	}
	a := &App{c: opts.Client, reg: opts.Schemas, policies: pol, opts: opts, secret: opts.Secret, log: opts.Logger}
	if a.secret == "" {
		a.secret = randomToken()
	}
	a.session = randomToken()
	a.ctx, a.cancel = context.WithCancel(context.Background())
	a.lastActive = opts.Now()
	return a, nil
}

// Close cancels a sync in flight and waits for it.
func (a *App) Close() {
	a.cancel()
	a.sync.wait()
}

// Secret is the per-launch secret.
func (a *App) Secret() string { return a.secret }

// LaunchURL is the URL to open the app with, for an app served at base
// (http://127.0.0.1:8765): it carries the secret once.
func (a *App) LaunchURL(base string) string {
	return strings.TrimRight(base, "/") + "/open?k=" + a.secret
}

func randomToken() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Handler is the app: static files and the JSON API, behind the loopback,
// secret and lock checks.
func (a *App) Handler() http.Handler {
	mux := http.NewServeMux()
	sub, _ := fs.Sub(static, "static")
	files := http.FileServerFS(sub)
	mux.Handle("GET /static/", http.StripPrefix("/static/", files))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		b, _ := fs.ReadFile(sub, "index.html")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(b)
	})
	a.routes(mux)
	return a.guard(mux)
}

// guard refuses non-loopback hosts and requests without the session
// cookie, exchanges the launch secret for the cookie, sets the security
// headers, and applies the PIN lock to the API.
func (a *App) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' blob: data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		if !loopbackHost(r.Host) {
			refuse(w, r, http.StatusForbidden, "EFORBIDDEN", "只接受本机地址的访问")
			return
		}
		if r.URL.Path == "/open" {
			k := r.URL.Query().Get("k")
			if subtle.ConstantTimeCompare([]byte(k), []byte(a.secret)) != 1 {
				refuse(w, r, http.StatusForbidden, "EFORBIDDEN", "启动链接无效：请用本次启动时显示的链接打开")
				return
			}
			http.SetCookie(w, &http.Cookie{Name: cookieName, Value: a.session, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
			http.Redirect(w, r, "/", http.StatusSeeOther)
			return
		}
		ck, err := r.Cookie(cookieName)
		if err != nil || subtle.ConstantTimeCompare([]byte(ck.Value), []byte(a.session)) != 1 {
			refuse(w, r, http.StatusForbidden, "EFORBIDDEN", "需要本次启动的链接：请从启动器重新打开")
			return
		}
		if r.Method != http.MethodGet && r.Header.Get("X-Ruhu-App") != "1" {
			// A cross-site form cannot set this header (CSRF).
			writeError(w, http.StatusForbidden, "EFORBIDDEN", "缺少请求头 X-Ruhu-App")
			return
		}
		if strings.HasPrefix(r.URL.Path, "/api/") && !strings.HasPrefix(r.URL.Path, "/api/lock") {
			if a.isLocked() {
				writeError(w, http.StatusLocked, "ELOCKED", "已锁定：请输入 PIN 解锁")
				return
			}
			a.touch()
		}
		next.ServeHTTP(w, r)
	})
}

func loopbackHost(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// isLocked reports whether the lock is on: a PIN is set and the app was
// locked, idle for IdleLock, or the key is sealed (since launch, or its
// lease ran out). Locking forgets the key in memory until unlocked.
func (a *App) isLocked() bool {
	ks, err := a.c.KeyState()
	if err != nil || !ks.Protected {
		return false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.locked && (!ks.Unlocked || a.opts.Now().Sub(a.lastActive) >= a.opts.IdleLock) {
		a.locked = true
		a.c.Lock()
	}
	return a.locked
}

func (a *App) touch() {
	a.mu.Lock()
	a.lastActive = a.opts.Now()
	a.mu.Unlock()
}

// refusedPage is what a browser opening the app the wrong way shows (a
// bookmark of the bare address, a stale launch link): a sentence, not the
// API's JSON. No style or script: the page's own files need the cookie.
var refusedPage = template.Must(template.New("refused").Parse(`<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>入户 · 无法打开</title></head>
<body><h1>无法打开入户</h1><p id="refused" data-code="{{.Code}}">{{.Message}}</p></body></html>
`))

// refuse answers a refused request: JSON to the app's API calls, a page
// to a browser's navigation.
func refuse(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
	if strings.HasPrefix(r.URL.Path, "/api/") || r.Method != http.MethodGet {
		writeError(w, status, code, msg)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = refusedPage.Execute(w, apiError{Code: code, Message: msg})
}

// apiError is the JSON error every failed API call answers.
type apiError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, apiError{Code: code, Message: msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// fail answers err with its syncengine code's status; uncoded errors are
// logged and answered EINTERNAL.
func (a *App) fail(w http.ResponseWriter, err error) {
	code := syncengine.ErrorCode(err)
	status := http.StatusInternalServerError
	msg := err.Error()
	switch code {
	case syncengine.EINVALID:
		status = http.StatusBadRequest
	case syncengine.ENOTFOUND:
		status = http.StatusNotFound
	case syncengine.ECONFLICT:
		status = http.StatusConflict
	case syncengine.EUNAUTHORIZED:
		status = http.StatusUnauthorized
	case syncengine.EFORBIDDEN:
		status = http.StatusForbidden
	case syncengine.EREVOKED:
		status = http.StatusGone
	case client.CodeWrongPIN:
		status = http.StatusUnauthorized
	case client.CodePINWait:
		status = http.StatusTooManyRequests
	case client.CodeLocked, client.CodeLeaseExpired:
		status = http.StatusLocked
	case syncengine.ETRANSIENT:
		status = http.StatusServiceUnavailable
	default:
		code = syncengine.EINTERNAL
		a.log.Error("field app request failed", "err", err)
	}
	var se *syncengine.Error
	if errors.As(err, &se) {
		msg = se.Message
	}
	// A schema refusal from the store says which field in the form's words
	// (its own text is English, for logs); any other message without
	// Chinese (the server's, Go's) is said by its code.
	var fe *schemas.FieldError
	if errors.As(err, &fe) {
		msg = fieldErrorText(a.reg, fe)
	} else if !cjk.MatchString(msg) {
		a.log.Warn("field app request refused", "code", code, "err", err)
		msg = codeText[string(code)]
		if msg == "" {
			msg = codeText[string(syncengine.EINTERNAL)]
		}
	}
	writeJSON(w, status, apiError{Code: string(code), Message: msg, Field: fieldOf(err)})
}

// fieldOf names the field a validation error is about, when it says.
func fieldOf(err error) string {
	var named *fieldErr
	if errors.As(err, &named) && named.field != "" {
		return named.field
	}
	var fe *schemas.FieldError
	if errors.As(err, &fe) {
		return fe.Field
	}
	return ""
}

func readJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1<<20))
	if err := dec.Decode(v); err != nil {
		return syncengine.Errorf(syncengine.EINVALID, "请求内容无效：%v", err)
	}
	return nil
}
