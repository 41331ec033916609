package restore

import (
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/stretchr/testify/assert"
)

// A search answer is a claim: its first hits are taken, never the whole
// set expanded (4e9 UIDs), and "*" (which go-imap's AllUIDs panics on) is
// no hit.
func TestFirstUIDs(t *testing.T) {
	set := func(rs ...imap.UIDRange) imap.UIDSet { return imap.UIDSet(rs) }
	assert.Equal(t, []imap.UID{1, 2, 3}, firstUIDs(set(imap.UIDRange{Start: 1, Stop: 4294967295}), 3))
	assert.Equal(t, []imap.UID{7, 9, 10}, firstUIDs(set(imap.UIDRange{Start: 7, Stop: 7}, imap.UIDRange{Start: 10, Stop: 9}), 5))
	assert.Empty(t, firstUIDs(set(imap.UIDRange{Start: 1, Stop: 0}), 5))
	assert.Equal(t, []imap.UID{4294967295}, firstUIDs(set(imap.UIDRange{Start: 4294967295, Stop: 4294967295}), 5))
	assert.Empty(t, firstUIDs(imap.SeqSet{}, 5))
}
