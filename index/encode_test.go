package index

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cbfs/cbfs/blob"
	"github.com/cbfs/cbfs/mailbox"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidwall/buntdb"
)

// allBytes is every byte value, CR LF and NUL included.
func allBytes() string {
	b := make([]byte, 256)
	for i := range b {
		b[i] = byte(i)
	}
	return string(b) + "\r\n*3\r\n$3\r\nset\r\n"
}

func sampleRecs() map[string]itemRec {
	t0 := time.Date(2023, 12, 31, 23, 59, 59, 999e6, time.UTC)
	sha1 := blob.FromHash(make([]byte, 20))
	return map[string]itemRec{
		"empty":       {},
		"unreadable":  {MTime: 17, Size: 4096, Err: "open x: permission denied", ErrClass: "unreadable"},
		"broken":      {Bucket: "odd bucket", MTime: -5, Err: allBytes(), ErrClass: "broken"},
		"one message": {MTime: time.Now().UnixNano(), Size: 321, States: []State{{Start: mailbox.MillisOf(t0), Type: mailbox.TypeMessage, FolderID: 2, Flags: "uf", Digest: blob.Sum([]byte("x")), Size: 1234, Date: mailbox.MillisOf(t0.Add(-time.Hour))}}},
		"history": {States: []State{
			{Start: mailbox.MillisOf(t0), Type: mailbox.TypeMessage, FolderID: 6, Digest: blob.Sum([]byte("a")), Size: 1, Tags: []string{"red", "", allBytes()}},
			{Start: mailbox.MillisOf(t0.Add(time.Hour)), Type: mailbox.TypeMessage, FolderID: 5, Digest: blob.Sum([]byte("a")), Size: 1},
			{Start: mailbox.MillisOf(t0.Add(2 * time.Hour)), Type: mailbox.TypeMessage, FolderID: 5, Digest: sha1, Deleted: true},
			{Start: mailbox.MillisOf(t0.Add(2 * time.Hour)), Type: mailbox.TypeMessage, FolderID: -3, Digest: "not/a,digest"},
			{Start: mailbox.MillisOf(t0.Add(3 * time.Hour)), Type: mailbox.TypeMessage, Digest: blob.Digest(strings.Repeat("A", 43) + "B")}, // non-canonical base64
		}},
		"folder":        {States: []State{{Start: mailbox.MillisOf(t0), Type: mailbox.TypeFolder, FolderID: 1, Name: "Inbox/\r\nx\x00", ParentID: 1}}},
		"before 1970":   {States: []State{{Start: mailbox.MillisOf(time.UnixMilli(-86400000).UTC()), Type: mailbox.TypeContact, Date: mailbox.MillisOf(time.UnixMilli(-1).UTC())}}},
		"start unknown": {States: []State{{Type: mailbox.TypeTag, Name: "t"}}},
	}
}

func TestItemRecRoundTrip(t *testing.T) {
	for name, r := range sampleRecs() {
		t.Run(name, func(t *testing.T) {
			v := string(encodeItem(nil, &r))
			got, err := decodeItem(v)
			require.NoError(t, err)
			for i := range got.States {
				got.States[i] = normal(got.States[i])
			}
			assert.Equal(t, r, got)
			fi, err := decodeFileInfo(v)
			require.NoError(t, err)
			assert.Equal(t, itemRec{Bucket: r.Bucket, MTime: r.MTime, Size: r.Size, Err: r.Err, ErrClass: r.ErrClass}, fi)
			for n := range len(v) { // every truncation is an error, never a panic
				_, err := decodeItem(v[:n])
				assert.ErrorIs(t, err, errCorrupt, "truncated at %d", n)
			}
			_, err = decodeItem(v + "x")
			assert.ErrorIs(t, err, errCorrupt, "trailing byte")
		})
	}
}

// buntdb's append-only file is RESP, length-prefixed: any byte survives
// a write and a reload.
func TestPersistenceBinarySafe(t *testing.T) {
	f := standard(t)
	dbPath := filepath.Join(t.TempDir(), "index.db")
	ix, err := Open(f.bp, dbPath)
	require.NoError(t, err)
	recs := sampleRecs()
	want := map[string]string{"raw:all-bytes": allBytes(), "raw:" + allBytes(): "key with every byte"}
	for name, r := range recs {
		want["raw:"+name] = string(encodeItem(nil, &r))
	}
	require.NoError(t, ix.db.Update(func(tx *buntdb.Tx) error {
		for k, v := range want {
			if _, _, err := tx.Set(k, v, nil); err != nil {
				return err
			}
		}
		return nil
	}))
	require.NoError(t, ix.Close())

	ix, err = Open(f.bp, dbPath)
	require.NoError(t, err)
	defer ix.Close()
	got := map[string]string{}
	require.NoError(t, ix.db.View(func(tx *buntdb.Tx) error {
		return scanPrefix(tx, "raw:", func(k, v string) bool { got[k] = v; return true })
	}))
	assert.Equal(t, want, got)
	for name, r := range recs {
		d, err := decodeItem(got["raw:"+name])
		require.NoError(t, err)
		assert.Equal(t, encodeItem(nil, &r), encodeItem(nil, &d), name)
	}
}

// Names and flags with odd bytes go through a whole build, a close and a
// reopen unchanged.
func TestOddNamesPersist(t *testing.T) {
	f := newFixture(t)
	odd := "Ordner \r\n\x00 ü *?[x]"
	f.account(idA, "odd*?@example.com", mailbox.StatusActive)
	s := folderState(day(1), odd, mailbox.FolderRoot)
	s.Flags = "\r\n"
	f.item(idA, 300, s)
	dbPath := filepath.Join(t.TempDir(), "index.db")
	ix, err := Open(f.bp, dbPath)
	require.NoError(t, err)
	_, err = ix.Refresh(context.Background(), nil)
	require.NoError(t, err)
	require.NoError(t, ix.Close())
	ix, err = Open(f.bp, dbPath)
	require.NoError(t, err)
	defer ix.Close()
	it, err := ix.Item("odd*?@example.com", 300)
	require.NoError(t, err)
	assert.Equal(t, odd, it.Latest().Name)
	assert.Equal(t, "\r\n", it.Latest().Flags)
	_, err = ix.Account("odd*?@example.con")
	assert.ErrorIs(t, err, ErrNotFound, "no pattern matching in names")
	checkAgainstDisk(t, ix)
}

func FuzzDecodeItem(f *testing.F) {
	for _, r := range sampleRecs() {
		f.Add(string(encodeItem(nil, &r)))
	}
	f.Add("\x00\x00\x00\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01")
	f.Fuzz(func(t *testing.T, v string) {
		r, err := decodeItem(v)
		if err != nil {
			return
		}
		// What decodes re-encodes to something that decodes the same.
		again, err := decodeItem(string(encodeItem(nil, &r)))
		require.NoError(t, err)
		assert.Equal(t, len(r.States), len(again.States))
		_, err = decodeFileInfo(v)
		require.NoError(t, err)
	})
}
