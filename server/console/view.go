package console

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/ruhu-dev/ruhu/collection"
	"github.com/ruhu-dev/ruhu/rules"
	"github.com/ruhu-dev/ruhu/server/auth"
)

// page is what every template gets: the layout's needs and the page's own
// data in Data.
type page struct {
	Title string
	User  *User
	CSRF  string
	// Nav is the first path segment, to mark the current menu entry.
	Nav  string
	Data any
}

var funcs = template.FuncMap{
	"cst":             cst,
	"cstDate":         func(t time.Time) string { return local(t, "2006-01-02") },
	"cstTime":         func(t time.Time) string { return local(t, "15:04:05") },
	"fieldLabel":      fieldLabel,
	"roleLabel":       roleLabel,
	"stageLabel":      stageLabel,
	"kindTitle":       func(k rules.Kind) string { return k.Title() },
	"jsonText":        jsonText,
	"fieldText":       fieldText,
	"canResolve":      func(u *User) bool { return u != nil && auth.CanResolveConflicts(u.Role) },
	"readsReport":     func(u *User) bool { return u != nil && auth.CanReadReports(u.Role) },
	"dutyLabel":       dutyLabel,
	"weekdays":        func() [7]string { return weekdayNames },
	"canUpload":       func(u *User) bool { return u != nil && auth.CanWrite(u.Role, collection.Photos) },
	"isAdmin":         func(u *User) bool { return u != nil && u.Role == auth.RoleAdmin },
	"query":           query,
	"add":             func(a, b int) int { return a + b },
	"short":           func(s string) string { return shortSHA(s) },
	"kindLabel":       kindLabel,
	"detailLabel":     detailLabel,
	"collectionTitle": collection.Title,
	"readsAudit":      func(u *User) bool { return u != nil && auth.CanReadAudit(u.Role) },
}

func cst(t time.Time) string { return local(t, "2006-01-02 15:04") }

// local formats an instant in China Standard Time (rules.Shanghai, the
// zone of every period and report); the zero time is "—".
func local(t time.Time, layout string) string {
	if t.IsZero() {
		return "—"
	}
	return t.In(rules.Shanghai()).Format(layout)
}

func shortSHA(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

// query builds "?k=v&..." from pairs, skipping empty values.
func query(pairs ...string) template.URL {
	v := url.Values{}
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] != "" {
			v.Set(pairs[i], pairs[i+1])
		}
	}
	if len(v) == 0 {
		return ""
	}
	// Encoded by url.Values: safe as a URL.
	return template.URL("?" + v.Encode())
}

func parsePages() (map[string]*template.Template, error) {
	base, err := template.New("layout.html").Funcs(funcs).ParseFS(files, "templates/layout.html")
	if err != nil {
		return nil, fmt.Errorf("console: parse layout: %w", err)
	}
	names, err := fs.Glob(files, "templates/*.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, n := range names {
		name := strings.TrimSuffix(path.Base(n), ".html")
		if name == "layout" {
			continue
		}
		t, err := template.Must(base.Clone()).ParseFS(files, n)
		if err != nil {
			return nil, fmt.Errorf("console: parse %s: %w", n, err)
		}
		pages[name] = t
	}
	return pages, nil
}

// render executes a page into a buffer first, so that a template error
// answers a clean 500 instead of half a page.
func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, name string, rq *request, title string, data any) {
	p := page{Title: title, Data: data, Nav: strings.SplitN(strings.TrimPrefix(r.URL.Path, "/"), "/", 2)[0]}
	if rq != nil {
		p.User, p.CSRF = &rq.User, rq.Session.CSRF
	}
	var buf bytes.Buffer
	t := c.pages[name]
	if t == nil {
		c.log.Error("console: no template", "name", name)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	if err := t.ExecuteTemplate(&buf, "layout.html", p); err != nil {
		c.log.Error("console: render", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// jsonText shows a JSON value as text: strings without quotes, other
// values as compact JSON.
func jsonText(raw json.RawMessage) string {
	if len(raw) == 0 {
		return "（空）"
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var buf bytes.Buffer
	if json.Compact(&buf, raw) == nil {
		return buf.String()
	}
	return string(raw)
}

// fieldText shows a field's JSON value with the labels staff know: a
// household status as 已脱贫（2019年）, a cause as 因病.
func fieldText(name string, raw json.RawMessage) string {
	switch name {
	case "status":
		var st struct {
			Value string `json:"value"`
			Year  int    `json:"year"`
		}
		if json.Unmarshal(raw, &st) == nil && st.Value != "" {
			s := rules.Status(st.Value).Label()
			if st.Year > 0 {
				s += fmt.Sprintf("（%d年）", st.Year)
			}
			return s
		}
	case "primary_cause":
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return causeLabel(s)
		}
	}
	return jsonText(raw)
}

func roleLabel(role string) string {
	switch role {
	case auth.RoleOfficer:
		return "帮扶干部"
	case auth.RoleTeamMember:
		return "驻村工作队"
	case auth.RoleTownship:
		return "乡镇"
	case auth.RoleCounty:
		return "县扶贫办"
	case auth.RoleAuditor:
		return "检查组"
	case auth.RoleAdmin:
		return "管理员"
	}
	return role
}

func stageLabel(stage string) string {
	switch stage {
	case "before":
		return "改造前"
	case "during":
		return "改造中"
	case "after":
		return "竣工后"
	}
	return "其他"
}

var causeLabels = map[string]string{
	"illness": "因病", "disability": "因残", "education": "因学", "disaster": "因灾", "lack_land": "缺土地",
	"lack_water": "缺水", "lack_skills": "缺技术", "lack_labour": "缺劳力", "lack_funds": "缺资金", "transport": "交通条件落后",
	"self_motivation": "自身发展动力不足", "other": "其他",
}

func causeLabel(c string) string {
	if l, ok := causeLabels[c]; ok {
		return l
	}
	return c
}

var fieldLabels = map[string]string{
	"head_name": "户主姓名", "address": "住址", "phone": "联系电话", "status": "户状态", "flags": "标识",
	"primary_cause": "主要致贫原因", "secondary_causes": "次要致贫原因", "member_count": "家庭人口",
	"income_per_capita": "人均纯收入（元）", "income_year": "收入年度", "housing_grade": "住房等级", "notes": "备注",
	"food": "吃穿不愁（食物）", "clothing": "吃穿不愁（衣物）", "education": "义务教育保障", "medical": "基本医疗保障",
	"housing": "住房安全保障", "drinking_water": "饮水安全",
}

// fieldLabel is a field's or checklist item's zh-CN label (the name
// itself when none is known).
func fieldLabel(name string) string {
	if l, ok := fieldLabels[name]; ok {
		return l
	}
	return name
}
