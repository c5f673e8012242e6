// Package console is ruhu's web console for township, county, auditor and
// admin users: server-rendered html/template pages in Chinese, a small
// hand-written script for progressive enhancement and hand-written CSS, all
// embedded in the binary (the county intranet has no internet, so no CDN).
//
// The console is a plain net/http handler over a Backend interface it
// declares; the server implements that interface with the application
// core and its read models, and mounts the handler at "/". Every page asks
// the backend, which applies the same role and scope checks as the API:
// hiding a button is never the check.
//
// Browser sessions live server-side (a random token in an HttpOnly,
// SameSite=Strict cookie; the store keeps its hash), expire, and end at
// logout. Every POST carries the session's CSRF token and a same-origin
// Origin. Every response carries a Content-Security-Policy without inline
// script and frame-ancestors 'none'; pages are Cache-Control: no-store.
package console

import (
	"context"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/ruhu-dev/ruhu/syncengine"
)

//go:embed templates static
var files embed.FS

// Options are the console's tunables; every zero value means the default
// named on the field.
type Options struct {
	// SessionTTL is how long a browser session lives after login. Zero
	// means 8 hours (a working day).
	SessionTTL time.Duration
	// Now is the clock. Nil means time.Now.
	Now func() time.Time
	// SecureCookies sets the Secure flag on the session cookie; leave it
	// false only for plain-HTTP intranet or loopback deployments. A request
	// that arrived over TLS gets a Secure cookie either way.
	SecureCookies bool
}

// Console serves the web console. It is safe for concurrent use.
type Console struct {
	log     *slog.Logger
	backend Backend
	opts    Options
	pages   map[string]*template.Template
	static  http.Handler
	mux     *http.ServeMux
}

// contentSecurityPolicy allows only this origin's files: no inline script,
// no inline style attribute, no framing, forms only to this origin.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// New builds the console over backend. log and backend are required.
func New(log *slog.Logger, backend Backend, opts Options) (*Console, error) {
	if opts.SessionTTL == 0 {
		opts.SessionTTL = 8 * time.Hour
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	static, err := fs.Sub(files, "static")
	if err != nil {
		return nil, err
	}
	c := &Console{log: log, backend: backend, opts: opts, pages: pages,
		static: http.StripPrefix("/static/", http.FileServerFS(static)), mux: http.NewServeMux()}
	c.routes()
	return c, nil
}

// Paths are the path prefixes the console answers; the server routes
// them here and keeps every other path (the API under /v1, /healthz,
// /metrics) for itself.
func Paths() []string {
	return []string{"/", "/login", "/logout", "/static/", "/households", "/conflicts", "/findings",
		"/reports", "/photos/", "/residency", "/uploads", "/admin", "/import", "/favicon.ico", "/exits", "/ledger"}
}

func (c *Console) routes() {
	m := c.mux
	m.HandleFunc("GET /static/", c.serveStatic)
	m.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, r *http.Request) {
		r.URL.Path = "/static/favicon.svg"
		c.serveStatic(w, r)
	})
	m.HandleFunc("GET /login", c.loginPage)
	m.HandleFunc("POST /login", c.login)
	m.HandleFunc("POST /logout", c.authed(c.logout))
	m.HandleFunc("GET /{$}", c.authed(c.overview))
	m.HandleFunc("GET /households", c.authed(c.households))
	m.HandleFunc("GET /households/{id}", c.authed(c.household))
	m.HandleFunc("GET /conflicts", c.authed(c.conflicts))
	m.HandleFunc("POST /conflicts/{id}/resolve", c.authed(c.resolve))
	m.HandleFunc("GET /findings", c.authed(c.findings))
	m.HandleFunc("GET /reports", c.authed(c.reports))
	m.HandleFunc("GET /reports/download", c.authed(c.reportDownload))
	m.HandleFunc("GET /photos/{sha}", c.authed(c.photo))
	m.HandleFunc("GET /residency", c.authed(c.residency))
	m.HandleFunc("GET /uploads", c.authed(c.uploadsPage))
	m.HandleFunc("POST /uploads/token", c.authed(c.uploadToken))
	m.HandleFunc("POST /uploads/photos", c.authed(c.addPhoto))
	m.HandleFunc("GET /admin", c.authed(c.admin))
	m.HandleFunc("POST /admin/users", c.authed(c.addUser))
	m.HandleFunc("POST /admin/users/{username}", c.authed(c.updateUser))
	m.HandleFunc("POST /admin/devices/{id}/revoke", c.authed(c.revokeDevice))
	m.HandleFunc("GET /audit", c.authed(c.audit))
	m.HandleFunc("GET /exits", c.authed(c.exits))
	m.HandleFunc("GET /ledger", c.authed(c.ledger))
	m.HandleFunc("GET /ledger/download", c.authed(c.ledgerDownload))
	m.HandleFunc("POST /ledger/{id}/action", c.authed(c.ledgerAction))
	m.HandleFunc("GET /import", c.authed(c.importPage))
	m.HandleFunc("POST /import", limitBody(maxImportBytes, c.authed(c.importUpload)))
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		c.notFound(w, r, nil)
	})
}

// ServeHTTP sets the security headers every answer carries, refuses
// cross-origin POSTs, and dispatches.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	if r.Method == http.MethodPost && !sameOrigin(r) {
		c.log.Warn("console: cross-origin POST refused", "path", r.URL.Path, "origin", r.Header.Get("Origin"))
		c.errorPage(w, r, http.StatusForbidden, "请求被拒绝", "该请求来自其他网站，已拒绝（跨站请求防护）。", nil)
		return
	}
	c.mux.ServeHTTP(w, r)
}

// sameOrigin reports whether a state-changing request comes from a page
// of this origin: Sec-Fetch-Site (sent by every current browser) must not
// be cross-site or same-site, and an Origin header, when present, must
// name this host. A request with neither (curl, old browsers) passes
// here; the CSRF token still guards it.
func sameOrigin(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "cross-site", "same-site":
		return false
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	if origin == "null" {
		return false
	}
	o, ok := strings.CutPrefix(origin, "http://")
	if !ok {
		o, ok = strings.CutPrefix(origin, "https://")
	}
	return ok && strings.EqualFold(o, r.Host)
}

func (c *Console) serveStatic(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "public, max-age=3600")
	c.static.ServeHTTP(w, r)
}

// handlerFunc is a page handler for a signed-in user.
type handlerFunc func(w http.ResponseWriter, r *http.Request, s *request)

// request is what a signed-in page knows of its caller.
type request struct {
	User    User
	Session *Session
}

// authed loads the session (redirecting to the login page without one),
// checks the CSRF token of a POST, and runs h.
func (c *Console) authed(h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		s, u, err := c.currentSession(r)
		if err != nil {
			c.fail(w, r, nil, err)
			return
		}
		if s == nil {
			if r.Method != http.MethodGet {
				c.errorPage(w, r, http.StatusForbidden, "请求被拒绝", "登录已失效，请重新登录后再操作。", nil)
				return
			}
			http.Redirect(w, r, "/login?next="+safeNext(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		rq := &request{User: u, Session: s}
		if r.Method == http.MethodPost && !validCSRF(r, s) {
			c.errorPage(w, r, http.StatusForbidden, "请求被拒绝", "表单已过期或缺少防伪令牌，请刷新页面后重试。", rq)
			return
		}
		h(w, r, rq)
	}
}

// fail answers an error from the backend with the page its code calls for.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, rq *request, err error) {
	switch syncengine.ErrorCode(err) {
	case syncengine.ENOTFOUND:
		c.notFound(w, r, rq)
	case syncengine.EFORBIDDEN:
		c.errorPage(w, r, http.StatusForbidden, "无权访问", "您的角色或管辖范围不允许此操作。", rq)
	case syncengine.EINVALID:
		c.errorPage(w, r, http.StatusBadRequest, "请求有误", syncengine.ErrorMessage(err), rq)
	case syncengine.ECONFLICT:
		c.errorPage(w, r, http.StatusConflict, "操作冲突", syncengine.ErrorMessage(err), rq)
	case syncengine.EUNAUTHORIZED:
		http.Redirect(w, r, "/login", http.StatusSeeOther)
	case syncengine.ETRANSIENT:
		c.errorPage(w, r, http.StatusServiceUnavailable, "暂时无法访问", "服务器繁忙，请稍后重试。", rq)
	default:
		if !errors.Is(err, context.Canceled) {
			c.log.Error("console: request failed", "path", r.URL.Path, "err", err)
		}
		c.errorPage(w, r, http.StatusInternalServerError, "服务器错误", "服务器内部错误，请稍后重试或联系管理员。", rq)
	}
}

// notFound is the one not-found page: an unknown id and a record outside
// the caller's scope look exactly alike.
func (c *Console) notFound(w http.ResponseWriter, r *http.Request, rq *request) {
	c.errorPage(w, r, http.StatusNotFound, "未找到", "没有找到该页面或记录。", rq)
}

type errorData struct {
	Title, Message string
}

func (c *Console) errorPage(w http.ResponseWriter, r *http.Request, status int, title, msg string, rq *request) {
	w.Header().Set("Cache-Control", "no-store")
	c.render(w, r, status, "error", rq, title, errorData{Title: title, Message: msg})
}
