package tests

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
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
)

// Secrets outside the Backup Path that a hostile path points at.
const (
	secretBlob = "OUTSIDE-BLOB-SECRET"
	secretItem = "OUTSIDE-ITEM-SECRET"
	secretFile = "root:OUTSIDE-SHADOW-SECRET"
)

// hostilePath builds a Backup Path whose files try to leak, hang and crash
// cbfs: a blob that is a symlink to a gzip file outside (whose content even
// matches its digest), an item file symlinked to a JSON file outside, an
// item file that is a FIFO, an item file of a megabyte of '[', an
// account_info that is a FIFO and one symlinked to a root-only file. One
// item is sound: everything else must keep working around the bad files.
func hostilePath(t *testing.T, dir string) (root, good string) {
	t.Helper()
	root = filepath.Join(dir, "bp")
	outside := filepath.Join(dir, "outside")
	require.NoError(t, os.MkdirAll(outside, 0o700))
	const acct, fifoAcct, linkAcct = "d4000000-0000-4000-8000-000000000004", "e5000000-0000-4000-8000-000000000005", "f6000000-0000-4000-8000-000000000006"
	writeJSONFile(t, filepath.Join(root, "backupstat"), map[string]any{"serverId": "srv-hostile", "firstRunDate": day("01/07/2013 00:00:00")})
	writeJSONFile(t, filepath.Join(root, "accounts", acct, "account_info"), map[string]any{"id": acct, "name": "eve@example.com", "status": "active"})

	goodBody := []byte("Subject: sound\r\n\r\nthe one sound message\r\n")
	good = string(goodBody)
	dg := putBlob(t, root, goodBody, gz(t, goodBody))
	writeItem(t, root, acct, 600, msgState("02/07/2013 08:00:00", 2, "", false, dg, "sound"))

	// 601: its blob is a symlink to a valid gzip file outside.
	leak := []byte("Subject: leak\r\n\r\n" + secretBlob + "\r\n")
	ld := blob.Sum(leak)
	writeFile(t, filepath.Join(outside, "leak.gz"), gz(t, leak))
	require.NoError(t, os.MkdirAll(filepath.Join(root, "items", ld.Dir()), 0o755))
	require.NoError(t, os.Symlink(filepath.Join(outside, "leak.gz"), filepath.Join(root, "items", ld.Dir(), string(ld))))
	writeItem(t, root, acct, 601, msgState("02/07/2013 09:00:00", 2, "", false, ld, "leak"))

	// 602: the item file is a symlink to an item file outside.
	writeJSONFile(t, filepath.Join(outside, "602"), []state{msgState("02/07/2013 10:00:00", 2, "", false, dg, secretItem)})
	require.NoError(t, os.MkdirAll(filepath.Join(root, "accounts", acct, "items", "02"), 0o755))
	require.NoError(t, os.Symlink(filepath.Join(outside, "602"), filepath.Join(root, "accounts", acct, "items", "02", "602")))

	// 603: a FIFO; 604: absurd nesting.
	require.NoError(t, os.MkdirAll(filepath.Join(root, "accounts", acct, "items", "03"), 0o755))
	require.NoError(t, syscall.Mkfifo(filepath.Join(root, "accounts", acct, "items", "03", "603"), 0o644))
	writeFile(t, filepath.Join(root, "accounts", acct, "items", "04", "604"), bytes.Repeat([]byte("["), 1<<20))

	// Accounts whose account_info is a FIFO, or a symlink to a root-only file.
	require.NoError(t, os.MkdirAll(filepath.Join(root, "accounts", fifoAcct), 0o755))
	require.NoError(t, syscall.Mkfifo(filepath.Join(root, "accounts", fifoAcct, "account_info"), 0o644))
	writeFile(t, filepath.Join(outside, "shadow"), []byte(secretFile+"\n"))
	require.NoError(t, os.Chmod(filepath.Join(outside, "shadow"), 0o600))
	require.NoError(t, os.MkdirAll(filepath.Join(root, "accounts", linkAcct), 0o755))
	require.NoError(t, os.Symlink(filepath.Join(outside, "shadow"), filepath.Join(root, "accounts", linkAcct, "account_info")))
	return root, good
}

// noSecret fails when b holds any byte sequence of the outside files.
func noSecret(t *testing.T, what string, b []byte) {
	t.Helper()
	for _, s := range []string{secretBlob, secretItem, "OUTSIDE-SHADOW", "root:"} {
		assert.NotContains(t, string(b), s, "%s leaks %q", what, s)
	}
}

// cbctlWithin runs cbctl and fails if it takes more than a minute (a FIFO
// open that blocks would hang forever).
func cbctlWithin(t *testing.T, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, cbctlBin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	require.NoError(t, ctx.Err(), "cbctl %q hung", args)
	r := result{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		r.code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	require.NotContains(t, r.stderr, "goroutine ", "cbctl %q crashed", args)
	return r
}

func TestHostilePathCLIAndRestore(t *testing.T) {
	dir := t.TempDir()
	root, good := hostilePath(t, dir)

	for _, args := range [][]string{
		{"backup", "getItem", "eve@example.com", "601", "dump_blob", "true"},
		{"backup", "getItem", "eve@example.com", "602", "dump_blob", "true"},
		{"backup", "getItem", "eve@example.com", "603"},
		{"backup", "getItem", "eve@example.com", "604"},
		{"backup", "getAvailableAccounts"},
		{"backup", "getAccountInfo", "f6000000-0000-4000-8000-000000000006"},
		{"backup", "getFormatInfo"},
		{"backup", "doCoherencyCheck", "--state-dir", filepath.Join(dir, "st-check")},
	} {
		r := cbctlWithin(t, append(args, "backup_path", root)...)
		noSecret(t, strings.Join(args, " "), []byte(r.stdout+r.stderr))
	}
	r := cbctlWithin(t, "backup", "getItem", "eve@example.com", "600", "dump_blob", "true", "backup_path", root)
	assert.Zero(t, r.code, r.stderr)
	assert.Contains(t, r.stdout, "the one sound message")

	r = cbctlWithin(t, "backup", "getItem", "eve@example.com", "601", "backup_path", root, "--json")
	assert.Contains(t, r.stdout, "symbolic link", "the blob's status says why")

	r = cbctlWithin(t, "backup", "doCoherencyCheck", "backup_path", root, "--state-dir", filepath.Join(dir, "st-check2"))
	for _, want := range []string{string(blob.Sum([]byte("Subject: leak\r\n\r\n" + secretBlob + "\r\n"))), "/02/602", "/03/603", "/04/604"} {
		assert.Contains(t, r.stdout, want, "the coherency check lists every bad file")
	}

	tgt := filepath.Join(dir, "maildir")
	cbctlWithin(t, "backup", "doExternalRestore", root, "target", "maildir:"+tgt, "--state-dir", filepath.Join(dir, "st"))
	restored := 0
	require.NoError(t, filepath.WalkDir(tgt, func(p string, d fs.DirEntry, err error) error {
		require.NoError(t, err)
		if d.Type().IsRegular() {
			b, err := os.ReadFile(p)
			require.NoError(t, err)
			noSecret(t, p, b)
			if bytes.Equal(b, []byte(good)) {
				restored++
			}
		}
		return nil
	}))
	assert.Equal(t, 1, restored, "the sound message is restored")
}

func TestHostilePathMount(t *testing.T) {
	mountSkipUnlessFUSE(t)
	dir := t.TempDir()
	root, good := hostilePath(t, dir)
	bin := mountBinary(t, dir)
	mp := filepath.Join(dir, "mnt")
	require.NoError(t, os.Mkdir(mp, 0o755))
	mountStart(t, bin, root, mp, filepath.Join(dir, "index.db"))

	b, err := os.ReadFile(filepath.Join(mp, "accounts", "eve@example.com", "folders", "Inbox", "600.eml"))
	require.NoError(t, err)
	assert.Equal(t, good, string(b))
	_, err = os.ReadFile(filepath.Join(mp, "accounts", "eve@example.com", "folders", "Inbox", "601.eml"))
	assert.ErrorIs(t, err, syscall.EIO, "a symlinked blob is never served")
	status, err := unixGetxattr(filepath.Join(mp, "accounts", "eve@example.com", "folders", "Inbox", "601.eml"), "user.cbfs.status")
	require.NoError(t, err)
	assert.Contains(t, status, "symbolic link")

	// Read every file of the tree: nothing from outside anywhere.
	files := 0
	require.NoError(t, filepath.WalkDir(mp, func(p string, d fs.DirEntry, err error) error {
		require.NoError(t, err)
		if d.IsDir() || strings.HasPrefix(p, filepath.Join(mp, "blobs")) {
			return nil
		}
		b, err := os.ReadFile(p)
		if errors.Is(err, syscall.EIO) {
			return nil
		}
		require.NoError(t, err, p)
		noSecret(t, p, b)
		files++
		return nil
	}))
	assert.Positive(t, files)
	// The blobs/ view: the symlinked blob fails like any unreadable blob.
	ents, err := os.ReadDir(filepath.Join(mp, "blobs"))
	require.NoError(t, err)
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(mp, "blobs", e.Name()))
		if err == nil {
			noSecret(t, "blobs/"+e.Name(), b)
		}
	}
}
