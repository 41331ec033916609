package mailbox

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// Every combination of the letters with an IMAP or Maildir counterpart
// survives the way out (restore) and back (scan); the bitmask keeps every
// letter it has a bit for.
func TestFlagMappingsRoundTrip(t *testing.T) {
	const imapLettersAll, maildirLettersAll = "ufrwdn", "ufrwd"
	for mask := 0; mask < 1<<len(imapLettersAll); mask++ {
		var in []byte
		for i := 0; i < len(imapLettersAll); i++ {
			if mask&(1<<i) != 0 {
				in = append(in, imapLettersAll[i])
			}
		}
		want := CanonFlags(string(in))
		got, kw := FlagsFromIMAP(append(IMAPFlags(want), "$Label1"))
		assert.Equal(t, want, got, "IMAP %q", want)
		assert.Equal(t, []string{"$Label1"}, kw)

		var md []byte
		for i := 0; i < len(in); i++ {
			if in[i] != 'n' {
				md = append(md, in[i])
			}
		}
		wantMD := CanonFlags(string(md))
		gotMD, kl := FlagsFromMaildir("2," + MaildirFlags(wantMD) + "ab")
		assert.Equal(t, wantMD, gotMD, "Maildir %q", wantMD)
		assert.Equal(t, []byte("ab"), kl)

		bits, other := FlagBits(want + "Z")
		assert.Equal(t, "Z", other)
		assert.Equal(t, want, CanonFlags(FlagsFromBits(bits)), "bits %q", want)
	}
	assert.NotContains(t, IMAPFlags("x"), `\Deleted`, "a restore does not bring \\Deleted back")
	assert.Equal(t, "S", MaildirFlags("x"))
	l, _ := FlagsFromMaildir("2,T")
	assert.Equal(t, "ux", l, "a scan keeps \\Deleted (T)")
}
