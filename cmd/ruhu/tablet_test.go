package main

import (
	"bytes"
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ruhu-dev/ruhu/syncengine"
)

// TestTabletCLIAgainstRealServer drives the tablet CLI against a real
// seeded server on loopback: login, enroll, sync, list, record a visit,
// edit a household, refuse a bad value, sync again.
func TestTabletCLIAgainstRealServer(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	dir := t.TempDir()
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- runServe(ctx, []string{"--listen", "127.0.0.1:0", "--data", filepath.Join(dir, "server"), "--seed-demo"},
			func(string) string { return "" }, io.Discard, io.Discard, ready)
	}()
	var url string
	select {
	case url = <-ready:
	case err := <-done:
		t.Fatalf("server: %v", err)
	}
	t.Cleanup(func() { cancel(); <-done })

	env := func(k string) string {
		if k == "RUHU_PASSWORD" {
			return demoPassword
		}
		return ""
	}
	tablet := func(args ...string) (string, string, error) {
		var out, errOut bytes.Buffer
		err := runTablet(ctx, append([]string{"--data", filepath.Join(dir, "tablet")}, args...), env, &out, &errOut)
		return out.String(), errOut.String(), err
	}
	must := func(args ...string) string {
		t.Helper()
		out, errOut, err := tablet(args...)
		if err != nil {
			t.Fatalf("tablet %v: %v\n%s%s", args, err, out, errOut)
		}
		return out
	}

	if out := must("login", "--server", url, "--user", "wang"); !strings.Contains(out, "登录成功") {
		t.Fatalf("login output %q", out)
	}
	must("enroll", "--name", "平板A")
	if out, errOut, err := tablet("sync"); err != nil || !strings.Contains(out, "同步完成") || !strings.Contains(errOut, "下载") {
		t.Fatalf("first sync: %v\nstdout %q\nstderr %q", err, out, errOut)
	}
	out := must("households")
	for _, want := range []string{"户编号", "户主", demoHousehold, "共 3 户"} {
		if !strings.Contains(out, want) {
			t.Fatalf("households output lacks %q:\n%s", want, out)
		}
	}
	must("visit", "add", "--household", demoHousehold, "--notes", "入户走访", "--answered-by", "张建国", "--relation", "head", "--checklist", "housing=problem")
	must("household", "set", "--id", demoHousehold, "--field", "phone", "--value", `"13905510009"`)
	_, _, err := tablet("household", "set", "--id", demoHousehold, "--field", "housing_grade", "--value", "E")
	if syncengine.ErrorCode(err) != syncengine.EINVALID || !strings.Contains(err.Error(), "housing_grade") {
		t.Fatalf("bad housing grade: %v", err)
	}
	if out := must("status"); !strings.Contains(out, "待上传：2 条") {
		t.Fatalf("status before sync:\n%s", out)
	}
	if out := must("sync"); !strings.Contains(out, "上传 2 条，被拒 0 条") {
		t.Fatalf("second sync:\n%s", out)
	}
	if out := must("households"); strings.Contains(strings.SplitN(out, "\n", 3)[1], "从未") {
		t.Fatalf("visited household still listed as never visited:\n%s", out)
	}
	if out := must("rejected"); !strings.Contains(out, "没有被拒绝的记录") {
		t.Fatalf("rejected:\n%s", out)
	}
}
