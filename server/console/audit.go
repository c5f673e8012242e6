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

// detailLabels names the facts audit entries carry (the keys server/core
// records). The stored keys stay English — the hash chain covers them —
// and the page shows the auditor these words, with the key as a tooltip.
var detailLabels = map[string]string{
	"acked": "已确认", "applied": "已应用", "rejected": "被拒绝", "ops": "操作数", "digest": "批次摘要",
	"signature": "设备签名", "role": "角色", "role_before": "原角色", "scopes": "管辖区划",
	"scopes_before": "原管辖区划", "user": "用户", "action": "动作", "status": "状态",
	"display_name": "姓名", "device": "设备", "name": "名称", "public_key": "公钥", "conflict": "冲突",
	"field": "字段", "op": "操作", "record": "记录", "what": "内容", "format": "格式", "period": "统计期",
	"list": "清单", "file": "文件", "via": "途径", "bytes": "字节数", "sha256": "文件哈希",
	"imported": "已导入", "unchanged": "未变", "problems": "问题行",
}

// detailLabel is the Chinese name of an audit fact, or its key when the
// core records a fact this page does not know yet.
func detailLabel(k string) string {
	if l, ok := detailLabels[k]; ok {
		return l
	}
	return k
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
