package console

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ruhu-dev/ruhu/rules"
	"github.com/ruhu-dev/ruhu/server/auth"
	"github.com/ruhu-dev/ruhu/server/reports"
	"github.com/ruhu-dev/ruhu/syncengine"
)

// periodOption is one entry of the period picker.
type periodOption struct {
	Label, Title string
	Selected     bool
}

// periodChoices offers the periods staff report on: this month and the
// five before, this and last quarter, half-year and year.
func periodChoices(now time.Time, selected string) []periodOption {
	var out []periodOption
	add := func(p rules.Period) {
		title := p.Label
		switch p.Unit {
		case rules.UnitMonth:
			title = fmt.Sprintf("%d年%d月", p.Start.In(rules.Shanghai()).Year(), int(p.Start.In(rules.Shanghai()).Month()))
		case rules.UnitQuarter:
			title = fmt.Sprintf("%d年第%s季度", p.Year(), p.Label[5:])
		case rules.UnitHalfYear:
			title = fmt.Sprintf("%d年%s半年", p.Year(), map[byte]string{'1': "上", '2': "下"}[p.Label[5]])
		case rules.UnitYear:
			title = fmt.Sprintf("%d年全年", p.Year())
		}
		out = append(out, periodOption{Label: p.Label, Title: title, Selected: p.Label == selected})
	}
	m := rules.PeriodOf(rules.UnitMonth, now)
	for i := 0; i < 6; i++ {
		add(m)
		m = rules.PeriodOf(rules.UnitMonth, m.Start.Add(-time.Hour))
	}
	for _, u := range []rules.Unit{rules.UnitQuarter, rules.UnitHalfYear, rules.UnitYear} {
		p := rules.PeriodOf(u, now)
		add(p)
		add(rules.PeriodOf(u, p.Start.Add(-time.Hour)))
	}
	return out
}

// areaAndPeriod reads ?area= (default: the caller's first scope) and
// ?period= (default: the current month).
func (c *Console) areaAndPeriod(r *http.Request, u User) (string, rules.Period, error) {
	area := r.URL.Query().Get("area")
	if area == "" && len(u.Scopes) > 0 {
		area = u.Scopes[0]
	}
	if area != "" && !syncengine.ValidAreaPrefix(area) {
		return "", rules.Period{}, syncengine.Errorf(syncengine.EINVALID, "区划代码应为 1 至 12 位数字")
	}
	label := r.URL.Query().Get("period")
	if label == "" {
		return area, rules.PeriodOf(rules.UnitMonth, c.opts.Now()), nil
	}
	p, err := rules.ParsePeriod(label)
	if err != nil {
		return "", rules.Period{}, syncengine.Errorf(syncengine.EINVALID, "统计期格式应为 2026、2026H2、2026Q3 或 2026-11")
	}
	return area, p, nil
}

// crumb is one step of the area path shown above the roll-up.
type crumb struct{ Code, Title string }

// breadcrumbs lists the areas from the caller's scope down to area.
func breadcrumbs(u User, area string) []crumb {
	top := ""
	for _, s := range u.Scopes {
		if strings.HasPrefix(area, s) && len(s) >= len(top) {
			top = s
		}
	}
	var out []crumb
	for _, l := range []int{2, 4, 6, 9, 12} {
		if l < len(top) || l > len(area) {
			continue
		}
		out = append(out, crumb{Code: area[:l], Title: area[:l]})
	}
	if len(out) == 0 || out[len(out)-1].Code != area {
		out = append(out, crumb{Code: area, Title: area})
	}
	return out
}

// rollRow is one child area of the roll-up table.
type rollRow struct {
	Node    *reports.Node
	Level   string
	Village bool
	// Cells holds one count per finding kind, each linking to its list.
	Cells []rollCell
}

type rollCell struct {
	Count       int
	Link, Title string
}

type overviewData struct {
	Area       string
	Period     rules.Period
	Periods    []periodOption
	Crumbs     []crumb
	Overview   *Overview
	Root       *reports.Node
	Kinds      []rules.Kind
	Rows       []rollRow
	Chart      *barChart
	AsOf       time.Time
	Supervisor bool
	Overdue    int
}

func (c *Console) overview(w http.ResponseWriter, r *http.Request, rq *request) {
	if !auth.CanReadReports(rq.User.Role) {
		// Officers and team members review their own work on their
		// tablets; the console offers them their households.
		c.render(w, r, http.StatusOK, "overview", rq, "首页", overviewData{})
		return
	}
	area, period, err := c.areaAndPeriod(r, rq.User)
	if err != nil {
		c.fail(w, r, rq, err)
		return
	}
	ov, err := c.backend.Overview(r.Context(), rq.User, area, period)
	if err != nil {
		c.fail(w, r, rq, err)
		return
	}
	d := overviewData{Area: area, Period: period, Periods: periodChoices(c.opts.Now(), period.Label),
		Crumbs: breadcrumbs(rq.User, area), Overview: ov, Root: ov.Report.Summary, Kinds: rules.Kinds(),
		AsOf: ov.Report.AsOf, Supervisor: true, Overdue: ov.Report.Summary.Counts[rules.KindVisitOverdue]}
	for _, n := range ov.Report.Summary.Children {
		row := rollRow{Node: n, Level: n.Level.Label(), Village: n.Level == reports.LevelVillage}
		for _, k := range d.Kinds {
			row.Cells = append(row.Cells, rollCell{Count: n.Counts[k], Title: k.Title(),
				Link: "/reports?" + url.Values{"area": {n.Code}, "period": {period.Label}, "list": {string(k)}}.Encode()})
		}
		d.Rows = append(d.Rows, row)
	}
	d.Chart = rollupChart(ov.Report.Summary.Children, period.Label)
	c.render(w, r, http.StatusOK, "overview", rq, "首页", d)
}

type householdsData struct {
	Query    HouseholdQuery
	Page     *HouseholdPage
	Pages    int
	Prev     string
	Next     string
	Statuses []periodOption // value/title pairs for the status filter
}

const householdsPageSize = 50

func (c *Console) households(w http.ResponseWriter, r *http.Request, rq *request) {
	q := r.URL.Query()
	hq := HouseholdQuery{Area: q.Get("area"), Text: strings.TrimSpace(q.Get("q")), Status: q.Get("status"),
		Due: q.Get("due"), PageSize: householdsPageSize}
	hq.Page, _ = strconv.Atoi(q.Get("page"))
	if hq.Page < 1 {
		hq.Page = 1
	}
	if hq.Area != "" && !syncengine.ValidAreaPrefix(hq.Area) {
		c.fail(w, r, rq, syncengine.Errorf(syncengine.EINVALID, "区划代码应为 1 至 12 位数字"))
		return
	}
	page, err := c.backend.Households(r.Context(), rq.User, hq)
	if err != nil {
		c.fail(w, r, rq, err)
		return
	}
	d := householdsData{Query: hq, Page: page, Pages: (page.Total + hq.PageSize - 1) / hq.PageSize}
	for _, s := range []rules.Status{rules.StatusPoor, rules.StatusExited, rules.StatusMonitored, rules.StatusFellBack, rules.StatusRemoved} {
		d.Statuses = append(d.Statuses, periodOption{Label: string(s), Title: s.Label(), Selected: string(s) == hq.Status})
	}
	link := func(p int) string {
		v := url.Values{}
		for k, vs := range q {
			v[k] = vs
		}
		v.Set("page", strconv.Itoa(p))
		return "/households?" + v.Encode()
	}
	if hq.Page > 1 {
		d.Prev = link(hq.Page - 1)
	}
	if hq.Page < d.Pages {
		d.Next = link(hq.Page + 1)
	}
	c.render(w, r, http.StatusOK, "households", rq, "农户", d)
}

type householdData struct {
	File        *HouseholdFile
	HeadName    string
	Stages      []stagePhotos
	Unstaged    []Photo
	OpenCount   int
	Resolved    string
	CanResolve  bool
	CheckItems  []string
	HasFindings bool
}

// stagePhotos groups a household's renovation photos by stage, so before,
// during and after stand side by side.
type stagePhotos struct {
	Stage  string
	Photos []Photo
}

func (c *Console) household(w http.ResponseWriter, r *http.Request, rq *request) {
	f, err := c.backend.Household(r.Context(), rq.User, r.PathValue("id"))
	if err != nil {
		c.fail(w, r, rq, err)
		return
	}
	d := householdData{File: f, Resolved: r.URL.Query().Get("resolved")}
	for _, fv := range f.Fields {
		if fv.Name == "head_name" {
			d.HeadName = jsonText(fv.Value)
		}
	}
	byStage := map[string][]Photo{}
	for _, p := range f.Photos {
		if p.Stage == "" {
			d.Unstaged = append(d.Unstaged, p)
			continue
		}
		byStage[p.Stage] = append(byStage[p.Stage], p)
	}
	for _, st := range []string{"before", "during", "after"} {
		if len(byStage[st]) > 0 {
			d.Stages = append(d.Stages, stagePhotos{Stage: st, Photos: byStage[st]})
		}
	}
	for _, cf := range f.Conflicts {
		if cf.Status == syncengine.ConflictOpen {
			d.OpenCount++
		}
	}
	title := "农户档案 " + f.ID
	if d.HeadName != "" {
		title = d.HeadName + " · 农户档案"
	}
	c.render(w, r, http.StatusOK, "household", rq, title, d)
}

type conflictsData struct {
	Status    string
	Area      string
	Conflicts []Conflict
	Resolved  string
}

func (c *Console) conflicts(w http.ResponseWriter, r *http.Request, rq *request) {
	status := r.URL.Query().Get("status")
	if status == "" {
		status = syncengine.ConflictOpen
	}
	area := r.URL.Query().Get("area")
	list, err := c.backend.Conflicts(r.Context(), rq.User, status, area)
	if err != nil {
		c.fail(w, r, rq, err)
		return
	}
	c.render(w, r, http.StatusOK, "conflicts", rq, "冲突处理",
		conflictsData{Status: status, Area: area, Conflicts: list, Resolved: r.URL.Query().Get("resolved")})
}

// resolve records a decision: the chosen candidate's value (the winner's
// confirms the merge) or another value typed in, with a note. The role
// and scope checks are the core's.
func (c *Console) resolve(w http.ResponseWriter, r *http.Request, rq *request) {
	id := r.PathValue("id")
	choice := r.PostFormValue("choice")
	var value json.RawMessage
	switch choice {
	case "":
		c.fail(w, r, rq, syncengine.Errorf(syncengine.EINVALID, "请选择要保留的值"))
		return
	case "other":
		value = typedValue(r.PostFormValue("other"))
		if value == nil {
			c.fail(w, r, rq, syncengine.Errorf(syncengine.EINVALID, "请填写其他值"))
			return
		}
	default:
		if !json.Valid([]byte(choice)) {
			c.fail(w, r, rq, syncengine.Errorf(syncengine.EINVALID, "所选的值无效"))
			return
		}
		value = json.RawMessage(choice)
	}
	if err := c.backend.Resolve(r.Context(), rq.User, id, value, strings.TrimSpace(r.PostFormValue("note"))); err != nil {
		c.fail(w, r, rq, err)
		return
	}
	c.log.Info("console: conflict resolved", "user", rq.User.Username, "conflict", id)
	back := safeNext(r.PostFormValue("back"))
	sep := "?"
	if strings.Contains(back, "?") {
		sep = "&"
	}
	http.Redirect(w, r, back+sep+"resolved="+url.QueryEscape(id), http.StatusSeeOther)
}

// typedValue turns what a supervisor typed into a JSON value: valid JSON
// (a number, an object) as it is, anything else as a string.
func typedValue(s string) json.RawMessage {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil
	}
	if json.Valid([]byte(s)) && (s[0] != '"' || len(s) > 1) {
		return json.RawMessage(s)
	}
	b, _ := json.Marshal(s)
	return b
}

type findingsData struct {
	Area     string
	Findings []PhotoFinding
}

func (c *Console) findings(w http.ResponseWriter, r *http.Request, rq *request) {
	area, _, err := c.areaAndPeriod(r, rq.User)
	if err != nil {
		c.fail(w, r, rq, err)
		return
	}
	list, err := c.backend.PhotoFindings(r.Context(), rq.User, area)
	if err != nil {
		c.fail(w, r, rq, err)
		return
	}
	c.render(w, r, http.StatusOK, "findings", rq, "照片核查", findingsData{Area: area, Findings: list})
}

type reportsData struct {
	Area    string
	Period  rules.Period
	Periods []periodOption
	Lists   []listLink
	List    string
	Title   string
	Header  []string
	Rows    [][]string
}

type listLink struct{ Name, Title string }

func (c *Console) reports(w http.ResponseWriter, r *http.Request, rq *request) {
	if !auth.CanReadReports(rq.User.Role) {
		// The backend refuses the report itself; the empty page is refused
		// too, so the answer does not depend on the query.
		c.fail(w, r, rq, syncengine.Errorf(syncengine.EFORBIDDEN, "role %s may not read reports", rq.User.Role))
		return
	}
	area, period, err := c.areaAndPeriod(r, rq.User)
	if err != nil {
		c.fail(w, r, rq, err)
		return
	}
	d := reportsData{Area: area, Period: period, Periods: periodChoices(c.opts.Now(), period.Label), List: r.URL.Query().Get("list")}
	d.Lists = append(d.Lists, listLink{Name: "summary", Title: "汇总"})
	for _, k := range reports.Kinds() {
		d.Lists = append(d.Lists, listLink{Name: string(k), Title: reports.Title(k)})
	}
	if d.List != "" {
		// The HTML table is the CSV the download gives: the same columns,
		// the same masking.
		var buf bytes.Buffer
		if _, err := c.backend.Report(r.Context(), rq.User, area, period, "csv", d.List, &buf); err != nil {
			c.fail(w, r, rq, err)
			return
		}
		rows, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(buf.Bytes(), []byte("\ufeff")))).ReadAll()
		if err != nil {
			c.fail(w, r, rq, fmt.Errorf("read report CSV: %w", err))
			return
		}
		for _, l := range d.Lists {
			if l.Name == d.List {
				d.Title = l.Title
			}
		}
		if len(rows) > 0 {
			d.Header, d.Rows = rows[0], rows[1:]
		}
	}
	c.render(w, r, http.StatusOK, "reports", rq, "报表", d)
}

func (c *Console) reportDownload(w http.ResponseWriter, r *http.Request, rq *request) {
	area, period, err := c.areaAndPeriod(r, rq.User)
	if err != nil {
		c.fail(w, r, rq, err)
		return
	}
	format, list := r.URL.Query().Get("format"), r.URL.Query().Get("list")
	var buf bytes.Buffer
	name, err := c.backend.ExportReport(r.Context(), rq.User, area, period, format, list, &buf)
	if err != nil {
		c.fail(w, r, rq, err)
		return
	}
	ctype := "text/csv; charset=utf-8"
	if format == "xlsx" {
		ctype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="report.%s"; filename*=UTF-8''%s`, format, url.PathEscape(name)))
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	_, _ = w.Write(buf.Bytes())
}

func (c *Console) photo(w http.ResponseWriter, r *http.Request, rq *request) {
	size := r.URL.Query().Get("size")
	if size == "" {
		size = "thumb"
	}
	rc, ctype, err := c.backend.Photo(r.Context(), rq.User, r.PathValue("sha"), size)
	if err != nil {
		c.fail(w, r, rq, err)
		return
	}
	defer rc.Close()
	w.Header().Set("Content-Type", ctype)
	_, _ = io.Copy(w, rc)
}
