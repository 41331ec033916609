package fusefs

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/cbfs/cbfs/index"
	"github.com/cbfs/cbfs/mailbox"
)

func TestMaildirFileName(t *testing.T) {
	start := mailbox.MillisOf(time.Date(2024, 3, 5, 10, 20, 30, 123e6, time.UTC))
	ref := func(flags string, size int64) fileRef {
		s := index.State{Type: mailbox.TypeMessage, Start: start, Flags: flags, Size: size}
		return fileRef{id: 286, state: s}
	}
	assert.Equal(t, "286.1709634030123.cbfs,S=1234:2,S", maildirFileName(ref("", 1234)))
	assert.Equal(t, "286.1709634030123.cbfs,S=1234:2,", maildirFileName(ref("u", 1234)))
	assert.Equal(t, "286.1709634030123.cbfs,S=9:2,DFPRS", maildirFileName(ref("frwd", 9)), "flags sorted")
	assert.Equal(t, "286.1709634030123.cbfs:2,", maildirFileName(ref("ux", 0)), "no S= for an unknown size; x is left out")
}
