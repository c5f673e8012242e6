package console

import (
	"net/http"
	"strconv"
	"time"

	"github.com/ruhu-dev/ruhu/syncengine"
)

// AuditPage is one page of an area's audit trail and the state of the
// whole chain it belongs to.
type AuditPage struct {
	Entries []AuditEntry
	// NextBefore is the sequence to ask for the next (older) page; 0 when
	// this page reaches the first entry.
	NextBefore uint64
	Chain      AuditChain
}

// AuditEntry is one audited event as the console lists it.
type AuditEntry struct {
	Seq                       uint64
	Time                      time.Time
	Kind, Actor, Device, Area string
	Detail                    []AuditDetail // in key order
	Hash                      string        // hex
}

// AuditDetail is one fact of an entry.
type AuditDetail struct{ Key, Value string }

// AuditChain is what a check of every entry found: Verified with Entries
// entries up to Head (hex), or broken at BrokenAt for Reason. Kept is false
// when the store keeps no audit log.
type AuditChain struct {
	Kept     bool
	Verified bool
	Entries  uint64
	Head     string
	BrokenAt uint64
	Reason   string
}

type auditData struct {
	Area string
	Page *AuditPage
	// Newer links back to the newest page when this one is older.
	Older, Newer bool
}

// kindLabels names the audited kinds (server/audit.Kind values).
var kindLabels = map[string]string{
	"push": "上传数据", "resolve": "处理冲突", "login": "登录", "login_failed": "登录失败",
	"enroll": "登记设备", "revoke": "停用设备", "user": "账号变更", "import": "导入", "export": "导出",
}

func kindLabel(k string) string {
	if l, ok := kindLabels[k]; ok {
		return l
	}
	return k
}

// audit serves GET /audit?area=&before=: the audit trail of an area,
// newest first, paged by sequence. The backend checks role and scope.
func (c *Console) audit(w http.ResponseWriter, r *http.Request, rq *request) {
	area := r.URL.Query().Get("area")
	if area == "" && len(rq.User.Scopes) > 0 {
		area = rq.User.Scopes[0]
	}
	if area != "" && !syncengine.ValidAreaPrefix(area) {
		c.fail(w, r, rq, syncengine.Errorf(syncengine.EINVALID, "区划代码应为 1 至 12 位数字"))
		return
	}
	var before uint64
	if v := r.URL.Query().Get("before"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			c.fail(w, r, rq, syncengine.Errorf(syncengine.EINVALID, "翻页参数应为记录序号"))
			return
		}
		before = n
	}
	p, err := c.backend.AuditTrail(r.Context(), rq.User, area, before)
	if err != nil {
		c.fail(w, r, rq, err)
		return
	}
	c.render(w, r, http.StatusOK, "audit", rq, "审计日志", auditData{Area: area, Page: p, Older: p.NextBefore != 0, Newer: before != 0})
}
