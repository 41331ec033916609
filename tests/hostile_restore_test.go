package tests

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cbfs/cbfs/blob"
	"github.com/cbfs/cbfs/internal/testuser"
)

// TestHostileRestoreMaildirKeywords: users whose Maildir's
// dovecot-keywords is a link to /dev/zero, a 16 GiB sparse file or a FIFO
// cost cbctl neither memory nor a hang: their tagged message is
// unrestored (invalid), the untagged one restored, as theirs, and the
// keywords file is left as it was.
func TestHostileRestoreMaildirKeywords(t *testing.T) {
	u := testuser.New(t)
	dir := t.TempDir()
	bp := filepath.Join(dir, "bp")
	writeJSONFile(t, filepath.Join(bp, "backupstat"), map[string]any{
		"serverId": fixSrv, "hostname": "mail.example.com",
		"firstRunDate": day("01/07/2013 00:00:00"), "lastScanDate": day("16/07/2013 03:00:00"),
	})
	traps := map[string]string{
		"zero@example.com":   "ln -s /dev/zero Maildir/dovecot-keywords",
		"sparse@example.com": "truncate -s 16G Maildir/dovecot-keywords",
		"fifo@example.com":   "mkfifo Maildir/dovecot-keywords",
	}
	untagged := map[string]string{}
	i := 0
	for name := range traps {
		i++
		id := fmt.Sprintf("acct-%d", i)
		writeJSONFile(t, filepath.Join(bp, "accounts", id, "account_info"), map[string]any{
			"id": id, "name": name, "status": "active", "cosName": "default",
		})
		tagged := []byte("Subject: tagged\r\n\r\nfor " + name + "\r\n")
		plain := []byte("Subject: plain\r\n\r\nfor " + name + "\r\n")
		st := msgState("12/07/2013 16:35:44", 2, "", false, putBlob(t, bp, tagged, gz(t, tagged)), "tagged")
		st["tags"] = []string{"Work"}
		writeItem(t, bp, id, 300, st)
		writeItem(t, bp, id, 301, msgState("12/07/2013 16:36:44", 2, "", false, putBlob(t, bp, plain, gz(t, plain)), "plain"))
		untagged[name] = string(blob.Sum(plain))
	}

	base, err := os.MkdirTemp("", "cbfs-hostile-restore-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(base) })
	require.NoError(t, os.Chmod(base, 0o755))
	tgt := filepath.Join(base, "maildir")
	require.NoError(t, os.Mkdir(tgt, 0o755))
	for name, trap := range traps {
		home := filepath.Join(tgt, name)
		require.NoError(t, os.Mkdir(home, 0o755))
		u.Own(t, home)
		u.Sh(t, home, "mkdir -p Maildir/cur Maildir/new Maildir/tmp; "+trap)
	}

	start := time.Now()
	r, rss := cbctlRSSWithin(t, time.Minute, nil, "backup", "doExternalRestore", bp, "target", "maildir:"+tgt, "--state-dir", filepath.Join(dir, "st"))
	t.Logf("external restore: peak RSS %d MiB, %v\n%s", rss>>20, time.Since(start).Round(time.Millisecond), r.stdout)
	require.Equal(t, 3, r.code, "a partial restore; stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	assert.Equal(t, 3, statLine(t, r.stdout, "Restored Items"), r.stdout)
	assert.Equal(t, 3, statLine(t, r.stdout, "Unrestored Items"), r.stdout)
	ids, classes := unrestored(t, r.stdout)
	for name := range traps {
		assert.Equal(t, []int{300}, ids[name], name)
		assert.Equal(t, "invalid", classes[name+"/300"], name)
		md := filepath.Join(tgt, name, "Maildir")
		assert.Equal(t, folders{"Inbox": {untagged[name]}}, readMaildirTree(t, md), name)
		cur, err := os.ReadDir(filepath.Join(md, "cur"))
		require.NoError(t, err)
		for _, e := range cur {
			fi, err := os.Lstat(filepath.Join(md, "cur", e.Name()))
			require.NoError(t, err)
			st := fi.Sys().(*syscall.Stat_t)
			assert.Equal(t, [2]uint32{u.UID, u.GID}, [2]uint32{st.Uid, st.Gid}, "%s: %s is the user's", name, e.Name())
		}
	}
	assert.Less(t, rss, int64(bombRSSLimit), "peak RSS %d MiB", rss>>20)
	fi, err := os.Lstat(filepath.Join(tgt, "zero@example.com", "Maildir", "dovecot-keywords"))
	require.NoError(t, err)
	assert.Equal(t, os.ModeSymlink, fi.Mode().Type(), "not replaced")
	fi, err = os.Lstat(filepath.Join(tgt, "sparse@example.com", "Maildir", "dovecot-keywords"))
	require.NoError(t, err)
	assert.Equal(t, int64(16<<30), fi.Size(), "not replaced")
	fi, err = os.Lstat(filepath.Join(tgt, "fifo@example.com", "Maildir", "dovecot-keywords"))
	require.NoError(t, err)
	assert.Equal(t, os.ModeNamedPipe, fi.Mode().Type(), "not replaced")
}

// TestRestoreMaildirWithServiceCapabilities: cbctl with no more
// capabilities than cbfs-serve.service keeps (CAP_DAC_READ_SEARCH,
// CAP_SETUID, CAP_SETGID: root without CAP_DAC_OVERRIDE, CAP_FOWNER or
// CAP_CHOWN) restores into a user's Maildir and a Root owned by the mail
// system's user: every message, its internal date as mtime, the owner's.
func TestRestoreMaildirWithServiceCapabilities(t *testing.T) {
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Skip("no setpriv")
	}
	u := testuser.New(t)
	base, err := os.MkdirTemp("", "cbfs-caps-restore-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(base) })
	require.NoError(t, os.Chmod(base, 0o755))
	dir := t.TempDir()
	for _, c := range []struct {
		name  string
		setup func(tgt string)
	}{
		{"user's home", func(tgt string) {
			require.NoError(t, os.Mkdir(tgt, 0o755))
			home := filepath.Join(tgt, "john@example.com")
			require.NoError(t, os.Mkdir(home, 0o700))
			u.Own(t, home)
		}},
		{"vmail", func(tgt string) {
			require.NoError(t, os.Mkdir(tgt, 0o700))
			u.Own(t, tgt)
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			tgt := filepath.Join(base, strings.ReplaceAll(c.name, " ", "-")+"-target")
			c.setup(tgt)
			cmd := exec.Command(setpriv, "--inh-caps=-all", "--bounding-set=-all,+dac_read_search,+setuid,+setgid",
				cbctlBin, "backup", "doExternalRestore", fixtureRoot, "target", "maildir:"+tgt,
				"--state-dir", filepath.Join(dir, c.name, "st"))
			out, err := cmd.CombinedOutput()
			var ee *exec.ExitError
			if errors.As(err, &ee) && ee.ExitCode() != 3 {
				t.Fatalf("cbctl: %v\n%s", err, out)
			}
			md := filepath.Join(tgt, "john@example.com", "Maildir")
			got := readMaildirTree(t, md)
			assert.NotZero(t, got.count(), "%s", out)
			require.NoError(t, filepath.WalkDir(filepath.Join(tgt, "john@example.com"), func(p string, d os.DirEntry, err error) error {
				require.NoError(t, err)
				fi, err := os.Lstat(p)
				require.NoError(t, err)
				st := fi.Sys().(*syscall.Stat_t)
				assert.Equal(t, [2]uint32{u.UID, u.GID}, [2]uint32{st.Uid, st.Gid}, "%s is the user's", p)
				if d.Type().IsRegular() && filepath.Base(filepath.Dir(p)) == "cur" {
					assert.Less(t, fi.ModTime().Year(), 2020, "%s has the internal date as mtime", p)
				}
				return nil
			}))
		})
	}
}
