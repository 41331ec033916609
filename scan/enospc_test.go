package scan

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/mailbox"
)

// A Backup Path whose disk fills up mid-scan: the run fails, and its report
// says so (an error, the account counted as scanned) and counts only what
// was written: as many new items as there are item files.
func TestDiskFullReportIsHonest(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs needs root")
	}
	disk := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", disk).CombinedOutput(); err != nil {
		t.Skipf("no tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", disk).Run() })
	bp, err := backuppath.Create(filepath.Join(disk, "bp"), backuppath.BackupStat{ServerID: "srv-full"})
	require.NoError(t, err)

	tree := newMailTree(t)
	box := tree.box("full@example.com")
	noise := make([]byte, 90_000)
	for i := 0; i < 30; i++ {
		rand.Read(noise)
		tree.add(box, "", "S", msg("big", base64.StdEncoding.EncodeToString(noise)))
	}
	rep, err := Run(context.Background(), bp, NewMaildir(tree.root), Options{})
	require.Error(t, err, "the disk is full")
	require.NotEmpty(t, rep.Errors, "Errors: 0 would be a lie")
	assert.Contains(t, rep.Errors[len(rep.Errors)-1], "no space left on device")
	assert.Equal(t, 1, rep.Accounts, "the account was scanned up to the failure")

	id := accountID(t, bp, "full@example.com")
	files, _, err := bp.ItemFiles(id)
	require.NoError(t, err)
	messages := 0
	for _, f := range files {
		it, err := bp.ReadItemFile(f.RelPath, f.ItemID)
		require.NoError(t, err, "no half-written item file")
		if it.Latest().Type == mailbox.TypeMessage {
			messages++
		}
	}
	assert.Equal(t, messages, rep.Items.New, "Items New counts item files written")
	assert.Less(t, messages, 30)
}
