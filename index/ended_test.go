package index

import (
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/mailbox"
)

// An item whose last state ended (Zimbra's vocabulary, an end-date and
// nothing after it) is a deleted item in the index, as in the model: it
// leaves its folder's list and joins the deleted ones.
func TestEndedItemIsDeleted(t *testing.T) {
	f := newFixture(t)
	f.account(idA, "alice@example.com", mailbox.StatusActive)
	ms := func(n int) string { return strconv.FormatInt(int64(mailbox.MillisOf(day(n))), 10) }
	dg := string(mailbox.NormalizeDigest(string(msgState(day(1), 2, "ended").Digest)))
	f.raw(backuppath.ItemRelPath(idA, 400), `[{"start-date":`+ms(1)+`,"end-date":`+ms(2)+`,"item":{"tp":5,"fid":2,"dgst":"`+dg+`","sz":5}}]`)
	f.raw(backuppath.ItemRelPath(idA, 401), `[{"start-date":`+ms(1)+`,"tp":5,"fid":2,"dgst":"`+dg+`","sz":5}]`)
	ix := openMem(t, f.bp)
	refresh(t, ix)
	checkAgainstDisk(t, ix)

	del, err := ix.DeletedItems(idA)
	require.NoError(t, err)
	assert.Equal(t, []int{400}, del)
	inbox, err := ix.FolderItems(idA, mailbox.FolderInbox)
	require.NoError(t, err)
	assert.Equal(t, []int{401}, inbox)
	it, err := ix.Item(idA, 400)
	require.NoError(t, err)
	require.Len(t, it.States, 2)
	assert.True(t, it.States[1].Deleted)
	assert.Equal(t, mailbox.MillisOf(day(2)), it.States[1].Start)
}
