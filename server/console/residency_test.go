package console_test

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/ruhu-dev/ruhu/internal/browsertest"
)

// The residency calendar of the demo month: sun's 22 check-in days meet
// the policy; zhao's days (check-ins plus approved duty days) fall short
// and equal the compliance report's figures, and the far-away check-in is
// listed as not counted with its distance.
func TestResidencyCalendar(t *testing.T) {
	t.Parallel()
	f := demo(t)
	req, _ := http.NewRequest("GET", f.url+"/v1/reports/compliance?area="+township1+"&period="+f.month.Label, nil)
	req.Header.Set("Authorization", "Bearer "+f.apiToken(t, "township1"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Lists struct {
			ResidencyShort []struct {
				Days        int `json:"days"`
				CheckinDays int `json:"checkin_days"`
				DutyDays    int `json:"duty_days"`
				NotCounted  int `json:"not_counted"`
			} `json:"residency_short"`
		} `json:"lists"`
	}
	err = json.NewDecoder(resp.Body).Decode(&rep)
	resp.Body.Close()
	if err != nil || len(rep.Lists.ResidencyShort) != 1 {
		t.Fatalf("report residency_short = %+v (err %v), want zhao alone", rep.Lists.ResidencyShort, err)
	}
	want := rep.Lists.ResidencyShort[0]

	tab := browsers.Tab(t, browsertest.Desktop)
	browserLogin(tab, f, "township1")
	tab.Do(chromedp.Click(chromedp.CSS(`nav.menu a[href="/residency"]`)), chromedp.WaitVisible(chromedp.CSS("h1")))
	tab.Do(chromedp.Navigate(f.url + "/residency?period=" + f.month.Label))
	zhao := `section[data-member="zhao"]`
	days := browsertest.Eval[string](tab, `document.querySelector('`+zhao+`').dataset.days`)
	if days != strconv.Itoa(want.Days) {
		t.Errorf("zhao's calendar counts %s days, the report %d", days, want.Days)
	}
	if n := browsertest.Eval[int](tab, `document.querySelectorAll('`+zhao+` td.in').length`); n != want.CheckinDays {
		t.Errorf("zhao: %d check-in days on the calendar, report %d", n, want.CheckinDays)
	}
	if n := browsertest.Eval[int](tab, `document.querySelectorAll('`+zhao+` td.duty').length`); n != want.DutyDays {
		t.Errorf("zhao: %d duty days on the calendar, report %d", n, want.DutyDays)
	}
	rows := browsertest.Eval[[]string](tab, `Array.from(document.querySelectorAll('`+zhao+` table.notcounted tbody tr')).map(r => r.textContent)`)
	if len(rows) != want.NotCounted || len(rows) == 0 || !strings.Contains(rows[0], "超出驻村范围") {
		t.Errorf("zhao's not-counted check-ins = %q, report counts %d", rows, want.NotCounted)
	}
	if d := browsertest.Eval[string](tab, `document.querySelector('section[data-member="sun"]').dataset.days`); d != "22" {
		t.Errorf("sun's calendar counts %s days, want 22", d)
	}
	tab.Screenshot("residency")
	tab.RequireLoopbackOnly()
	tab.RequireNoProblems()
}

// A team member sees only their own month; an officer is refused the
// page; a team member's area outside their village is refused.
func TestResidencyScope(t *testing.T) {
	t.Parallel()
	f := demo(t)
	for _, tc := range []struct {
		user, query string
		status      int
		has, hasNot []string
	}{
		{"zhao", "?period=" + f.month.Label, http.StatusOK, []string{`data-member="zhao"`}, []string{`data-member="sun"`}},
		{"zhao", "?area=" + township1 + "&period=" + f.month.Label, http.StatusForbidden, []string{"无权访问"}, []string{`data-member=`}},
		{"wang", "?period=" + f.month.Label, http.StatusForbidden, []string{"无权访问"}, []string{`data-member=`}},
		{"county", "?area=" + county + "&period=" + f.month.Label, http.StatusOK, []string{`data-member="zhao"`, `data-member="sun"`}, nil},
		{"county", "?area=" + county + "&period=2026Q3", http.StatusBadRequest, []string{"按月查看"}, nil},
	} {
		c := httpClient(t)
		f.login(t, c, tc.user)
		code, _, body := get(t, c, f.url+"/residency"+tc.query)
		if code != tc.status {
			t.Errorf("%s /residency%s: status %d, want %d", tc.user, tc.query, code, tc.status)
		}
		for _, s := range tc.has {
			if !strings.Contains(body, s) {
				t.Errorf("%s /residency%s lacks %s", tc.user, tc.query, s)
			}
		}
		for _, s := range tc.hasNot {
			if strings.Contains(body, s) {
				t.Errorf("%s /residency%s shows %s", tc.user, tc.query, s)
			}
		}
	}
}
