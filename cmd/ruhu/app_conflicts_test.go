package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	client "github.com/ruhu-dev/ruhu/client-sdk"
	"github.com/ruhu-dev/ruhu/internal/browsertest"
)

// serverConflict is GET /v1/conflicts's entry as this test reads it.
type serverConflict struct {
	ID         string `json:"id"`
	RecordID   string `json:"record_id"`
	Field      string `json:"field"`
	Status     string `json:"status"`
	Candidates []struct {
		Value  json.RawMessage `json:"value"`
		Author string          `json:"author"`
	} `json:"candidates"`
}

// TestFieldAppSyncScreenShowsMyConflicts: wang changes 住址 of the demo
// household offline on his tablet while li changes it on hers from the
// same version; li and the township also both change 家庭人口. After
// wang syncs from the sync screen, it lists the one conflict that
// involves his edit — the field, his value against li's, which value
// holds for now, waiting for the township — and not the other one. A
// restarted app fetches the list by itself. Once the county decides for
// wang's value, the next sync shows it decided.
func TestFieldAppSyncScreenShowsMyConflicts(t *testing.T) {
	dir := t.TempDir()
	srv := startServer(t, filepath.Join(dir, "server"))
	tdir := enrolledTablet(t, dir, srv.url, "wang")
	ctx := context.Background()
	li := newTablet(t, dir, srv.url, "li")
	township := newTablet(t, dir, srv.url, "township1")
	tablets := map[string]*client.Client{"li": li, "township1": township}
	for name, c := range tablets {
		if _, err := c.Sync(ctx, nil); err != nil {
			t.Fatalf("%s sync: %v", name, err)
		}
	}

	// Offline edits from the same version on three tablets.
	_, must := tabletCommands(t, tdir)
	must("household", "set", "--id", demoHousehold, "--field", "address", "--value", "桃园村3组18号（新房）")
	if _, err := li.Save(ctx, "households", demoHousehold, demoArea, rawFields(t, map[string]any{"address": "桃园村3组18号", "member_count": 5})); err != nil {
		t.Fatal(err)
	}
	if _, err := township.Save(ctx, "households", demoHousehold, demoArea, rawFields(t, map[string]any{"member_count": 4})); err != nil {
		t.Fatal(err)
	}
	for name, c := range tablets {
		if rep, err := c.Sync(ctx, nil); err != nil || rep.Rejected > 0 {
			t.Fatalf("%s sync: %v %+v", name, err, rep)
		}
	}

	app := startFieldApp(t, tdir)
	tab := browsers.Tab(t, browsertest.Tablet360)
	tab.Do(chromedp.Navigate(app.url))
	tab.WaitJS(`document.body.dataset.ready === "list"`)
	syncFromScreen(t, tab, app)
	tab.WaitJS(`document.getElementById("conflicts").dataset.loaded === "fetched"`)

	county := login(t, srv.url, "county")
	var all struct {
		Conflicts []serverConflict `json:"conflicts"`
	}
	county.do("GET", "/v1/conflicts", nil, &all)
	var address *serverConflict
	for i, cf := range all.Conflicts {
		if cf.RecordID == demoHousehold && cf.Field == "address" {
			address = &all.Conflicts[i]
		}
	}
	if len(all.Conflicts) != 2 || address == nil || len(address.Candidates) != 2 {
		t.Fatalf("server conflicts: %+v; want address (wang, li) and member_count (li, township1)", all.Conflicts)
	}
	head := jsonStr(county.record("households", demoHousehold).Record.Fields["head_name"])
	holds, current := "目前采用对方的值", "li 的值"
	if address.Candidates[0].Author == "wang" {
		holds, current = "目前采用我的值", "我的值"
	}

	cards := browsertest.Eval[[]map[string]string](tab, `[...document.querySelectorAll("#conflicts [data-conflict]")].map((c) => ({
		id: c.dataset.conflict, status: c.dataset.status, record: c.querySelector(".row-title").textContent,
		field: c.querySelector(".cf-field").textContent, label: c.querySelector(".cf-status").textContent,
		mine: c.querySelector("tr.cf-mine th").textContent + "=" + c.querySelector("tr.cf-mine .cf-value").textContent,
		other: c.querySelector("tr.cf-other th").textContent + "=" + c.querySelector("tr.cf-other .cf-value").textContent,
		current: [...c.querySelectorAll("tr.win th")].map((th) => th.textContent).join() }))`)
	if len(cards) != 1 {
		t.Fatalf("conflict cards on wang's sync screen: %+v; want only the address one", cards)
	}
	c := cards[0]
	if c["id"] != address.ID || c["status"] != "open" || c["record"] != "贫困户 "+head ||
		c["field"] != "字段：住址" || c["mine"] != "我的值=桃园村3组18号（新房）" || c["other"] != "li 的值=桃园村3组18号" ||
		c["label"] != "待乡镇审核："+holds || c["current"] != current {
		t.Fatalf("conflict card %+v; want wang's and li's address, %s", c, holds)
	}
	t.Logf("conflict card: %+v", c)
	tab.Screenshot("conflicts")
	requireReadableScreen(t, tab, "conflicts")

	// A restarted app has not synced yet: the screen asks the server.
	app.stop()
	app = startFieldApp(t, tdir)
	tab.Do(chromedp.Navigate(app.url))
	tab.WaitJS(`document.body.dataset.ready === "list"`)
	tab.Do(chromedp.Navigate(app.base + "/#/sync"))
	tab.WaitJS(`document.getElementById("conflicts")?.dataset.loaded === "fetched"`)
	if n := browsertest.Eval[int](tab, `document.querySelectorAll("#conflicts [data-conflict]").length`); n != 1 {
		t.Fatalf("after a restart, %d conflict cards before any sync", n)
	}

	// The county decides for wang's value; the next sync shows it.
	var resolved serverConflict
	if code := county.do("POST", "/v1/conflicts/"+address.ID+"/resolve", map[string]any{"value": "桃园村3组18号（新房）", "note": "以新址为准"}, &resolved); code != 200 {
		t.Fatalf("resolve: %d", code)
	}
	syncFromScreen(t, tab, app)
	tab.WaitJS(`document.getElementById("conflicts").dataset.loaded === "fetched" && document.querySelector(` +
		strconvQuote(`#conflicts [data-conflict="`+address.ID+`"]`) + `)?.dataset.status === "resolved"`)
	label := tab.Text("#conflicts [data-conflict] .cf-status")
	if !strings.HasPrefix(label, "已裁决：采用我的值「桃园村3组18号（新房）」（county，") || !strings.HasSuffix(label, "说明：以新址为准") {
		t.Fatalf("resolved conflict label %q", label)
	}
	if cur := browsertest.Eval[string](tab, `[...document.querySelectorAll("#conflicts tr.win th")].map((th) => th.textContent).join()`); cur != "我的值" {
		t.Fatalf("after the decision the current value is %q's, want mine", cur)
	}
	tab.Screenshot("conflict-resolved")
	requireReadableScreen(t, tab, "conflict-resolved")
	tab.RequireLoopbackOnly()
	tab.RequireNoProblems()
}
