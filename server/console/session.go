package console

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"

	"github.com/ruhu-dev/ruhu/syncengine"
)

// sessionCookie names the session cookie. It holds a random token only;
// who it belongs to is in the store.
const sessionCookie = "ruhu_session"

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}

// sessionKey is what the store keeps of a cookie token: its sha256.
func sessionKey(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// currentSession returns the request's live session and its account, or
// nil when there is none (no cookie, unknown, expired, account disabled).
// An expired session is deleted.
func (c *Console) currentSession(r *http.Request) (*Session, User, error) {
	ck, err := r.Cookie(sessionCookie)
	if err != nil || ck.Value == "" {
		return nil, User{}, nil
	}
	key := sessionKey(ck.Value)
	s, err := c.backend.Session(r.Context(), key)
	if err != nil || s == nil {
		return nil, User{}, err
	}
	if !c.opts.Now().Before(s.ExpiresAt) {
		return nil, User{}, c.backend.DeleteSession(r.Context(), key)
	}
	u, err := c.backend.User(r.Context(), s.Username)
	if syncengine.ErrorCode(err) == syncengine.EUNAUTHORIZED {
		return nil, User{}, c.backend.DeleteSession(r.Context(), key)
	}
	if err != nil {
		return nil, User{}, err
	}
	return s, u, nil
}

// validCSRF checks the form's csrf field against the session's token in
// constant time.
func validCSRF(r *http.Request, s *Session) bool {
	got := r.PostFormValue("csrf")
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(s.CSRF)) == 1
}

// safeNext keeps a post-login destination only when it is a path on this
// site (no scheme, no host, no "//" that a browser reads as a host).
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") ||
		strings.HasPrefix(next, "/login") || strings.HasPrefix(next, "/logout") {
		return "/"
	}
	return next
}

type loginData struct {
	Username string
	Next     string
	Error    string
}

func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if s, _, err := c.currentSession(r); err == nil && s != nil {
		http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	c.render(w, r, http.StatusOK, "login", nil, "登录", loginData{Next: safeNext(r.URL.Query().Get("next"))})
}

// login checks the password through the backend (the API's login: the
// same answer for a wrong password and an unknown user), then starts a
// session: a new random token, so a token planted before login is useless.
func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	username := strings.TrimSpace(r.PostFormValue("username"))
	password := r.PostFormValue("password")
	next := safeNext(r.PostFormValue("next"))
	u, err := c.backend.Login(r.Context(), username, password)
	if err != nil {
		switch syncengine.ErrorCode(err) {
		case syncengine.EUNAUTHORIZED, syncengine.EINVALID:
			msg := "用户名或密码错误。"
			if syncengine.ErrorCode(err) == syncengine.EINVALID {
				msg = "请输入用户名和密码。"
			}
			c.render(w, r, http.StatusUnauthorized, "login", nil, "登录", loginData{Username: username, Next: next, Error: msg})
		default:
			c.fail(w, r, nil, err)
		}
		return
	}
	// A session cookie the browser already holds is ended: one login,
	// one fresh session.
	if old, err := r.Cookie(sessionCookie); err == nil && old.Value != "" {
		if err := c.backend.DeleteSession(r.Context(), sessionKey(old.Value)); err != nil {
			c.fail(w, r, nil, err)
			return
		}
	}
	token := randomToken()
	now := c.opts.Now()
	s := Session{Key: sessionKey(token), Username: u.Username, CSRF: randomToken(), CreatedAt: now.UTC(), ExpiresAt: now.Add(c.opts.SessionTTL).UTC()}
	if err := c.backend.SaveSession(r.Context(), s); err != nil {
		c.fail(w, r, nil, err)
		return
	}
	c.log.Info("console: login", "user", u.Username)
	http.SetCookie(w, c.cookie(r, token, int(c.opts.SessionTTL.Seconds())))
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// logout deletes the session from the store (the cookie is then worthless
// even if kept) and clears the cookie.
func (c *Console) logout(w http.ResponseWriter, r *http.Request, rq *request) {
	if err := c.backend.DeleteSession(r.Context(), rq.Session.Key); err != nil {
		c.fail(w, r, rq, err)
		return
	}
	c.log.Info("console: logout", "user", rq.User.Username)
	http.SetCookie(w, c.cookie(r, "", -1))
	http.Redirect(w, r, "/login?"+url.Values{"bye": {"1"}}.Encode(), http.StatusSeeOther)
}

func (c *Console) cookie(r *http.Request, value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: sessionCookie, Value: value, Path: "/", MaxAge: maxAge, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: c.opts.SecureCookies || r.TLS != nil}
}
