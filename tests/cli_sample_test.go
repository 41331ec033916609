package tests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cbfs/cbfs/sample"
)

// sampleReport is "cbctl sample --json".
type sampleReport struct {
	BackupPath string
	Accounts   []string
	Items      int
	Blobs      int
	Damaged    []sample.Damaged
}

// TestSampleDamaged generates a sample with cbctl and checks that getItem
// classifies every planted damage as the generator says it should.
func TestSampleDamaged(t *testing.T) {
	dest := filepath.Join(t.TempDir(), "bp")
	r := ok(t, "sample", dest, "--accounts", "3", "--messages", "8", "--seed", "7", "--json")
	var rep sampleReport
	decode(t, r.stdout, &rep)
	if len(rep.Accounts) != 3 || rep.Items == 0 || rep.Blobs == 0 {
		t.Fatalf("report: %+v", rep)
	}
	want := map[string]struct{ status, reason string }{
		sample.DamageTruncated:     {"broken", ""},
		sample.DamageMismatch:      {"broken", ""},
		sample.DamageUnreadable:    {"unreadable", ""},
		sample.DamageMissing:       {"unreadable", "missing"},
		sample.DamageDoubleGzip:    {"ok", ""},
		sample.DamageMalformedJSON: {"broken", ""},
	}
	seen := map[string]bool{}
	for _, d := range rep.Damaged {
		seen[d.Kind] = true
		w, known := want[d.Kind]
		if !known {
			t.Errorf("unknown damage kind %q", d.Kind)
			continue
		}
		t.Run(d.Kind, func(t *testing.T) {
			args := []string{"backup", "getItem", d.Account, itoa(d.ItemID), "backup_path", dest, "--json"}
			if d.Kind == sample.DamageMalformedJSON {
				r := fails(t, 1, "broken", args...)
				var it itemJSON
				decode(t, r.stdout, &it)
				if it.Status != "broken" {
					t.Errorf("item file status %q", it.Status)
				}
				return
			}
			var it itemJSON
			decode(t, ok(t, args...).stdout, &it)
			found := false
			for _, s := range it.States {
				if s.State["digest"] == d.Digest {
					found = true
					if s.Status != w.status || !strings.Contains(s.Reason, w.reason) {
						t.Errorf("state %v: status %q reason %q, want %q with %q", s.State["startDate"], s.Status, s.Reason, w.status, w.reason)
					}
				}
			}
			if !found {
				t.Fatalf("no state with digest %s: %+v", d.Digest, it)
			}
			// dump_blob: sound blobs exit 0, damaged ones exit 1 after the salvage.
			dump := cbctl(t, "backup", "getItem", d.Account, itoa(d.ItemID), "backup_path", dest, "dump_blob", "true")
			if wantCode := map[bool]int{true: 0, false: 1}[w.status == "ok"]; dump.code != wantCode {
				t.Errorf("dump_blob: exit %d, want %d\n%s", dump.code, wantCode, dump.stderr)
			}
		})
	}
	for kind := range want {
		if !seen[kind] {
			t.Errorf("the sample planted no %q item", kind)
		}
	}

	// The other commands run cleanly on the sample, in both syntaxes.
	accts := ok(t, "backup", "getAvailableAccounts", "backup_path", dest).stdout
	for _, a := range rep.Accounts {
		wantLines(t, accts, a)
	}
	wantLines(t, accts, " deleted ")
	ok(t, "backup", "getBackupInfo", "--backup-path", dest)
	ok(t, "backup", "getServerConfig", "standard", "backup_path", dest, "date", "all")
	ok(t, "backup", "getServerConfig", "customizations", "backup_path", dest, "verbose", "true")
	for _, a := range rep.Accounts {
		ok(t, "backup", "getAccountInfo", a, "backup_path", dest)
		ok(t, "backup", "doItemSearch", a, "backup_path", dest, "type", "all")
	}

	// Text form with pairs prints the damaged list.
	dest2 := filepath.Join(t.TempDir(), "bp2")
	txt := ok(t, "sample", dest2, "accounts", "3", "messages", "8", "seed", "7")
	wantLines(t, txt.stdout, "damaged items", sample.DamageTruncated, sample.DamageMalformedJSON)
}

// TestSampleDialect checks that --dialect reaches the generator: the report
// names it, the damaged list is the cbfs sample's, and an account_info is
// written in the dialect. (Reading such a sample is the reader's business.)
func TestSampleDialect(t *testing.T) {
	args := []string{"--accounts", "3", "--messages", "4", "--seed", "7", "--json"}
	var base sampleReport
	decode(t, ok(t, append([]string{"sample", filepath.Join(t.TempDir(), "bp")}, args...)...).stdout, &base)
	for _, d := range []string{sample.DialectZimbra, sample.DialectDelta, sample.DialectZimbraUD, sample.DialectZimbraNested} {
		t.Run(d, func(t *testing.T) {
			dest := filepath.Join(t.TempDir(), "bp")
			var rep struct {
				sampleReport
				Dialect string
			}
			decode(t, ok(t, append([]string{"sample", dest, "dialect", d}, args...)...).stdout, &rep)
			if rep.Dialect != d {
				t.Errorf("report dialect %q, want %q", rep.Dialect, d)
			}
			if len(rep.Damaged) != len(base.Damaged) || rep.Items != base.Items || rep.Blobs != base.Blobs {
				t.Errorf("report %+v differs from the cbfs one %+v", rep.sampleReport, base)
			}
			infos, err := filepath.Glob(filepath.Join(dest, "accounts", "*", "account_info"))
			if err != nil || len(infos) != 3 {
				t.Fatalf("account_info files: %v %v", infos, err)
			}
			b, err := os.ReadFile(infos[0])
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(b), `"zimbraId"`) || strings.Contains(string(b), `"status"`) {
				t.Errorf("%s is not in the %s dialect:\n%s", infos[0], d, b)
			}
		})
	}
	fails(t, 2, "must be one of", "sample", filepath.Join(t.TempDir(), "bp"), "--dialect", "carbonio")
}
