package restore

import (
	"strings"
	"testing"
	"time"
)

func TestReportEarlierStates(t *testing.T) {
	d := time.Date(2023, 7, 21, 10, 0, 0, 0, time.UTC)
	r := &Report{Restored: 2, Unrestored: 1, Accounts: []AccountReport{
		{Account: "b@example.com", Restored: 1, FromEarlier: []EarlierState{{ID: 301, Date: d}, {ID: 277, Date: d.Add(-time.Hour)}}},
		{Account: "a@example.com", Unrestored: []UnrestoredItem{{ID: 5, Class: ClassBroken}}, EarlierHealthy: []EarlierState{{ID: 5, Date: d}}},
	}}
	r.sortAccounts()
	got := r.String()
	for _, want := range []string{
		"- stats -\nRestored Items: 2\n",
		"\n- unrestored items -\naccount: a@example.com\nunrestored items: 5\n",
		"\n- restored from an earlier state -\naccount: b@example.com\nitems: 277 (21/07/2023 09:00:00), 301 (21/07/2023 10:00:00)\n",
		"\n- an earlier healthy state exists (broken_fallback true restores it) -\naccount: a@example.com\nitems: 5 (21/07/2023 10:00:00)\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("report lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains((&Report{}).String(), "earlier") {
		t.Error("a report without such items names none")
	}
}
