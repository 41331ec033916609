package tests

// A broken item's story, told in one place (the operability issue): the
// item's status is the worst of its states', the failing file's xattrs and
// meta.json name the newest earlier healthy state and what can be
// salvaged, user.cbfs.folder is a path everywhere, and restores with
// broken_fallback true restore that earlier state. On a hand-made Backup
// Path, so the bytes that must land are known.

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cbfs/cbfs/blob"
)

const (
	storyAcct    = "7a1e0c3b-2d4f-4e6a-9b8c-1d2e3f4a5b6c"
	storyName    = "mary@example.com"
	storyFolder  = 257 // Inbox/Projects
	storyBroken  = 277 // Drafts: healthy, then truncated
	storyMissing = 278 // Drafts: one state, its blob missing
	storyFiled   = 279 // Inbox/Projects: healthy
)

var (
	storyOld  = []byte("Subject: Draft v1\r\nFrom: mary@example.com\r\n\r\nthe first, healthy draft\r\n")
	storyGood = []byte("Subject: Projects\r\nFrom: mary@example.com\r\n\r\nfiled under Projects\r\n")
)

// storyPath writes the hand-made Backup Path of these tests.
func storyPath(t *testing.T) string {
	root := filepath.Join(t.TempDir(), "story")
	writeJSONFile(t, filepath.Join(root, "backupstat"), map[string]any{
		"serverId": "srv-story", "hostname": "mail.example.com",
		"firstRunDate": day("01/07/2023 00:00:00"), "lastScanDate": day("22/07/2023 03:00:00"),
	})
	writeJSONFile(t, filepath.Join(root, "accounts", storyAcct, "account_info"), map[string]any{
		"id": storyAcct, "name": storyName, "status": "active", "createdDate": day("01/07/2023 09:00:00"),
	})
	writeItem(t, root, storyAcct, storyFolder, state{"startDate": day("01/07/2023 09:00:00"), "type": 1, "folderId": 2,
		"parentId": 2, "name": "Projects", "deleted": false})
	old := putBlob(t, root, storyOld, gz(t, storyOld))
	newer := truncBody()
	nz := gz(t, newer)
	writeItem(t, root, storyAcct, storyBroken,
		msgState("10/07/2023 10:00:00", 6, "d", false, old, "Draft v1"),
		msgState("21/07/2023 10:00:00", 6, "d", false, putBlob(t, root, newer, nz[:len(nz)/2]), "Draft v2"))
	writeItem(t, root, storyAcct, storyMissing,
		msgState("12/07/2023 10:00:00", 6, "d", false, blob.Sum([]byte("never stored\r\n")), "Lost draft"))
	writeItem(t, root, storyAcct, storyFiled,
		msgState("11/07/2023 10:00:00", storyFolder, "", false, putBlob(t, root, storyGood, gz(t, storyGood)), "Projects"))
	return root
}

func TestBrokenStoryMount(t *testing.T) {
	mountSkipUnlessFUSE(t)
	dir := t.TempDir()
	bin := mountBinary(t, dir)
	root := storyPath(t)
	mp := filepath.Join(dir, "mnt")
	require.NoError(t, os.Mkdir(mp, 0o755))
	p := mountStart(t, bin, root, mp, filepath.Join(dir, "cache", "index.db"))
	defer p.stop(t)
	acct := filepath.Join(mp, "accounts", storyName)
	healthy := "items/277/2023-07-10T10:00:00Z/message.eml"

	xa := func(path, name string) string {
		t.Helper()
		v, err := unixGetxattr(path, name)
		require.NoError(t, err, "%s of %s", name, path)
		return v
	}

	t.Run("the failing file tells its story", func(t *testing.T) {
		for _, f := range []string{"folders/Drafts/277.eml", "items/277/2023-07-21T10:00:00Z/message.eml"} {
			file := filepath.Join(acct, f)
			_, err := os.ReadFile(file)
			assert.ErrorIs(t, err, syscall.EIO, f)
			assert.True(t, strings.HasPrefix(xa(file, "user.cbfs.status"), "broken: "), f)
			assert.Contains(t, xa(file, "user.cbfs.status"), "truncated gzip stream", f)
			assert.Equal(t, healthy, xa(file, "user.cbfs.healthy_state"), f)
			assert.Equal(t, "message.partial.eml: what inflated before the fault (truncated gzip stream)", xa(file, "user.cbfs.salvage"), f)
			assert.Equal(t, "Drafts", xa(file, "user.cbfs.folder"), f)
			assert.Equal(t, "6", xa(file, "user.cbfs.folder_id"), f)
		}
		got, err := os.ReadFile(filepath.Join(acct, healthy))
		require.NoError(t, err, "the healthy state it names reads")
		assert.Equal(t, storyOld, got)
	})

	t.Run("meta.json", func(t *testing.T) {
		var item struct {
			Status, Error string
			States        []struct{ Name, Status, HealthyState, Salvage string }
		}
		b, err := os.ReadFile(filepath.Join(acct, "items/277/meta.json"))
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(b, &item))
		assert.Equal(t, "broken", item.Status, "the worst of its states")
		assert.Contains(t, item.Error, "state 2023-07-21T10:00:00Z: ")
		require.Len(t, item.States, 2)
		assert.Equal(t, "ok", item.States[0].Status)
		assert.Empty(t, item.States[0].HealthyState+item.States[0].Salvage)
		assert.Equal(t, healthy, item.States[1].HealthyState)
		assert.Equal(t, "broken: ", xa(filepath.Join(acct, "items/277/meta.json"), "user.cbfs.status")[:8])

		var st struct{ Status, Error, HealthyState, Salvage string }
		b, err = os.ReadFile(filepath.Join(acct, "items/277/2023-07-21T10:00:00Z/meta.json"))
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(b, &st))
		assert.Equal(t, "broken", st.Status)
		assert.Contains(t, st.Error, "truncated gzip stream")
		assert.Equal(t, healthy, st.HealthyState)
		assert.True(t, strings.HasPrefix(st.Salvage, "message.partial.eml: "), st.Salvage)
		_, err = os.Stat(filepath.Join(acct, "items/277/2023-07-21T10:00:00Z/message.partial.eml"))
		assert.NoError(t, err)

		// Nothing to salvage, nothing earlier: said so, no partial file.
		b, err = os.ReadFile(filepath.Join(acct, "items/278/2023-07-12T10:00:00Z/meta.json"))
		require.NoError(t, err)
		st = struct{ Status, Error, HealthyState, Salvage string }{}
		require.NoError(t, json.Unmarshal(b, &st))
		assert.Equal(t, "unreadable", st.Status)
		assert.Empty(t, st.HealthyState)
		assert.Equal(t, "none: the blob is missing, nothing to salvage", st.Salvage)
		_, err = os.Stat(filepath.Join(acct, "items/278/2023-07-12T10:00:00Z/message.partial.eml"))
		assert.ErrorIs(t, err, os.ErrNotExist)
		file := filepath.Join(acct, "folders/Drafts/278.eml")
		assert.Equal(t, "none: the blob is missing, nothing to salvage", xa(file, "user.cbfs.salvage"))
		_, err = unixGetxattr(file, "user.cbfs.healthy_state")
		assert.ErrorIs(t, err, syscall.ENODATA)
	})

	t.Run("user.cbfs.folder is a path everywhere", func(t *testing.T) {
		for _, f := range []string{
			"folders/Inbox/Projects/279.eml",
			"items/279/2023-07-11T10:00:00Z/message.eml",
			"items/279/2023-07-11T10:00:00Z/meta.json",
			"items/279/meta.json",
			"at/2023-07-15/Inbox/Projects/279.eml",
		} {
			file := filepath.Join(acct, f)
			assert.Equal(t, "Inbox/Projects", xa(file, "user.cbfs.folder"), f)
			assert.Equal(t, "257", xa(file, "user.cbfs.folder_id"), f)
			assert.Equal(t, "ok", xa(file, "user.cbfs.status"), f)
			_, err := unixGetxattr(file, "user.cbfs.salvage")
			assert.ErrorIs(t, err, syscall.ENODATA, f)
		}
	})
}

// storyMaildirFiles returns the contents of every message file under dir.
func storyMaildirFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if fi.Mode().IsRegular() && (filepath.Base(filepath.Dir(p)) == "cur" || filepath.Base(filepath.Dir(p)) == "new") {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(dir, p)
			out[rel] = b
		}
		return nil
	})
	require.NoError(t, err)
	return out
}

func TestBrokenStoryRestore(t *testing.T) {
	root := storyPath(t)
	dir := t.TempDir()
	const earlierLine = "items: 277 (10/07/2023 10:00:00)\n"

	holds := func(files map[string][]byte, body []byte) bool {
		for _, b := range files {
			if string(b) == string(body) {
				return true
			}
		}
		return false
	}

	t.Run("without broken_fallback", func(t *testing.T) {
		tgt := filepath.Join(dir, "plain")
		r := partial(t, "backup", "doExternalRestore", root, "target", "maildir:"+tgt, "--state-dir", filepath.Join(dir, "st1"))
		wantLines(t, r.stdout, "Restored Items: 1\n", "Unrestored Items: 2\n",
			"broken: 277\n",
			"\n- an earlier healthy state exists (broken_fallback true restores it) -\naccount: "+storyName+"\n"+earlierLine)
		assert.NotContains(t, r.stdout, "- restored from an earlier state -")
		assert.False(t, holds(storyMaildirFiles(t, tgt), storyOld), "the earlier state is not restored")
	})

	t.Run("doExternalRestore broken_fallback true", func(t *testing.T) {
		tgt := filepath.Join(dir, "fallback")
		r := partial(t, "backup", "doExternalRestore", root, "target", "maildir:"+tgt, "broken_fallback", "true", "--state-dir", filepath.Join(dir, "st2"))
		wantLines(t, r.stdout, "Restored Items: 2\n", "Unrestored Items: 1\n",
			"\n- restored from an earlier state -\naccount: "+storyName+"\n"+earlierLine)
		assert.NotContains(t, r.stdout, "- an earlier healthy state exists")
		assert.NotContains(t, r.stdout, "277,", "277 is not unrestored")
		files := storyMaildirFiles(t, tgt)
		assert.True(t, holds(files, storyOld), "the earlier state's bytes land: %v", files)
		var drafts int
		for name, b := range files {
			if string(b) == string(storyOld) {
				assert.Contains(t, name, "Drafts", "into the folder of the state at the restore date")
			}
			if strings.Contains(name, "Drafts") {
				drafts++
			}
		}
		assert.Equal(t, 1, drafts)

		// A rerun restores nothing twice.
		r = partial(t, "backup", "doExternalRestore", root, "target", "maildir:"+tgt, "broken_fallback", "true", "--state-dir", filepath.Join(dir, "st2"))
		wantLines(t, r.stdout, "Restored Items: 0\n", "Skipped Items:  2\n")
		assert.Len(t, storyMaildirFiles(t, tgt), len(files))
	})

	t.Run("doItemRestore and doRestoreOnNewAccount", func(t *testing.T) {
		tgt := filepath.Join(dir, "item")
		// Nothing restored, because the one item is broken: exit 1.
		r := fails(t, 1, "nothing restored", "backup", "doItemRestore", storyName, "277", "target", "maildir:"+tgt, "--backup-path", root, "--state-dir", filepath.Join(dir, "st3"))
		wantLines(t, r.stdout, "Restored Items: 0\n", "broken: 277\n", earlierLine)
		r = ok(t, "backup", "doItemRestore", storyName, "277", "target", "maildir:"+tgt, "--broken-fallback", "--backup-path", root, "--state-dir", filepath.Join(dir, "st3"))
		wantLines(t, r.stdout, "Restored Items: 1\n", "- restored from an earlier state -\n", earlierLine)
		assert.True(t, holds(storyMaildirFiles(t, tgt), storyOld))

		nt := filepath.Join(dir, "new")
		r = partial(t, "backup", "doRestoreOnNewAccount", storyName, "copy@example.com", "last", "target", "maildir:"+nt, "broken_fallback", "true",
			"--backup-path", root, "--state-dir", filepath.Join(dir, "st4"))
		wantLines(t, r.stdout, "Restored Items: 2\n", "- restored from an earlier state -\naccount: copy@example.com\n"+earlierLine)
		assert.True(t, holds(storyMaildirFiles(t, nt), storyOld))
	})
}

// TestBrokenStoryGetItem: getItem gives the mount's one content report
// (mailbox.ContentHealth): the same status, error, reason and salvage
// story, the healthy state named by its start date.
func TestBrokenStoryGetItem(t *testing.T) {
	root := storyPath(t)
	r := ok(t, "backup", "getItem", storyName, itoa(storyBroken), "backup_path", root, "date", "all", "--json")
	var it struct {
		States []struct{ Status, Error, Reason, Digest, BlobPath, HealthyState, Salvage string }
	}
	decode(t, r.stdout, &it)
	require.Len(t, it.States, 2)
	assert.Equal(t, "ok", it.States[0].Status)
	assert.Empty(t, it.States[0].HealthyState+it.States[0].Salvage+it.States[0].Error)
	bad := it.States[1]
	assert.Equal(t, "broken", bad.Status)
	assert.Contains(t, bad.Error, "truncated gzip stream")
	assert.Contains(t, bad.Reason, "truncated gzip stream")
	assert.NotEmpty(t, bad.Digest)
	assert.Equal(t, filepath.Join(root, "items", bad.Digest[:2], bad.Digest), bad.BlobPath)
	assert.Equal(t, "10/07/2023 10:00:00", bad.HealthyState)
	assert.Equal(t, "what inflated before the fault (truncated gzip stream)", bad.Salvage)

	text := ok(t, "backup", "getItem", storyName, itoa(storyBroken), "backup_path", root, "date", "all")
	wantLines(t, text.stdout, row(ind, "healthy state", "10/07/2023 10:00:00"),
		row(ind, "salvage", "what inflated before the fault (truncated gzip stream)"))
	if strings.Count(text.stdout, "healthy state") != 1 {
		t.Errorf("only the broken state names a healthy one:\n%s", text.stdout)
	}
}
