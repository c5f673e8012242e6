package console

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/ruhu-dev/ruhu/server/auth"
	"github.com/ruhu-dev/ruhu/syncengine"
)

// maxImportBytes bounds a register upload: a county's register is a few
// MB; anything far larger is a wrong file, refused before it is read.
const maxImportBytes = 32 << 20

type adminData struct {
	Accounts []Account
	Devices  []Device
	Roles    []string
	// Done says what the last form did, worded for the notice.
	Done string
}

// admin lists users and devices with the add-user form; the backend
// refuses a non-admin (EFORBIDDEN), the menu only hides the link.
func (c *Console) admin(w http.ResponseWriter, r *http.Request, rq *request) {
	accounts, err := c.backend.Accounts(r.Context(), rq.User)
	if err != nil {
		c.fail(w, r, rq, err)
		return
	}
	devices, err := c.backend.Devices(r.Context(), rq.User)
	if err != nil {
		c.fail(w, r, rq, err)
		return
	}
	c.render(w, r, http.StatusOK, "admin", rq, "用户与设备", adminData{Accounts: accounts, Devices: devices,
		Roles: auth.Roles,
		Done:  adminNotice(r.URL.Query().Get("done"))})
}

// adminNotice words the outcome a form redirected with ("revoked:<id>")
// for the clerk; anything else in the query — a stale or hand-typed link —
// shows no notice rather than echoing the URL.
func adminNotice(done string) string {
	kind, subject, ok := strings.Cut(done, ":")
	if !ok || subject == "" {
		return ""
	}
	switch kind {
	case "user":
		return "已新增用户 " + subject
	case "updated":
		return "已保存用户 " + subject + " 的修改"
	case "revoked":
		return "已吊销设备 " + subject + "，该平板需重新登录注册"
	}
	return ""
}

// addUser creates an account through the core (the admin API's rules).
func (c *Console) addUser(w http.ResponseWriter, r *http.Request, rq *request) {
	in := NewUser{
		Username:    strings.TrimSpace(r.PostFormValue("new_username")),
		Password:    r.PostFormValue("new_password"),
		Role:        r.PostFormValue("role"),
		DisplayName: strings.TrimSpace(r.PostFormValue("display_name")),
		Scopes:      strings.Fields(strings.ReplaceAll(r.PostFormValue("scopes"), ",", " ")),
	}
	if in.Role == auth.RoleAdmin && len(in.Scopes) == 0 {
		in.Scopes = []string{""} // an admin's scope is every area
	}
	if err := c.backend.AddUser(r.Context(), rq.User, in); err != nil {
		if syncengine.ErrorCode(err) == syncengine.ECONFLICT {
			err = syncengine.Errorf(syncengine.ECONFLICT, "用户名 %s 已存在", in.Username)
		}
		c.fail(w, r, rq, err)
		return
	}
	c.log.Info("console: user added", "by", rq.User.Username, "user", in.Username, "role", in.Role)
	http.Redirect(w, r, "/admin?done="+url.QueryEscape("user:"+in.Username), http.StatusSeeOther)
}

// updateUser sets an account's role, scopes and disabled flag through the
// core (the admin API's rules, audited); the form sends all three.
func (c *Console) updateUser(w http.ResponseWriter, r *http.Request, rq *request) {
	username := r.PathValue("username")
	ch := UserChange{
		Role:     r.PostFormValue("role"),
		Scopes:   strings.Fields(strings.ReplaceAll(r.PostFormValue("scopes"), ",", " ")),
		Disabled: r.PostFormValue("status") == "disabled",
	}
	if ch.Role == auth.RoleAdmin && len(ch.Scopes) == 0 {
		ch.Scopes = []string{""} // an admin's scope is every area
	}
	if ch.Scopes == nil {
		ch.Scopes = []string{} // no scopes is refused, not "unchanged"
	}
	if username == rq.User.Username && (ch.Disabled || ch.Role != auth.RoleAdmin) {
		// The core refuses it too; this says so in the page's language.
		c.fail(w, r, rq, syncengine.Errorf(syncengine.EINVALID, "不能停用自己的账号或取消自己的管理员角色，请由其他管理员操作"))
		return
	}
	if err := c.backend.UpdateUser(r.Context(), rq.User, username, ch); err != nil {
		c.fail(w, r, rq, err)
		return
	}
	c.log.Info("console: user updated", "by", rq.User.Username, "user", username, "role", ch.Role, "disabled", ch.Disabled)
	http.Redirect(w, r, "/admin?done="+url.QueryEscape("updated:"+username)+"#users", http.StatusSeeOther)
}

// revokeDevice ends a tablet's sync tokens through the core.
func (c *Console) revokeDevice(w http.ResponseWriter, r *http.Request, rq *request) {
	id := r.PathValue("id")
	if err := c.backend.RevokeDevice(r.Context(), rq.User, id); err != nil {
		c.fail(w, r, rq, err)
		return
	}
	c.log.Info("console: device revoked", "by", rq.User.Username, "device", id)
	http.Redirect(w, r, "/admin?done="+url.QueryEscape("revoked:"+id)+"#devices", http.StatusSeeOther)
}

type importData struct {
	Result   *ImportResult
	FileName string
}

// importPage shows the register upload form; only roles that may import
// see the menu link, and the core refuses the others on upload.
func (c *Console) importPage(w http.ResponseWriter, r *http.Request, rq *request) {
	c.render(w, r, http.StatusOK, "import", rq, "导入农户花名册", importData{})
}

// importUpload reads the multipart XLSX and imports it through the core;
// row problems come back as a table on the same page.
func (c *Console) importUpload(w http.ResponseWriter, r *http.Request, rq *request) {
	f, hdr, err := r.FormFile("register")
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			c.fail(w, r, rq, syncengine.Errorf(syncengine.EINVALID, "文件过大（上限 %d MB）", maxImportBytes>>20))
			return
		}
		c.fail(w, r, rq, syncengine.Errorf(syncengine.EINVALID, "请选择要导入的 XLSX 文件"))
		return
	}
	defer f.Close()
	res, err := c.backend.ImportHouseholds(r.Context(), rq.User, f)
	if err != nil {
		c.fail(w, r, rq, err)
		return
	}
	c.log.Info("console: register imported", "by", rq.User.Username, "file", hdr.Filename,
		"imported", res.Imported, "unchanged", res.Unchanged, "problems", len(res.Problems))
	c.render(w, r, http.StatusOK, "import", rq, "导入农户花名册", importData{Result: res, FileName: hdr.Filename})
}

// limitBody bounds a POST body before its form is parsed (the CSRF
// check parses it).
func limitBody(n int64, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, n)
		h(w, r)
	}
}
