package fusefs

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/cbfs/cbfs/mailbox"
)

// TestUniqueMaildirName: a Maildir++ name another folder has, or the
// Inbox's, gets "~<id>", then "~<id>~2"...; a long one is cut to stay
// within NAME_MAX, never inside a modified UTF-7 run, and never loops.
func TestUniqueMaildirName(t *testing.T) {
	taken := map[string]int{".a_b": 0, ".a_b~7": 1}
	assert.Equal(t, ".x", uniqueMaildirName(".x", 7, taken))
	assert.Equal(t, ".a_b~7~2", uniqueMaildirName(".a_b", 7, taken))
	assert.Equal(t, ".inbox~3", uniqueMaildirName(".inbox", 3, taken))

	long := "." + strings.Repeat("x", 245) + "&AOk-" + strings.Repeat("y", 4) // 255 bytes, the run at 246-250
	assert.Len(t, long, mailbox.MaxMaildirName)
	taken = map[string]int{long: 0}
	got := uniqueMaildirName(long, 12345, taken)
	assert.Equal(t, "."+strings.Repeat("x", 245)+"~12345", got, "cut before the run, not inside it")
	taken[got] = 1
	got2 := uniqueMaildirName(long, 12345, taken)
	assert.LessOrEqual(t, len(got2), mailbox.MaxMaildirName)
	assert.True(t, strings.HasSuffix(got2, "~12345~2"), got2)
}
