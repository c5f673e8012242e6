package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"image/jpeg"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/disintegration/imaging"

	"github.com/ruhu-dev/ruhu/assets/photobench"
	client "github.com/ruhu-dev/ruhu/client-sdk"
	"github.com/ruhu-dev/ruhu/collection"
	"github.com/ruhu-dev/ruhu/rules"
	"github.com/ruhu-dev/ruhu/schemas"
	"github.com/ruhu-dev/ruhu/server/reports"
	"github.com/ruhu-dev/ruhu/syncengine"
)

// The household both demo officers edit offline.
const (
	demoHousehold = "h34019900100101"
	demoArea      = "340199001001"
)

// runDemo starts a seeded server, runs two tablets through an offline edit
// of one household (one field each, one field both), syncs them, prints the
// merged record and the open conflict, and keeps the server running until
// interrupted (or returns at once with --exit, for tests).
func runDemo(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data", envOr(getenv, "RUHU_DEMO_DATA", "./demo-data"), "demo data directory (wiped at start)")
	listen := fs.String("listen", envOr(getenv, "RUHU_LISTEN", "127.0.0.1:8080"), "server listen address; a busy port falls back to a free one")
	exit := fs.Bool("exit", false, "stop the server once the demo has run")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := os.RemoveAll(*dataDir); err != nil {
		return fmt.Errorf("wipe demo data: %w", err)
	}
	if ln, err := net.Listen("tcp", *listen); err != nil {
		fmt.Fprintf(stdout, "端口 %s 被占用，改用随机端口 (port busy, using a free one)\n", *listen)
		*listen = "127.0.0.1:0"
	} else {
		ln.Close()
	}

	srvCtx, stopServer := context.WithCancel(ctx)
	defer stopServer()
	ready := make(chan string, 1)
	errc := make(chan error, 1)
	go func() {
		errc <- runServe(srvCtx, []string{"--listen", *listen, "--data", filepath.Join(*dataDir, "server"), "--seed-demo"}, getenv, stdout, io.Discard, ready)
	}()
	var url string
	select {
	case url = <-ready:
	case err := <-errc:
		return fmt.Errorf("server: %w", err)
	}

	if err := demoTablets(ctx, url, *dataDir, stdout); err != nil {
		return err
	}
	if err := demoReport(ctx, url, *dataDir, demoReportPeriod(time.Now()), stdout); err != nil {
		return err
	}
	if err := demoExit(ctx, url, *dataDir, time.Now(), stdout); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\n服务器运行中 (server running): %s\n", url)
	fmt.Fprintf(stdout, "演示账号 (demo logins): county / %s (县), township1, wang, li, zhao, auditor, admin — same password\n", demoPassword)
	fmt.Fprintf(stdout, "网页控制台 (web console): %s/ — 县 county、乡镇 township1、检查组 auditor、管理员 admin，密码 %s\n", url, demoPassword)
	fmt.Fprintf(stdout, "try: curl -s %s/healthz ; %s/v1/openapi.json\n", url, url)
	fmt.Fprintf(stdout, "外勤应用 (field app) — 帮扶干部 wang 的平板A，在另一个终端运行: ruhu tablet --data %s app\n", filepath.Join(*dataDir, "tablet-wang"))
	fmt.Fprintln(stdout, "  再用浏览器打开它打印的链接（含本次启动的密钥；open the printed URL, it carries the launch secret）")
	if *exit {
		stopServer()
		return <-errc
	}
	fmt.Fprintln(stdout, "按 Ctrl+C 停止 (Ctrl+C to stop)")
	return <-errc
}

func demoTablets(ctx context.Context, url, dataDir string, out io.Writer) error {
	reg, err := schemas.New()
	if err != nil {
		return err
	}
	type tablet struct {
		name, user string
		c          *client.Client
	}
	tablets := []*tablet{{name: "平板A", user: "wang"}, {name: "平板B", user: "li"}}
	for _, t := range tablets {
		dir := filepath.Join(dataDir, "tablet-"+t.user)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
		c, err := client.Open(filepath.Join(dir, "tablet.db"), client.Options{Validator: reg, Policy: mergePolicy(reg)})
		if err != nil {
			return err
		}
		defer c.Close()
		t.c = c
		if err := c.Login(ctx, url, t.user, demoPassword); err != nil {
			return fmt.Errorf("%s login: %w", t.user, err)
		}
		if err := c.Enroll(ctx, t.name); err != nil {
			return fmt.Errorf("%s enroll: %w", t.user, err)
		}
		if _, err := c.Sync(ctx, nil); err != nil {
			return fmt.Errorf("%s first sync: %w", t.user, err)
		}
		mine, err := c.MyHouseholds()
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "%s (%s) 已同步，负责 %d 户\n", t.name, t.user, len(mine))
	}

	a, b := tablets[0].c, tablets[1].c
	fmt.Fprintln(out, "\n== 离线采集证据 (photos and signatures, offline) ==")
	if err := demoCaptureEvidence(ctx, a, b, out); err != nil {
		return err
	}

	fmt.Fprintln(out, "\n== 两台平板离线编辑同一户 (both tablets edit one household offline) ==")
	edits := []struct {
		c      *client.Client
		who    string
		fields map[string]any
	}{
		{a, "平板A", map[string]any{"phone": "13905510001", "address": "桃园村1组11号（新房）"}},
		{b, "平板B", map[string]any{"member_count": 5, "address": "桃园村1组11号（已搬迁）"}},
	}
	for _, e := range edits {
		set := map[string]json.RawMessage{}
		for k, v := range e.fields {
			set[k], _ = json.Marshal(v)
		}
		if _, err := e.c.Save(ctx, collection.Households, demoHousehold, demoArea, set); err != nil {
			return fmt.Errorf("%s edit: %w", e.who, err)
		}
		fmt.Fprintf(out, "%s 修改 %s\n", e.who, strings.Join(slices.Sorted(maps.Keys(set)), ", "))
	}
	visit := map[string]any{"household_id": demoHousehold, "officer": "wang", "visited_at": time.Now().UTC().Format(time.RFC3339),
		"checklist": map[string]string{"food": "ok", "clothing": "ok", "education": "ok", "medical": "ok", "housing": "problem", "drinking_water": "ok"},
		"notes":     "房屋墙体有裂缝，已上报危房改造。", "answered_by_name": "张建国", "answered_by_relation": "head",
		"gps": map[string]float64{"lat": 31.7052, "lon": 117.1403, "accuracy_m": 8}}
	set := map[string]json.RawMessage{}
	for k, v := range visit {
		set[k], _ = json.Marshal(v)
	}
	if _, err := a.Save(ctx, collection.Visits, a.NewID(), demoArea, set); err != nil {
		return fmt.Errorf("visit: %w", err)
	}
	fmt.Fprintln(out, "平板A 新增走访记录 1 条")

	fmt.Fprintln(out, "\n== 联网同步 (sync) ==")
	for _, t := range []*tablet{tablets[0], tablets[1], tablets[0]} {
		rep, err := t.c.Sync(ctx, nil)
		if err != nil {
			return fmt.Errorf("%s sync: %w", t.name, err)
		}
		fmt.Fprintf(out, "%s: 上传 %d 条, 下载 %d 条\n", t.name, rep.Pushed, rep.Pulled)
	}
	for _, t := range tablets {
		rep, err := t.c.Upload(ctx, nil)
		if err != nil {
			return fmt.Errorf("%s upload: %w", t.name, err)
		}
		if rep.Failed > 0 {
			return fmt.Errorf("%s upload: %d files failed", t.name, rep.Failed)
		}
		fmt.Fprintf(out, "%s: 上传文件 %d 个（原图 %d 张等待 Wi-Fi）\n", t.name, rep.Uploaded, rep.Deferred)
	}

	tok, err := demoLogin(ctx, url, "county")
	if err != nil {
		return err
	}
	var rec struct {
		Record struct {
			Fields   map[string]json.RawMessage `json:"fields"`
			Versions map[string]struct {
				Author string `json:"author"`
			} `json:"versions"`
		} `json:"record"`
	}
	if err := demoGet(ctx, url+"/v1/records/households/"+demoHousehold, tok, &rec); err != nil {
		return err
	}
	fmt.Fprintf(out, "\n== 服务器上合并后的记录 households/%s ==\n", demoHousehold)
	for _, f := range []string{"head_name", "address", "phone", "member_count"} {
		fmt.Fprintf(out, "  %-13s %s  (by %s)\n", f, rec.Record.Fields[f], rec.Record.Versions[f].Author)
	}
	var conflicts struct {
		Conflicts []struct {
			ID         string `json:"id"`
			Field      string `json:"field"`
			Candidates []struct {
				Value  json.RawMessage `json:"value"`
				Author string          `json:"author"`
				Device string          `json:"device"`
				Winner bool            `json:"winner"`
			} `json:"candidates"`
		} `json:"conflicts"`
	}
	if err := demoGet(ctx, url+"/v1/conflicts?status=open", tok, &conflicts); err != nil {
		return err
	}
	fmt.Fprintf(out, "\n== 待处理冲突 (open conflicts): %d ==\n", len(conflicts.Conflicts))
	for _, cf := range conflicts.Conflicts {
		fmt.Fprintf(out, "  %s field %s:\n", cf.ID, cf.Field)
		for _, c := range cf.Candidates {
			mark := " "
			if c.Winner {
				mark = "*"
			}
			fmt.Fprintf(out, "   %s %s  (by %s on %s)\n", mark, c.Value, c.Author, c.Device)
		}
	}
	for _, t := range tablets {
		got, err := t.c.Get(collection.Households, demoHousehold)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "%s 本地: address=%s phone=%s member_count=%s\n", t.name, got.Values["address"], got.Values["phone"], got.Values["member_count"])
	}
	return demoEvidenceChecks(ctx, url, tok, out)
}

// The demo's renovation case: 张建国's house in 桃园村, both officers'
// household. demoCopyHousehold is where 平板B passes a copy of its "after"
// photo off as another household's.
const (
	demoCase          = "hc34019900100101"
	demoCopyHousehold = "h34019900100201"
)

// demoCaptureEvidence records, offline: on 平板A a renovation case with a
// before photo (two months ago) and an after photo (today, 25 m away),
// the household head's acceptance of the case, and the household head's
// signature on the household record (which the offline edits that follow
// make stale); on 平板B a resized, recompressed copy of the after photo
// attached to another household (which the findings catch).
func demoCaptureEvidence(ctx context.Context, a, b *client.Client, out io.Writer) error {
	now := time.Now()
	caseFields := map[string]json.RawMessage{"household_id": json.RawMessage(`"` + demoHousehold + `"`),
		"grade": json.RawMessage(`"D"`), "build_mode": json.RawMessage(`"repair"`)}
	if _, err := a.Save(ctx, collection.HousingCases, demoCase, demoArea, caseFields); err != nil {
		return fmt.Errorf("housing case: %w", err)
	}
	before, err := photobench.JPEG(1600, 1200, 7, 90)
	if err != nil {
		return err
	}
	after, err := photobench.JPEG(1600, 1200, 8, 90)
	if err != nil {
		return err
	}
	site := client.GPS{Lat: 31.7051, Lon: 117.1402, AccuracyM: 5}
	for _, p := range []client.PhotoAttachment{
		{HouseholdID: demoHousehold, CaseID: demoCase, Stage: "before", Original: before, CapturedAt: now.AddDate(0, -2, 0), GPS: &site},
		{HouseholdID: demoHousehold, CaseID: demoCase, Stage: "after", Original: after, CapturedAt: now.Add(-2 * time.Hour),
			GPS: &client.GPS{Lat: site.Lat + 0.0002, Lon: site.Lon + 0.0001, AccuracyM: 5}},
	} {
		if _, err := a.AttachPhoto(ctx, p); err != nil {
			return fmt.Errorf("attach %s photo: %w", p.Stage, err)
		}
	}
	fmt.Fprintf(out, "平板A 危房改造 %s：改造前、竣工后照片各 1 张\n", demoCase)
	strokes := []client.Stroke{{{X: 10, Y: 40, T: 0}, {X: 30, Y: 10, T: 16}, {X: 50, Y: 42, T: 33}}, {{X: 70, Y: 20, T: 300}, {X: 120, Y: 22, T: 340}}}
	for _, sc := range []client.SignatureCapture{
		{SignerName: "张建国", SignerRole: "household_head", SignedCollection: collection.HousingCases, SignedRecordID: demoCase, Purpose: "acceptance", Strokes: strokes},
		{SignerName: "张建国", SignerRole: "household_head", SignedCollection: collection.Households, SignedRecordID: demoHousehold, Purpose: "identification", Strokes: strokes},
	} {
		if _, err := a.CaptureSignature(ctx, sc); err != nil {
			return fmt.Errorf("signature on %s: %w", sc.SignedCollection, err)
		}
	}
	fmt.Fprintln(out, "平板A 户主张建国签字 2 次：竣工验收、农户信息确认")
	copied, err := demoResizedCopy(after)
	if err != nil {
		return err
	}
	if _, err := b.AttachPhoto(ctx, client.PhotoAttachment{HouseholdID: demoCopyHousehold, Stage: "after", Original: copied,
		CapturedAt: now.Add(-time.Hour), GPS: &client.GPS{Lat: 31.7188, Lon: 117.1610, AccuracyM: 8}}); err != nil {
		return fmt.Errorf("attach copied photo: %w", err)
	}
	fmt.Fprintf(out, "平板B 为农户 %s 附上竣工照片 1 张（其实是平板A照片的缩小副本）\n", demoCopyHousehold)
	return nil
}

// demoResizedCopy scales a JPEG to 1200 px wide and recompresses it: a
// copy that is not byte-identical, which only a perceptual hash catches.
func demoResizedCopy(src []byte) ([]byte, error) {
	img, err := jpeg.Decode(bytes.NewReader(src))
	if err != nil {
		return nil, fmt.Errorf("decode photo: %w", err)
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, imaging.Resize(img, 1200, 0, imaging.Lanczos), &jpeg.Options{Quality: 70}); err != nil {
		return nil, fmt.Errorf("encode copy: %w", err)
	}
	return buf.Bytes(), nil
}

// demoEvidenceChecks prints what the county office sees of the evidence:
// the renovation case's completeness, the photo findings of the county
// (waiting for the server to hash the uploaded photos) and the
// signatures on the household.
func demoEvidenceChecks(ctx context.Context, url, tok string, out io.Writer) error {
	var ev struct {
		Complete bool     `json:"complete"`
		Missing  []string `json:"missing"`
	}
	if err := demoGet(ctx, url+"/v1/housing_cases/"+demoCase+"/evidence", tok, &ev); err != nil {
		return err
	}
	fmt.Fprintln(out, "\n== 证据核查 (evidence checks) ==")
	if ev.Complete {
		fmt.Fprintf(out, "危房改造 %s：资料齐全（改造前后照片、户主竣工验收签字）\n", demoCase)
	} else {
		fmt.Fprintf(out, "危房改造 %s：缺少 %s\n", demoCase, strings.Join(ev.Missing, "、"))
	}
	type finding struct {
		Kind   string `json:"kind"`
		Title  string `json:"title"`
		Detail string `json:"detail"`
	}
	var found struct {
		Findings []finding `json:"findings"`
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		if err := demoGet(ctx, url+"/v1/findings?area="+demoCounty, tok, &found); err != nil {
			return err
		}
		if slices.ContainsFunc(found.Findings, func(f finding) bool { return f.Kind == "reused_photo" }) {
			break
		}
		if time.Now().After(deadline) {
			return errors.New("the server did not process the demo photos within a minute")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	fmt.Fprintf(out, "照片核查 (photo findings): %d 条\n", len(found.Findings))
	for _, f := range found.Findings {
		fmt.Fprintf(out, "  【%s】%s\n", f.Title, f.Detail)
	}
	var sigs struct {
		Signatures []struct {
			ID          string `json:"id"`
			SignerName  string `json:"signer_name"`
			Status      string `json:"signature_status"`
			StatusTitle string `json:"signature_status_title"`
		} `json:"signatures"`
	}
	for _, rec := range []string{"housing_cases/" + demoCase, "households/" + demoHousehold} {
		if err := demoGet(ctx, url+"/v1/signatures?record="+rec, tok, &sigs); err != nil {
			return err
		}
		for _, s := range sigs.Signatures {
			fmt.Fprintf(out, "签字 %s 在 %s 上：%s（%s）\n", s.SignerName, rec, s.StatusTitle, s.Status)
		}
	}
	return nil
}

// demoReport prints the county roll-up of the last full month as the
// county office sees it and saves the workbook next to the demo data.
func demoReport(ctx context.Context, url, dataDir string, period rules.Period, out io.Writer) error {
	tok, err := demoLogin(ctx, url, "county")
	if err != nil {
		return err
	}
	query := url + "/v1/reports/compliance?area=" + demoCounty + "&period=" + period.Label
	var r reports.Report
	if err := demoGet(ctx, query, tok, &r); err != nil {
		return err
	}
	fmt.Fprintf(out, "\n== 上月合规汇总 (compliance roll-up, %s) ==\n", period.Label)
	printReportSummary(out, &r)
	xlsx, err := demoDownload(ctx, query+"&format=xlsx", tok)
	if err != nil {
		return err
	}
	path := filepath.Join(dataDir, "report-"+period.Label+".xlsx")
	if err := os.WriteFile(path, xlsx, 0o600); err != nil {
		return fmt.Errorf("save report: %w", err)
	}
	fmt.Fprintf(out, "\n报表已保存 (workbook saved): %s\n", path)
	return nil
}

func demoDownload(ctx context.Context, url, token string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s %s", url, resp.Status, b)
	}
	return b, nil
}

// demoLogin signs user in with the demo password and returns the access
// token.
func demoLogin(ctx context.Context, url, user string) (string, error) {
	resp, err := (&client.HTTPTransport{BaseURL: url}).Login(ctx, user, demoPassword)
	if err != nil {
		return "", fmt.Errorf("demo login: %w", err)
	}
	return resp.AccessToken, nil
}

// demoGet reads the JSON answer of GET url into v.
func demoGet(ctx context.Context, url, token string, v any) error {
	b, err := demoDownload(ctx, url, token)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// mergePolicy adapts the schema registry's collection policies for the SDK.
func mergePolicy(reg *schemas.Registry) func(string) syncengine.MergePolicy {
	return func(col string) syncengine.MergePolicy {
		p := reg.Policy(col)
		return syncengine.MergePolicy{AppendOnly: p.AppendOnly, Annotations: p.Annotations}
	}
}
