package tests

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/mailbox"
	"github.com/cbfs/cbfs/sample"
)

// TestMountChanges: accounts/<name>/changes/ lists the days at/ lists;
// each day's changes.txt and changes.json are, byte for byte, what cbctl
// backup getChanges prints (text, --json) from the end of the day before
// to the end of that day; its added/, deleted/, moved/ and reflagged/
// hold exactly the items with content that changed so, each the very file
// (inode, bytes, attributes) of the state under items/: the state live at
// the day's end, or for deleted/ at the day's start.
func TestMountChanges(t *testing.T) {
	mountSkipUnlessFUSE(t)
	dir := t.TempDir()
	bin := mountBinary(t, dir)
	root := filepath.Join(dir, "bp")
	rep, err := sample.Generate(context.Background(), root, sample.Options{Seed: 5})
	require.NoError(t, err)
	bp, err := backuppath.Open(root)
	require.NoError(t, err)
	mp := filepath.Join(dir, "mnt")
	require.NoError(t, os.Mkdir(mp, 0o755))
	p := mountStart(t, bin, root, mp, filepath.Join(dir, "cache", "index.db"))

	listDir := func(path string) []string {
		t.Helper()
		ents, err := os.ReadDir(path)
		require.NoError(t, err, path)
		var out []string
		for _, e := range ents {
			out = append(out, e.Name())
		}
		return out
	}
	type change struct {
		Kind string `json:"kind"`
		Item int    `json:"item"`
		Type string `json:"type"`
	}
	checked := map[string]int{}
	for _, name := range rep.Accounts {
		acct := filepath.Join(mp, "accounts", name)
		days := listDir(filepath.Join(acct, "changes"))
		require.NotEmpty(t, days, name)
		assert.Equal(t, listDir(filepath.Join(acct, "at")), days, "%s: changes/ lists the days at/ lists", name)
		id := accountIDOf(t, mp, name)
		items := map[int]*mailbox.Item{}
		files, _, err := bp.ItemFiles(id)
		require.NoError(t, err)
		for _, f := range files {
			if it, err := bp.ReadItemFile(f.RelPath, f.ItemID); err == nil {
				items[f.ItemID] = it
			}
		}

		// The first and last day, and the first day with each kind of
		// change: each checked against getChanges.
		chosen := map[string]bool{days[0]: true, days[len(days)-1]: true}
		seen := map[string]bool{}
		for _, day := range days {
			js, err := os.ReadFile(filepath.Join(acct, "changes", day, "changes.json"))
			require.NoError(t, err, day)
			var out struct{ Changes []change }
			require.NoError(t, json.Unmarshal(js, &out), day)
			for _, c := range out.Changes {
				if !seen[c.Kind] {
					seen[c.Kind], chosen[day] = true, true
				}
			}
		}
		for day := range chosen {
			d, err := time.Parse("2006-01-02", day)
			require.NoError(t, err)
			from, to := d.Add(-time.Millisecond), d.Add(24*time.Hour-time.Millisecond)
			bounds := []string{"from", from.Format(time.RFC3339Nano), "to", to.Format(time.RFC3339Nano), "--backup-path", root}
			dayDir := filepath.Join(acct, "changes", day)
			text := cbctl(t, append([]string{"backup", "getChanges", name}, bounds...)...)
			require.Contains(t, []int{0, 1}, text.code, text.stderr) // 1: the sample's damaged item files are skipped
			got, err := os.ReadFile(filepath.Join(dayDir, "changes.txt"))
			require.NoError(t, err)
			assert.Equal(t, text.stdout, string(got), "%s %s: changes.txt", name, day)
			js := cbctl(t, append([]string{"backup", "getChanges", name, "--json"}, bounds...)...)
			require.Contains(t, []int{0, 1}, js.code, js.stderr)
			got, err = os.ReadFile(filepath.Join(dayDir, "changes.json"))
			require.NoError(t, err)
			assert.Equal(t, js.stdout, string(got), "%s %s: changes.json", name, day)

			assert.Equal(t, []string{"added", "changes.json", "changes.txt", "deleted", "moved", "reflagged"}, listDir(dayDir))
			var out struct{ Changes []change }
			require.NoError(t, json.Unmarshal([]byte(js.stdout), &out))
			want := map[string][]string{"added": nil, "deleted": nil, "moved": nil, "reflagged": nil}
			for _, c := range out.Changes {
				if _, ok := want[c.Kind]; !ok || c.Type != "message" {
					continue
				}
				it := items[c.Item]
				require.NotNil(t, it, "item %d", c.Item)
				at := to
				if c.Kind == "deleted" {
					at = from
				}
				s := it.LiveAt(at)
				require.NotNil(t, s, "item %d at %s", c.Item, at)
				if s.Digest == "" {
					continue // no content: no file
				}
				idx := -1
				for i := range it.States {
					if &it.States[i] == s {
						idx = i
					}
				}
				file := itoa(c.Item) + ".eml"
				want[c.Kind] = append(want[c.Kind], file)
				state := filepath.Join(acct, "items", itoa(c.Item), mailbox.StateDirNames(it.States)[idx], "message.eml")
				shown := filepath.Join(dayDir, c.Kind, file)
				var a, b syscall.Stat_t
				require.NoError(t, syscall.Stat(shown, &a), shown)
				require.NoError(t, syscall.Stat(state, &b), state)
				assert.Equal(t, b.Ino, a.Ino, "%s: the same file as %s", shown, state)
				assert.Equal(t, b.Size, a.Size, shown)
				gotB, gerr := os.ReadFile(shown)
				wantB, werr := os.ReadFile(state)
				assert.Equal(t, werr == nil, gerr == nil, "%s: %v / %v", shown, gerr, werr)
				assert.Equal(t, wantB, gotB, shown)
				for _, x := range []string{"user.cbfs.status", "user.cbfs.folder", "user.cbfs.state"} {
					va, _ := unixGetxattr(shown, x)
					vb, _ := unixGetxattr(state, x)
					assert.Equal(t, vb, va, "%s %s", shown, x)
				}
				checked[c.Kind]++
			}
			for kind, files := range want {
				sort.Strings(files)
				got := listDir(filepath.Join(dayDir, kind))
				var emls []string
				for _, g := range got {
					if strings.HasSuffix(g, ".eml") {
						emls = append(emls, g)
					}
				}
				assert.Equal(t, files, emls, "%s %s/%s", name, day, kind)
			}
		}
	}
	for _, k := range []string{"added", "deleted", "moved", "reflagged"} {
		assert.NotZero(t, checked[k], "the sample has %s messages to compare", k)
	}

	// Only the days listed: another name is no folder.
	_, err = os.Stat(filepath.Join(mp, "accounts", rep.Accounts[0], "changes", "1999-01-01"))
	assert.ErrorIs(t, err, os.ErrNotExist)
	p.stop(t)
}
