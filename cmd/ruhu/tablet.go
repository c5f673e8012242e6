package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ruhu-dev/ruhu/chinatime"
	client "github.com/ruhu-dev/ruhu/client-sdk"
	"github.com/ruhu-dev/ruhu/rules"
	"github.com/ruhu-dev/ruhu/schemas"
	"github.com/ruhu-dev/ruhu/syncengine"
)

const tabletUsage = `用法: ruhu tablet [--data 目录] [--schemas 表单目录] <命令> [参数]

命令:
  login --server URL --user 用户名 [--password 密码]   登录（密码也可用环境变量 RUHU_PASSWORD）
  enroll --name 设备名                                 登记本设备
  households                                           我负责的农户
  visit add --household 户编号 [--notes 备注] [--answered-by 受访人] [--relation 关系]
            [--checklist food=ok,housing=problem,...] 记录一次走访（清单默认全部 ok）
  visit import 走访.jsonl                               批量导入走访（每行一个走访 JSON；全部校验通过才导入）
  household set --id 户编号 --field 字段 --value 值       修改农户信息（值按表单类型：电话 13900000001 即文本）
  assignment add --officer 用户名 --household 户编号 [--start 日期]   分配帮扶责任人
  assignment end --id 分配编号 [--end 日期]              结束分配
  record save --collection 表单 (--household 户编号 | --area 区划) [--id 编号] --fields '{JSON}'|@文件
            保存任一表单的记录（收入调查 income_surveys、退出步骤 exit_steps、台账 ledger_items…，按表单校验）
  record show --collection 表单 --id 编号                显示本机上的一条记录
  photo attach (--household 户编号 | --case 项目编号) --stage before|during|after --file 照片.jpg
            [--lat 纬度 --lon 经度 [--accuracy 米]] [--note 备注]   拍照留证（原图与压缩件排队上传）
  signature capture --signer 姓名 --role household_head --record visits/记录编号
            --purpose visit --strokes 笔迹.json                      签字（设备签名，签字图片排队上传）
  uploads [--all]                                      照片和签字文件的上传队列
  sync [--unmetered]                                   同步：先上传下载记录，再上传照片和签字文件
                                                       （原图只在 --unmetered 即 Wi-Fi 时上传）
  status                                               同步状态
  rejected                                             被服务器拒绝的记录
  app [--listen 127.0.0.1:8765] [--idle-lock 5m]       启动外勤应用（本机网页，打印含密钥的链接）

每个命令都接受 --json：输出一个 JSON 对象（编号、数量；出错时 {"ok":false,"code":...,"message":...}）。
在外勤应用里设了 PIN 的平板，农户姓名等个人信息已加密：用环境变量 RUHU_TABLET_PIN 提供 PIN。
`

// chinaTime is the zone visited_at is written in (package chinatime).
var chinaTime = chinatime.Zone()

// runTablet is the tablet CLI: the same library a tablet app uses, driven
// from a terminal, with output in Chinese for field officers.
func runTablet(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	return runTabletWith(ctx, args, getenv, stdout, stderr, nil)
}

// runTabletWith is runTablet; appReady, when not nil, receives the field
// app's launch URL once it serves (tests).
func runTabletWith(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, appReady chan<- string) error {
	fs := flag.NewFlagSet("tablet", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, tabletUsage) }
	dataDir := fs.String("data", envOr(getenv, "RUHU_TABLET_DATA", "./tablet-data"), "tablet data directory (env RUHU_TABLET_DATA)")
	asJSON := fs.Bool("json", false, "print one JSON object (ids, counts, codes) instead of text; also accepted after the command")
	schemaDir := fs.String("schemas", getenv("RUHU_SCHEMAS"), "folder of the collections' JSON Schemas laid out as the shipped ones (json/<collection>.v<N>.json); default: the shipped schemas (env RUHU_SCHEMAS)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	rest := fs.Args()
	if len(rest) == 0 {
		fs.Usage()
		return errors.New("tablet: no command")
	}
	if err := os.MkdirAll(*dataDir, 0o700); err != nil {
		return fmt.Errorf("tablet data directory: %w", err)
	}
	reg, err := loadTabletSchemas(*schemaDir)
	if err != nil {
		return err
	}
	c, err := client.Open(filepath.Join(*dataDir, "tablet.db"), client.Options{
		Validator: reg,
		Policy:    mergePolicy(reg),
		PIIFields: func(col string) []string { return reg.Policy(col).PII },
	})
	if err != nil {
		return err
	}
	defer c.Close()
	t := &tabletCLI{c: c, reg: reg, getenv: getenv, stdout: stdout, stderr: stderr, json: *asJSON}
	// A PIN set in the field app seals the personal fields; the app has
	// its own lock screen.
	if pin := getenv("RUHU_TABLET_PIN"); pin != "" && rest[0] != "app" {
		err = c.Unlock(pin)
	}
	if err == nil {
		err = t.run(ctx, rest, appReady)
	}
	var reported reportedError
	if err != nil && t.json && !errors.As(err, &reported) {
		t.emit(map[string]any{"ok": false, "code": syncengine.ErrorCode(err), "message": syncengine.ErrorMessage(err)})
	}
	return err
}

// usageError is a command line missing what a command needs: EINVALID,
// so scripts reading --json see a stable code.
func usageError(msg string) error { return syncengine.Errorf(syncengine.EINVALID, "%s", msg) }

func (t *tabletCLI) run(ctx context.Context, rest []string, appReady chan<- string) error {
	cmd, cmdArgs := rest[0], rest[1:]
	if (cmd == "visit" || cmd == "household" || cmd == "photo" || cmd == "signature" || cmd == "assignment" || cmd == "record") && len(cmdArgs) > 0 {
		cmd, cmdArgs = cmd+" "+cmdArgs[0], cmdArgs[1:]
	}
	switch cmd {
	case "app":
		return tabletApp(ctx, t.c, t.reg, cmdArgs, t.getenv, t.stdout, t.stderr, appReady, t.json)
	case "visit import":
		return t.visitImport(ctx, cmdArgs)
	case "assignment add":
		return t.assignmentAdd(ctx, cmdArgs)
	case "assignment end":
		return t.assignmentEnd(ctx, cmdArgs)
	case "record save":
		return t.recordSave(ctx, cmdArgs)
	case "record show":
		return t.recordShow(cmdArgs)
	case "login":
		return t.login(ctx, cmdArgs)
	case "enroll":
		return t.enroll(ctx, cmdArgs)
	case "households":
		return t.households(cmdArgs)
	case "visit add":
		return t.visitAdd(ctx, cmdArgs)
	case "household set":
		return t.householdSet(ctx, cmdArgs)
	case "photo attach":
		return t.photoAttach(ctx, cmdArgs)
	case "signature capture":
		return t.signatureCapture(ctx, cmdArgs)
	case "uploads":
		return t.uploads(cmdArgs)
	case "sync":
		return t.sync(ctx, cmdArgs)
	case "status":
		return t.status(cmdArgs)
	case "rejected":
		return t.rejected(cmdArgs)
	default:
		fmt.Fprint(t.stderr, tabletUsage)
		return usageError(fmt.Sprintf("tablet: unknown command %q", cmd))
	}
}

// loadTabletSchemas compiles the schemas of dir, or the shipped ones when
// dir is "": a jurisdiction's schemas with one more field reach the
// tablet's forms and validation without a new build.
func loadTabletSchemas(dir string) (*schemas.Registry, error) {
	if dir == "" {
		reg, err := schemas.New()
		if err != nil {
			return nil, fmt.Errorf("load schemas: %w", err)
		}
		return reg, nil
	}
	reg, err := schemas.Load(os.DirFS(dir))
	if err != nil {
		return nil, fmt.Errorf("load schemas from %s: %w", dir, err)
	}
	return reg, nil
}

type tabletCLI struct {
	c              *client.Client
	reg            *schemas.Registry
	getenv         func(string) string
	stdout, stderr io.Writer
	// json: print one JSON object per command (--json).
	json bool
}

func (t *tabletCLI) flags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("tablet "+name, flag.ContinueOnError)
	fs.SetOutput(t.stderr)
	fs.BoolVar(&t.json, "json", t.json, "print one JSON object (ids, counts, codes) instead of text")
	return fs
}

// emit prints v as the command's one JSON object.
func (t *tabletCLI) emit(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		b, _ = json.Marshal(map[string]any{"ok": false, "code": syncengine.EINTERNAL, "message": err.Error()})
	}
	fmt.Fprintf(t.stdout, "%s\n", b)
}

// say prints a line of text unless the output is JSON.
func (t *tabletCLI) say(format string, args ...any) {
	if !t.json {
		fmt.Fprintf(t.stdout, format, args...)
	}
}

func (t *tabletCLI) login(ctx context.Context, args []string) error {
	fs := t.flags("login")
	server := fs.String("server", t.getenv("RUHU_SERVER"), "server URL (env RUHU_SERVER)")
	user := fs.String("user", "", "username")
	password := fs.String("password", "", "password (env RUHU_PASSWORD)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *password == "" {
		*password = t.getenv("RUHU_PASSWORD")
	}
	if *server == "" || *user == "" || *password == "" {
		return usageError("login: 需要 --server、--user 和密码")
	}
	if err := t.c.Login(ctx, *server, *user, *password); err != nil {
		return err
	}
	st, err := t.c.Status()
	if err != nil {
		return err
	}
	if t.json {
		t.emit(map[string]any{"ok": true, "user": st.User, "role": st.Role, "server": st.Server, "enrolled": st.Enrolled})
		return nil
	}
	fmt.Fprintf(t.stdout, "登录成功：%s @ %s\n", *user, *server)
	if !st.Enrolled {
		fmt.Fprintln(t.stdout, "下一步：ruhu tablet enroll --name 设备名")
	}
	return nil
}

func (t *tabletCLI) enroll(ctx context.Context, args []string) error {
	fs := t.flags("enroll")
	name := fs.String("name", "", "device name shown to supervisors, e.g. 平板A")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if strings.TrimSpace(*name) == "" {
		return usageError("enroll: 需要 --name")
	}
	if err := t.c.Enroll(ctx, *name); err != nil {
		return err
	}
	st, err := t.c.Status()
	if err != nil {
		return err
	}
	if t.json {
		t.emit(map[string]any{"ok": true, "device_id": st.DeviceID, "device_name": st.DeviceName})
		return nil
	}
	fmt.Fprintf(t.stdout, "设备已登记：%s（设备编号 %s）\n", *name, st.DeviceID)
	return nil
}

// householdStatusLabel is a household's status in Chinese, with its year.
func householdStatusLabel(h *client.RecordView) string {
	var st struct {
		Value string `json:"value"`
		Year  int    `json:"year"`
	}
	_ = json.Unmarshal(h.Values["status"], &st)
	status := rules.Status(st.Value).Label()
	if st.Year != 0 {
		status += fmt.Sprintf("(%d)", st.Year)
	}
	return status
}

func (t *tabletCLI) households(args []string) error {
	if err := t.flags("households").Parse(args); err != nil {
		return err
	}
	// The tablet knows the shipped policies; a jurisdiction's own files
	// live on the server and shape its reports.
	policies, err := rules.DefaultPolicies()
	if err != nil {
		return err
	}
	mine, err := t.c.HouseholdsDue(t.c.Now(), policies)
	if err != nil {
		return err
	}
	if t.json {
		list := make([]map[string]any, 0, len(mine))
		for _, d := range mine {
			h := d.Household
			it := map[string]any{"id": h.ID, "head_name": h.String("head_name"), "area": h.Area, "status": d.Status,
				"state": string(d.State), "pending": h.Pending, "last_visit": nil}
			if !d.LastVisit.IsZero() {
				it["last_visit"] = d.LastVisit.In(chinaTime).Format(time.RFC3339)
			}
			list = append(list, it)
		}
		t.emit(map[string]any{"ok": true, "count": len(list), "households": list})
		return nil
	}
	if len(mine) == 0 {
		fmt.Fprintln(t.stdout, "没有分配给您的农户（请先同步）")
		return nil
	}
	rows := [][]string{{"户编号", "户主", "区划代码", "状态", "上次走访", "走访", "未同步"}}
	for _, d := range mine {
		h := d.Household
		status := householdStatusLabel(h)
		visited := "从未"
		if !d.LastVisit.IsZero() {
			visited = d.LastVisit.In(chinaTime).Format("2006-01-02")
		}
		pending := ""
		if h.Pending {
			pending = "*"
		}
		rows = append(rows, []string{h.ID, h.String("head_name"), h.Area, status, visited, d.State.Label(), pending})
	}
	writeTable(t.stdout, rows)
	fmt.Fprintf(t.stdout, "共 %d 户\n", len(mine))
	return nil
}

var checklistItems = []string{"food", "clothing", "education", "medical", "housing", "drinking_water"}

func (t *tabletCLI) visitAdd(ctx context.Context, args []string) error {
	fs := t.flags("visit add")
	household := fs.String("household", "", "household id")
	notes := fs.String("notes", "", "notes")
	answeredBy := fs.String("answered-by", "", "who answered the questions (受访人)")
	relation := fs.String("relation", "", "their relation to the head: head spouse child parent grandchild sibling other")
	checklist := fs.String("checklist", "", "checklist items that are not ok, e.g. housing=problem,education=na")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *household == "" {
		return usageError("visit add: 需要 --household")
	}
	h, err := t.c.Get(client.CollectionHouseholds, *household)
	if err != nil {
		return err
	}
	st, err := t.c.Status()
	if err != nil {
		return err
	}
	items := map[string]string{}
	for _, k := range checklistItems {
		items[k] = "ok"
	}
	if *checklist != "" {
		for _, kv := range strings.Split(*checklist, ",") {
			k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
			if _, known := items[k]; !ok || !known {
				return fmt.Errorf("visit add: 清单项 %q 无效，可用：%s", kv, strings.Join(checklistItems, ", "))
			}
			items[k] = v
		}
	}
	fields := map[string]any{
		client.FieldHousehold: h.ID,
		client.FieldOfficer:   st.User,
		client.FieldVisitedAt: t.c.Now().In(chinaTime).Format(time.RFC3339),
		"checklist":           items,
	}
	if *notes != "" {
		fields["notes"] = *notes
	}
	if *answeredBy != "" {
		fields["answered_by_name"] = *answeredBy
	}
	if *relation != "" {
		fields["answered_by_relation"] = *relation
	}
	set := make(map[string]json.RawMessage, len(fields))
	for k, v := range fields {
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("visit add: encode %s: %w", k, err)
		}
		set[k] = b
	}
	id := t.c.NewID()
	if _, err := t.c.Save(ctx, client.CollectionVisits, id, h.Area, set); err != nil {
		return err
	}
	if t.json {
		t.emit(map[string]any{"ok": true, "id": id, "household_id": h.ID, "checklist": items})
		return nil
	}
	fmt.Fprintf(t.stdout, "走访已记录：%s（%s 户主 %s），待同步\n", id, h.ID, h.String("head_name"))
	for _, k := range checklistItems {
		fmt.Fprintf(t.stdout, "  %-15s %s\n", k, items[k])
	}
	return nil
}

func (t *tabletCLI) householdSet(ctx context.Context, args []string) error {
	fs := t.flags("household set")
	id := fs.String("id", "", "household id")
	field := fs.String("field", "", "field name, e.g. phone")
	value := fs.String("value", "", `the value, typed by the schema: 13900000001 for a text field, 3 for a number; an object as JSON, e.g. '{"value":"exited","year":2025}'`)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *id == "" || *field == "" {
		return usageError("household set: 需要 --id、--field 和 --value")
	}
	v, err := typedValue(t.reg, client.CollectionHouseholds, *field, *value)
	if err != nil {
		return err
	}
	if _, err := t.c.Save(ctx, client.CollectionHouseholds, *id, "", map[string]json.RawMessage{*field: v}); err != nil {
		return err
	}
	if t.json {
		t.emit(map[string]any{"ok": true, "id": *id, "field": *field, "value": v})
		return nil
	}
	fmt.Fprintf(t.stdout, "已修改 %s 的 %s = %s，待同步\n", *id, *field, v)
	return nil
}

func (t *tabletCLI) sync(ctx context.Context, args []string) error {
	fs := t.flags("sync")
	unmetered := fs.Bool("unmetered", false, "the network is not paid by the byte (Wi-Fi): also upload photo originals")
	if err := fs.Parse(args); err != nil {
		return err
	}
	bar := t.bar()
	rep, err := t.c.Sync(ctx, bar.show)
	bar.done()
	if err != nil {
		if syncengine.ErrorCode(err) == syncengine.EREVOKED {
			t.say("此设备已被停用，本地数据已清除。请联系管理员后重新登录并登记设备。\n")
		}
		return err
	}
	if t.json {
		files, err := t.uploadFiles(ctx, *unmetered)
		if err != nil {
			return err
		}
		t.emit(map[string]any{"ok": true, "pushed": rep.Pushed, "rejected": rep.Rejected, "pulled": rep.Pulled,
			"wire_bytes": rep.WireOut + rep.WireIn, "restamped": rep.Restamped, "reset": rep.Reset, "retries": rep.Retries,
			"files": map[string]any{"uploaded": files.Uploaded, "failed": files.Failed, "deferred": files.Deferred, "bytes_sent": files.BytesSent}})
		return nil
	}
	fmt.Fprintf(t.stdout, "同步完成：上传 %d 条，被拒 %d 条，下载 %d 条记录，流量 %s\n",
		rep.Pushed, rep.Rejected, rep.Pulled, humanBytes(rep.WireOut+rep.WireIn))
	if rep.Rejected > 0 {
		fmt.Fprintln(t.stdout, "有记录被服务器拒绝，请运行 ruhu tablet rejected 查看")
	}
	if rep.Reset {
		fmt.Fprintln(t.stdout, "服务器数据已恢复：本机已重新上传全部记录")
	}
	if rep.Restamped > 0 {
		fmt.Fprintf(t.stdout, "注意：本机时钟超前，%d 条记录的时间已由服务器校正\n", rep.Restamped)
	}
	if rep.Retries > 0 {
		fmt.Fprintf(t.stdout, "网络不稳定，重试 %d 次\n", rep.Retries)
	}
	return t.sendFiles(ctx, *unmetered)
}

// bar is the progress line on stderr; none with --json.
func (t *tabletCLI) bar() *progressBar {
	if t.json {
		return &progressBar{w: io.Discard}
	}
	return &progressBar{w: t.stderr}
}

// uploadFiles runs the upload queue after the records, with a progress
// line; originals too when the network is unmetered.
func (t *tabletCLI) uploadFiles(ctx context.Context, unmetered bool) (client.UploadReport, error) {
	run := t.c.Upload
	if unmetered {
		run = t.c.UploadAll
	}
	bar := t.bar()
	rep, err := run(ctx, bar.showUpload)
	bar.done()
	if err != nil && syncengine.ErrorCode(err) == syncengine.EREVOKED {
		t.say("此设备已被停用，本地数据已清除。请联系管理员后重新登录并登记设备。\n")
	}
	return rep, err
}

// sendFiles runs the upload queue and reports it in text.
func (t *tabletCLI) sendFiles(ctx context.Context, unmetered bool) error {
	rep, err := t.uploadFiles(ctx, unmetered)
	if err != nil {
		return err
	}
	if rep.Uploaded+rep.Failed+rep.Deferred == 0 {
		return nil
	}
	fmt.Fprintf(t.stdout, "文件上传：完成 %d 个，失败 %d 个，发送 %s\n", rep.Uploaded, rep.Failed, humanBytes(rep.BytesSent))
	if rep.Deferred > 0 {
		fmt.Fprintf(t.stdout, "%d 张原图等待 Wi-Fi 时上传（ruhu tablet sync --unmetered）\n", rep.Deferred)
	}
	if rep.Failed > 0 {
		fmt.Fprintln(t.stdout, "有文件上传失败，下次同步会重试；运行 ruhu tablet uploads 查看原因")
	}
	return nil
}

func (t *tabletCLI) photoAttach(ctx context.Context, args []string) error {
	fs := t.flags("photo attach")
	household := fs.String("household", "", "household id")
	caseID := fs.String("case", "", "housing_cases record id (危房改造项目)")
	stage := fs.String("stage", "", "before (改造前), during (施工中) or after (竣工后)")
	file := fs.String("file", "", "the photo, JPEG or PNG, as the camera wrote it")
	lat := fs.Float64("lat", math.NaN(), "latitude of the capture (WGS-84); default: the photo's EXIF GPS")
	lon := fs.Float64("lon", math.NaN(), "longitude of the capture (WGS-84)")
	accuracy := fs.Float64("accuracy", 0, "GPS accuracy in metres")
	note := fs.String("note", "", "note")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if (*household == "") == (*caseID == "") || *stage == "" || *file == "" {
		return usageError("photo attach: 需要 --household 或 --case（二选一）、--stage 和 --file")
	}
	if math.IsNaN(*lat) != math.IsNaN(*lon) {
		return usageError("photo attach: --lat 和 --lon 需要同时给出")
	}
	data, err := os.ReadFile(*file)
	if err != nil {
		return fmt.Errorf("photo attach: %w", err)
	}
	p := client.PhotoAttachment{HouseholdID: *household, CaseID: *caseID, Stage: *stage, Original: data, Note: *note}
	if !math.IsNaN(*lat) {
		p.GPS = &client.GPS{Lat: *lat, Lon: *lon, AccuracyM: *accuracy}
	}
	id, err := t.c.AttachPhoto(ctx, p)
	if err != nil {
		return err
	}
	rec, err := t.c.Get(client.CollectionPhotos, id)
	if err != nil {
		return err
	}
	if t.json {
		t.emit(map[string]any{"ok": true, "id": id, "blob_sha256": rec.String("blob_sha256"), "captured_at": rec.String("captured_at")})
		return nil
	}
	fmt.Fprintf(t.stdout, "照片已记录：%s（%s，%s），待同步\n", id, stageNames[*stage], filepath.Base(*file))
	fmt.Fprintf(t.stdout, "  拍摄时间 %s\n  证据件 %s\n", rec.String("captured_at"), rec.String("blob_sha256"))
	return nil
}

var stageNames = map[string]string{"before": "改造前", "during": "施工中", "after": "竣工后"}

func (t *tabletCLI) signatureCapture(ctx context.Context, args []string) error {
	fs := t.flags("signature capture")
	signer := fs.String("signer", "", "signer's name, e.g. 张建国")
	role := fs.String("role", "", "household_head surveyor officer village_secretary team_member other")
	record := fs.String("record", "", "the signed record as collection/id, e.g. visits/01J...")
	purpose := fs.String("purpose", "", "visit acceptance identification other")
	strokesFile := fs.String("strokes", "", `JSON file of the pen strokes: [[{"x":..,"y":..,"t":..},...],...]`)
	if err := fs.Parse(args); err != nil {
		return err
	}
	col, id, ok := strings.Cut(*record, "/")
	if *signer == "" || *role == "" || !ok || col == "" || id == "" || *strokesFile == "" {
		return usageError("signature capture: 需要 --signer、--role、--record 集合/编号 和 --strokes")
	}
	raw, err := os.ReadFile(*strokesFile)
	if err != nil {
		return fmt.Errorf("signature capture: %w", err)
	}
	var strokes []client.Stroke
	if err := json.Unmarshal(raw, &strokes); err != nil {
		return fmt.Errorf("signature capture: 笔迹文件 %s 不是 [[{x,y,t},...],...]：%w", *strokesFile, err)
	}
	sid, err := t.c.CaptureSignature(ctx, client.SignatureCapture{
		SignerName: *signer, SignerRole: *role, SignedCollection: col, SignedRecordID: id,
		Purpose: *purpose, Strokes: strokes,
	})
	if err != nil {
		return err
	}
	sig, err := t.c.Get(client.CollectionSignatures, sid)
	if err != nil {
		return err
	}
	if t.json {
		t.emit(map[string]any{"ok": true, "id": sid, "signed_content_sha256": sig.String("signed_content_sha256"), "device_id": sig.String("device_id")})
		return nil
	}
	fmt.Fprintf(t.stdout, "签字已记录：%s（%s 签 %s），待同步\n", sid, *signer, *record)
	fmt.Fprintf(t.stdout, "  所签内容 sha256 %s\n  签名设备 %s\n", sig.String("signed_content_sha256"), sig.String("device_id"))
	return nil
}

var uploadClassNames = map[string]string{
	client.UploadSignature: "签字图片", client.UploadEvidence: "照片压缩件", client.UploadOriginal: "照片原图",
}

var uploadStateNames = map[string]string{
	client.UploadWaiting: "等待", client.UploadUploading: "上传中", client.UploadDone: "完成", client.UploadFailed: "失败",
}

func (t *tabletCLI) uploads(args []string) error {
	fs := t.flags("uploads")
	all := fs.Bool("all", false, "list finished uploads too")
	if err := fs.Parse(args); err != nil {
		return err
	}
	q, err := t.c.UploadQueue()
	if err != nil {
		return err
	}
	if t.json {
		items := []map[string]any{}
		done := 0
		for _, it := range q {
			if it.State == client.UploadDone {
				done++
				if !*all {
					continue
				}
			}
			items = append(items, map[string]any{"id": it.ID, "class": it.Class, "collection": it.Collection, "record_id": it.RecordID,
				"size": it.Size, "sent": it.Sent, "state": it.State, "deduplicated": it.Deduplicated, "reason": it.Reason})
		}
		t.emit(map[string]any{"ok": true, "count": len(q), "pending": len(q) - done, "done": done, "items": items})
		return nil
	}
	rows := [][]string{{"序号", "类型", "记录", "大小", "已传", "状态", "原因"}}
	done := 0
	for _, it := range q {
		if it.State == client.UploadDone {
			done++
			if !*all {
				continue
			}
		}
		state := uploadStateNames[it.State]
		if it.State == client.UploadWaiting && it.Class == client.UploadOriginal && it.Sent == 0 {
			state = "等待 Wi-Fi"
		}
		if it.Deduplicated {
			state += "（服务器已有）"
		}
		reason := it.Reason
		if it.State != client.UploadFailed {
			reason = ""
		}
		rows = append(rows, []string{it.ID, uploadClassNames[it.Class], it.Collection + "/" + it.RecordID,
			humanBytes(it.Size), fmt.Sprintf("%d%%", percent(it.Sent, it.Size)), state, reason})
	}
	if len(rows) == 1 {
		fmt.Fprintf(t.stdout, "没有待上传的文件（已完成 %d 个）\n", done)
		return nil
	}
	writeTable(t.stdout, rows)
	fmt.Fprintf(t.stdout, "共 %d 个，待上传 %d 个，已完成 %d 个\n", len(q), len(q)-done, done)
	return nil
}

func percent(part, whole int64) int64 {
	if whole <= 0 {
		return 100
	}
	return part * 100 / whole
}

func (t *tabletCLI) status(args []string) error {
	if err := t.flags("status").Parse(args); err != nil {
		return err
	}
	st, err := t.c.Status()
	if err != nil {
		return err
	}
	if t.json {
		out := map[string]any{"ok": true, "server": st.Server, "user": st.User, "role": st.Role, "enrolled": st.Enrolled,
			"device_id": st.DeviceID, "device_name": st.DeviceName, "pending": st.Pending, "sent": st.Sent, "rejected": st.Rejected,
			"last_sync": nil, "clock_offset_ms": nil}
		if !st.LastSync.IsZero() {
			out["last_sync"] = st.LastSync.In(chinaTime).Format(time.RFC3339)
		}
		if st.ClockOffsetKnown {
			out["clock_offset_ms"] = st.ClockOffset.Milliseconds()
		}
		t.emit(out)
		return nil
	}
	w := t.stdout
	fmt.Fprintf(w, "服务器：%s\n", orDash(st.Server))
	fmt.Fprintf(w, "用户：%s（%s）\n", orDash(st.User), orDash(st.Role))
	if st.Enrolled {
		fmt.Fprintf(w, "设备：%s（%s）\n", st.DeviceName, st.DeviceID)
	} else {
		fmt.Fprintln(w, "设备：未登记")
	}
	fmt.Fprintf(w, "待上传：%d 条\n已上传：%d 条\n被拒绝：%d 条\n", st.Pending, st.Sent, st.Rejected)
	if st.LastSync.IsZero() {
		fmt.Fprintln(w, "上次同步：从未")
	} else {
		fmt.Fprintf(w, "上次同步：%s（本机时间）\n", st.LastSync.In(chinaTime).Format("2006-01-02 15:04:05"))
	}
	switch {
	case st.ClockOffsetKnown && st.ClockOffset.Abs() < time.Second:
		fmt.Fprintln(w, "时钟偏差：与服务器一致")
	case st.ClockOffsetKnown:
		fmt.Fprintf(w, "时钟偏差：本机比服务器%s %s\n", aheadBehind(st.ClockOffset), st.ClockOffset.Abs().Round(time.Second))
	default:
		fmt.Fprintln(w, "时钟偏差：未测量（尚未同步）")
	}
	return nil
}

func aheadBehind(offset time.Duration) string {
	if offset < 0 {
		return "快"
	}
	return "慢"
}

func (t *tabletCLI) rejected(args []string) error {
	if err := t.flags("rejected").Parse(args); err != nil {
		return err
	}
	list, err := t.c.Rejected()
	if err != nil {
		return err
	}
	if t.json {
		items := []map[string]any{}
		for _, r := range list {
			fields := []string{}
			for k := range r.Op.Set {
				fields = append(fields, k)
			}
			sort.Strings(fields)
			items = append(items, map[string]any{"op_id": r.Op.ID, "collection": r.Op.Collection, "record_id": r.Op.RecordID,
				"fields": fields, "delete": r.Op.Tombstone != nil, "code": r.Code, "message": r.Message, "at": r.At.Format(time.RFC3339)})
		}
		t.emit(map[string]any{"ok": true, "count": len(items), "rejected": items})
		return nil
	}
	if len(list) == 0 {
		fmt.Fprintln(t.stdout, "没有被拒绝的记录")
		return nil
	}
	rows := [][]string{{"时间", "记录", "字段", "代码", "原因"}}
	for _, r := range list {
		var fields []string
		for k := range r.Op.Set {
			fields = append(fields, k)
		}
		if r.Op.Tombstone != nil {
			fields = append(fields, "(删除)")
		}
		sort.Strings(fields)
		rows = append(rows, []string{r.At.In(chinaTime).Format("01-02 15:04"), r.Op.Key(), strings.Join(fields, ","), r.Code, r.Message})
	}
	writeTable(t.stdout, rows)
	fmt.Fprintf(t.stdout, "共 %d 条：这些修改不会再上传，请核对后重新录入\n", len(list))
	return nil
}

// progressBar draws sync progress on one terminal line.
type progressBar struct {
	w     io.Writer
	drawn bool
}

func (b *progressBar) show(p client.Progress) {
	var line string
	switch p.Phase {
	case client.PhasePush:
		const width = 20
		filled := 0
		if p.Total > 0 {
			filled = width * p.Done / p.Total
		}
		line = fmt.Sprintf("上传 [%s%s] %d/%d 条", strings.Repeat("#", filled), strings.Repeat("-", width-filled), p.Done, p.Total)
	default:
		line = fmt.Sprintf("下载 第 %d 页，%d 条记录", p.Pages, p.Done)
	}
	fmt.Fprintf(b.w, "\r%s  %s   ", line, humanBytes(p.WireBytes))
	b.drawn = true
}

func (b *progressBar) showUpload(p client.UploadProgress) {
	const width = 20
	filled := 0
	if p.Total > 0 {
		filled = int(width * p.Done / p.Total)
	}
	fmt.Fprintf(b.w, "\r文件 [%s%s] %d/%d 个  %s/%s  %s %d%%   ", strings.Repeat("#", filled), strings.Repeat("-", width-filled),
		p.ItemsDone, p.Items, humanBytes(p.Done), humanBytes(p.Total), uploadClassNames[p.Item.Class], percent(p.Item.Sent, p.Item.Size))
	b.drawn = true
}

func (b *progressBar) done() {
	if b.drawn {
		fmt.Fprintln(b.w)
	}
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KB", float64(n)/(1<<10))
	default:
		return fmt.Sprintf("%d B", n)
	}
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// writeTable prints rows in aligned columns, counting CJK characters as two
// cells wide as terminals draw them (text/tabwriter counts them as one).
func writeTable(w io.Writer, rows [][]string) {
	var widths []int
	for _, r := range rows {
		for i, cell := range r {
			if i >= len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], displayWidth(cell))
		}
	}
	for _, r := range rows {
		var sb strings.Builder
		for i, cell := range r {
			sb.WriteString(cell)
			if i < len(r)-1 {
				sb.WriteString(strings.Repeat(" ", widths[i]-displayWidth(cell)+2))
			}
		}
		fmt.Fprintln(w, strings.TrimRight(sb.String(), " "))
	}
}

func displayWidth(s string) int {
	n := 0
	for _, r := range s {
		switch {
		case r >= 0x1100 && (r <= 0x115F || (r >= 0x2E80 && r <= 0xA4CF) || (r >= 0xAC00 && r <= 0xD7A3) ||
			(r >= 0xF900 && r <= 0xFAFF) || (r >= 0xFE30 && r <= 0xFE4F) || (r >= 0xFF00 && r <= 0xFF60) ||
			(r >= 0xFFE0 && r <= 0xFFE6) || (r >= 0x20000 && r <= 0x3FFFD)):
			n += 2
		case r == utf8.RuneError:
			n++
		default:
			n++
		}
	}
	return n
}
