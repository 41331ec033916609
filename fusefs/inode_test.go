package fusefs

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestInodesDistinct numbers many nodes of every kind, at the edges of each
// field, and checks no two share a number, that none has bit 63 (go-fuse's
// automatic range) and that each carries its kind.
func TestInodesDistinct(t *testing.T) {
	seen := map[uint64]string{}
	add := func(ino uint64, ok bool, what string) {
		t.Helper()
		require.True(t, ok, what)
		require.NotZero(t, ino, what)
		require.Zero(t, ino>>63, "%s: bit 63 set", what)
		if prev, dup := seen[ino]; dup {
			t.Fatalf("inode %#x of %s already used by %s", ino, what, prev)
		}
		seen[ino] = what
	}
	for _, f := range []uint64{inoRoot, inoAccounts, inoServer, inoConfig, inoCustomizations, inoBlobs} {
		add(f, true, fmt.Sprintf("fixed %d", f))
	}
	seqs := []uint32{0, 1, 2, 1<<seqBits - 1}
	ids := []int{0, 1, 2, 255, 256, 1<<idBits - 1}
	for _, seq := range seqs {
		for sub := subAccountDir; sub <= subAt; sub++ {
			n, ok := inoAccountNode(seq, sub)
			add(n, ok, fmt.Sprintf("account %d sub %d", seq, sub))
		}
		for _, id := range ids {
			for _, k := range []uint64{kindFolder, kindFolderFile, kindDeleted, kindItem, kindItemMeta} {
				n, ok := inoAccountItem(k, seq, id)
				add(n, ok, fmt.Sprintf("kind %d seq %d id %d", k, seq, id))
				assert.Equal(t, k, kindOf(n))
			}
			for _, st := range []int{0, 1, 1<<stateBits - 1} {
				for _, k := range []uint64{kindStateDir, kindStateMeta, kindStateContent, kindStatePartial} {
					n, ok := inoState(k, seq, id, st)
					add(n, ok, fmt.Sprintf("kind %d seq %d id %d state %d", k, seq, id, st))
					assert.Equal(t, k, kindOf(n))
				}
			}
		}
	}
	for _, sec := range []int64{0, 1, 1700000000, 1<<34 - 1} {
		for _, file := range []int{0, 1, 1<<24 - 1} {
			k := uint64(kindConfigFile)
			if file == 0 {
				k = kindConfigDir
			}
			n, ok := inoServerFile(k, sec, file)
			add(n, ok, fmt.Sprintf("config %d/%d", sec, file))
		}
		n, ok := inoServerFile(kindCustom, sec, 0)
		add(n, ok, fmt.Sprintf("custom %d", sec))
	}
	var h hashedInodes
	for i := 0; i < 1000; i++ {
		n := h.ino(fmt.Sprintf("blob:%d", i))
		add(n, true, fmt.Sprintf("hashed %d", i))
		assert.Equal(t, uint64(kindHashed), kindOf(n))
	}
}

func TestInodesOutOfRange(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"seq too big", func() bool { _, ok := inoAccountItem(kindItem, 1<<seqBits, 1); return ok }()},
		{"id too big", func() bool { _, ok := inoAccountItem(kindItem, 1, 1<<idBits); return ok }()},
		{"negative id", func() bool { _, ok := inoAccountItem(kindItem, 1, -1); return ok }()},
		{"state too big", func() bool { _, ok := inoState(kindStateDir, 1, 1, 1<<stateBits); return ok }()},
		{"date before 1970", func() bool { _, ok := inoServerFile(kindCustom, -1, 0); return ok }()},
		{"account seq too big", func() bool { _, ok := inoAccountNode(1<<seqBits, 0); return ok }()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { assert.False(t, tt.ok) })
	}
}

func TestHashedInodes(t *testing.T) {
	var a, b hashedInodes
	x := a.ino("blob:X")
	assert.Equal(t, x, a.ino("blob:X"), "same key, same number")
	assert.Equal(t, x, b.ino("blob:X"), "stable across tables (mounts)")
	assert.NotEqual(t, x, a.ino("blob:Y"))

	// Force a collision: a key whose number is taken by another key gets 0
	// (go-fuse then assigns an automatic number).
	var c hashedInodes
	c.owner = map[uint64]uint64{x: 12345}
	assert.Zero(t, c.ino("blob:X"))
}
