package tests

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/internal/grammar"
	"github.com/cbfs/cbfs/mailbox"
	"github.com/cbfs/cbfs/sample"
)

// TestBareDateMeaning: a bare date means the same moment in the mount's
// at/<day>/ and in cbctl's getItem date <day>: the end of that day
// (grammar.ParseMoment). For an item whose state changed during the day,
// both show the state it had when the day ended, not the one it began
// the day with.
func TestBareDateMeaning(t *testing.T) {
	mountSkipUnlessFUSE(t)
	dir := t.TempDir()
	bin := mountBinary(t, dir)
	root := filepath.Join(dir, "bp")
	_, err := sample.Generate(context.Background(), root, sample.Options{Seed: 5, Accounts: 3})
	require.NoError(t, err)

	// An item changed (folder, flags or content) in the middle of a UTC
	// day, live before and after.
	p, err := backuppath.Open(root)
	require.NoError(t, err)
	ids, err := p.AccountIDs()
	require.NoError(t, err)
	type pick struct {
		acct       *mailbox.Account
		it         *mailbox.Item
		day        string
		start, end int // the states in force at the day's start and end
	}
	var c *pick
	visible := func(s *mailbox.State) [3]string {
		return [3]string{strconv.Itoa(s.FolderID), s.Flags, string(s.Digest)}
	}
	for _, id := range ids {
		a, err := p.ReadAccount(id)
		require.NoError(t, err)
		if a.Status != mailbox.StatusActive {
			continue
		}
		files, _, err := p.ItemFiles(id)
		require.NoError(t, err)
		for _, f := range files {
			it, err := p.ReadItemFile(f.RelPath, f.ItemID)
			if err != nil || it.Latest().Type != mailbox.TypeMessage {
				continue
			}
			for i := 1; i < len(it.States) && c == nil; i++ {
				at := it.States[i].Start.Time().UTC()
				dayStart := time.Date(at.Year(), at.Month(), at.Day(), 0, 0, 0, 0, time.UTC)
				s, e := it.IndexAt(dayStart), it.IndexAt(grammar.DayEnd(dayStart))
				if at.Equal(dayStart) || s < 0 || e != i || it.States[s].Deleted || it.States[e].Deleted ||
					visible(&it.States[s]) == visible(&it.States[e]) {
					continue
				}
				c = &pick{acct: a, it: it, day: dayStart.Format("2006-01-02"), start: s, end: e}
			}
			if c != nil {
				break
			}
		}
		if c != nil {
			break
		}
	}
	require.NotNil(t, c, "the sample has an item changed during a day")
	want := &c.it.States[c.end]
	t.Logf("account %s item %d changed on %s at %s", c.acct.Name, c.it.ID, c.day, want.Start.Time().UTC().Format(time.TimeOnly))

	// cbctl getItem … date <day> (TZ=UTC: the mount's days are UTC days).
	t.Setenv("TZ", "UTC")
	var out struct {
		States []struct {
			State struct {
				Start int64 `json:"startDate"`
			} `json:"state"`
		} `json:"states"`
	}
	decode(t, ok(t, "backup", "getItem", c.acct.Name, strconv.Itoa(c.it.ID), "backup_path", root, "date", c.day, "--json").stdout, &out)
	require.Len(t, out.States, 1)
	assert.EqualValues(t, want.Start, out.States[0].State.Start, "getItem date %s: the state the day ended with", c.day)

	// The mount's at/<day>/.
	mp := filepath.Join(dir, "mnt")
	require.NoError(t, os.Mkdir(mp, 0o755))
	mountStart(t, bin, root, mp, filepath.Join(dir, "index.db"))
	day := filepath.Join(mp, "accounts", c.acct.Name, "at", c.day)
	var found string
	require.NoError(t, filepath.WalkDir(day, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "Maildir" {
			return filepath.SkipDir
		}
		if d.Name() == strconv.Itoa(c.it.ID)+".eml" {
			found = path
		}
		return nil
	}))
	require.NotEmpty(t, found, "item %d in %s", c.it.ID, day)
	var got [3]string
	for i, x := range []string{"user.cbfs.folder_id", "user.cbfs.flags", "user.cbfs.digest"} {
		got[i], err = unixGetxattr(found, x)
		if x == "user.cbfs.flags" && err != nil {
			got[i], err = "", nil // no flags: no attribute
		}
		require.NoError(t, err, x)
	}
	assert.Equal(t, visible(want), got, "at/%s/: the state the day ended with", c.day)
	assert.NotEqual(t, visible(&c.it.States[c.start]), got)
}
