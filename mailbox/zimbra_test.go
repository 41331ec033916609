package mailbox

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Zimbra keeps unread apart from its flags bitmask (mail_item.unread,
// UnderlyingData uc): the state's own unread key wins over the flags, both
// ways, and reaches the Maildir letters.
func TestUnreadApartFromFlags(t *testing.T) {
	tests := []struct {
		name, state string
		want        string // flag letters
		maildir     string
	}{
		{"mail_item row: unread 1, flags 0", `{"start_date":1714554000000,"type":5,"folder_id":2,"unread":1,"flags":0}`, "u", ""},
		{"UnderlyingData: uc 0, fg flagged", `{"start_date":1714554000000,"tp":5,"fid":2,"uc":0,"fg":32}`, "f", "FS"},
		{"UnderlyingData: uc 3 (a count)", `{"start_date":1714554000000,"tp":5,"fid":2,"uc":3,"fg":32}`, "uf", "F"},
		{"unread key says read, the bitmask says unread", `{"startDate":1,"type":5,"folderId":2,"flags":544,"is_unread":false}`, "f", "FS"},
		{"unread key says unread, the letters say read", `{"startDate":1,"type":5,"folderId":2,"flags":"f","isUnread":"true"}`, "uf", "F"},
		{"unread before flags in the file", `{"unread":true,"startDate":1,"type":5,"folderId":2,"flags":"r"}`, "ur", "R"},
		{"cbfs's own letters, no unread key", `{"startDate":1,"type":5,"folderId":2,"flags":"uf"}`, "uf", "F"},
		{"a folder's unread count is its messages'", `{"startDate":1,"tp":1,"fid":1,"nm":"Projects","uc":4}`, "", "S"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			it, err := Default.ParseItem(1, []byte("["+tc.state+"]"))
			require.NoError(t, err)
			s := it.States[0]
			assert.Equal(t, tc.want, s.Flags)
			assert.Equal(t, tc.maildir, MaildirFlags(s.Flags))
			assert.Empty(t, s.Notes)
			assert.NotContains(t, s.Extra, "unread", "read, not kept")
		})
	}
	t.Run("a delta that states only unread changes only unread", func(t *testing.T) {
		it, err := Default.ParseItem(1, []byte(`[{"start-date":1000,"tp":5,"fid":2,"fg":36,"uc":1,"dgst":"`+string(testDigest)+`"},
			{"start-date":2000,"uc":0},
			{"start-date":3000,"unread":1}]`))
		require.NoError(t, err)
		assert.Equal(t, "ufr", CanonFlags(it.States[0].Flags)) // 36 = f|r
		assert.Equal(t, "fr", it.States[1].Flags, "read: only u cleared")
		assert.Equal(t, "ufr", it.States[2].Flags, "unread again")
		assert.Equal(t, 2, it.States[2].FolderID)
		assert.Equal(t, "F", MaildirFlags(it.States[2].Flags)[:1])
	})
}

// Zimbra's two vocabularies: mail_item's columns and UnderlyingData's
// short keys, with Zimbra's units (seconds for date and dt).
func TestZimbraVocabularies(t *testing.T) {
	at := time.Date(2024, 5, 1, 9, 0, 0, 0, time.UTC)
	sec := itoa(at.Unix())
	check := func(t *testing.T, s State) {
		t.Helper()
		assert.Equal(t, TypeMessage, s.Type)
		assert.Equal(t, 257, s.FolderID)
		assert.Equal(t, testDigest, s.Digest)
		assert.Equal(t, int64(21), s.Size)
		assert.Equal(t, MillisOf(at), s.Date, "seconds")
		assert.Equal(t, "uf", s.Flags)
		assert.Equal(t, []string{"work", "todo"}, s.Tags)
		assert.Equal(t, "Q2 report", s.Subject)
		assert.Equal(t, uint32(4021), s.IMAPUID)
		assert.Empty(t, s.Notes)
	}
	t.Run("UnderlyingData", func(t *testing.T) {
		it, err := Default.ParseItem(258, []byte(`[{"start-date":1714554000000,"id":258,"uuid":"b1f0","tp":5,"pid":-258,"fid":257,"pfid":"2:7","idx":258,"imap":4021,"loc":"1","dgst":"`+plain+`","dt":`+sec+`,"sz":21,"uc":1,"fg":32,"tg":"\u0000work\u0000todo\u0000","sbj":"Q2 report","modm":1200,"modc":1100,"dc":`+sec+`}]`))
		require.NoError(t, err)
		check(t, it.States[0])
	})
	t.Run("mail_item columns", func(t *testing.T) {
		it, err := Default.ParseItem(258, []byte(`[{"start_date":1714554000000,"mailbox_id":1,"id":258,"type":5,"parent_id":-258,"folder_id":257,"prev_folders":"2:7","index_id":258,"imap_id":4021,"date":`+sec+`,"size":21,"locator":"1","blob_digest":"`+plain+`","unread":1,"flags":32,"tags":0,"tag_names":"\u0000work\u0000todo\u0000","subject":"Q2 report","change_date":`+sec+`,"mod_metadata":1200,"mod_content":1100,"uuid":"b1f0","transaction_id":3}]`))
		require.NoError(t, err)
		check(t, it.States[0])
		assert.JSONEq(t, `0`, string(it.States[0].Extra["tags"]), "the tag bitmask is kept, not read as tags")
	})
	t.Run("a small seconds value under a Zimbra key is seconds", func(t *testing.T) {
		it, err := Default.ParseItem(1, []byte(`[{"startDate":1,"tp":5,"dt":86400}]`))
		require.NoError(t, err)
		assert.Equal(t, Millis(86400000), it.States[0].Date)
	})
	t.Run("a folder by its name", func(t *testing.T) {
		it, err := Default.ParseItem(257, []byte(`[{"start-date":1714550400000,"tp":1,"pid":1,"fid":1,"nm":"Projects"}]`))
		require.NoError(t, err)
		s := it.States[0]
		assert.Equal(t, TypeFolder, s.Type)
		assert.Equal(t, "Projects", s.Name)
		assert.Equal(t, 1, s.ParentID)
	})
	t.Run("Zimbra's type numbers", func(t *testing.T) {
		for n, name := range map[int]string{7: "invite", 9: "note", 12: "virtual_conversation", 13: "mountpoint", 14: "wiki", 17: "calendar_group", 18: "link"} {
			it, err := Default.ParseItem(1, []byte(`[{"startDate":1,"tp":`+itoa(int64(n))+`}]`))
			require.NoError(t, err)
			assert.Equal(t, name, it.States[0].Type.String())
			back, err := ParseItemType(name)
			require.NoError(t, err)
			assert.Equal(t, ItemType(n), back)
		}
		assert.False(t, TypeMountpoint.HasContent())
		assert.True(t, TypeWiki.HasContent())
	})
}

// Zimbra's flag bitmask, bit n-1 for the flag with id -n (Flag.java).
func TestZimbraFlagBits(t *testing.T) {
	for bits, want := range map[int64]string{
		1: "s", 2: "a", 4: "r", 8: "w", 16: "", 32: "f", 64: "d", 128: "x", 256: "n", 512: "u",
		1 << 10: "!", 1 << 11: "?", 1 << 12: "/", 1 << 13: "", 1 << 14: "p", 1 << 15: "t",
		1 << 16: "+", 1 << 17: "^", 1 << 18: "(", 1 << 19: "*", 1 << 20: "b", 1 << 21: "#",
		1 << 22: "i", 1 << 23: "v", 1 << 24: "y", 1 << 25: "~", 1 << 26: "o", 1 << 27: "@",
		1 << 28: "g", 1 << 29: "", 1 << 30: "",
	} {
		assert.Equal(t, want, FlagsFromBits(bits), "bit %d", bits)
	}
}

// An item's own data nested under an object: read with the same aliases,
// the outer level winning.
func TestNestedState(t *testing.T) {
	census := NewCensus()
	d := NewDecoder(nil)
	d.Census = census
	it, err := d.ParseItem(258, []byte(`[
{"start-date":1714554000000,"end-date":1714645800000,"item":{"id":258,"tp":5,"fid":2,"uc":1,"fg":0,"dgst":"`+plain+`","sz":21,"sbj":"Q2","color":"red"}},
{"start-date":1714645800000,"fid":9,"item":{"tp":5,"fid":257,"uc":0,"dgst":"`+plain+`","sz":21}}
]`))
	require.NoError(t, err)
	s0, s1 := it.States[0], it.States[1]
	assert.Equal(t, TypeMessage, s0.Type)
	assert.Equal(t, 2, s0.FolderID)
	assert.Equal(t, "u", s0.Flags)
	assert.Equal(t, testDigest, s0.Digest)
	assert.Equal(t, "Q2", s0.Subject)
	assert.Contains(t, string(s0.Extra["item"]), `"color":"red"`, "the object is kept whole")
	assert.Equal(t, 9, s1.FolderID, "the outer level wins")
	assert.Equal(t, "", s1.Flags)
	assert.Equal(t, 1, it.ShownAt(time.Time{}))

	keys := map[string]KeyCount{}
	for _, k := range census.Keys() {
		keys[k.Key] = k
	}
	assert.Equal(t, "type", keys["item.tp"].Concept)
	assert.Equal(t, 2, keys["item.tp"].Count)
	assert.Equal(t, 1, keys["item.fid"].Notes["stated above, not used"])
	assert.Equal(t, 1, keys["item.color"].NotRead, "data it did not read")
	assert.Contains(t, keys["item.id"].Notes, "known (Zimbra item id), not needed")
	assert.Zero(t, keys["item.id"].NotRead)
	share, bad := census.Understood()
	assert.Equal(t, []string{"item.color"}, bad)
	assert.Less(t, share, 1.0)
	assert.Contains(t, census.Summary(), "1 key not understood (item.color)")

	t.Run("two levels down, not three", func(t *testing.T) {
		it, err := Default.ParseItem(1, []byte(`[{"startDate":1,"a":{"b":{"tp":5,"fid":4}}},{"startDate":2,"a":{"b":{"c":{"tp":6}}}}]`))
		require.NoError(t, err)
		assert.Equal(t, TypeMessage, it.States[0].Type)
		assert.Equal(t, 4, it.States[0].FolderID)
		assert.Equal(t, TypeMessage, it.States[1].Type, "three levels down is not read: a delta")
	})
	t.Run("a state that says its type is not looked into", func(t *testing.T) {
		it, err := Default.ParseItem(1, []byte(`[{"startDate":1,"type":5,"folderId":2,"attachment":{"name":"a.pdf","size":99}}]`))
		require.NoError(t, err)
		assert.Equal(t, "", it.States[0].Name)
		assert.Zero(t, it.States[0].Size)
	})
	t.Run("the digest by value still, and the census says its key was read", func(t *testing.T) {
		census := NewCensus()
		d := NewDecoder(nil)
		d.Census = census
		it, err := d.ParseItem(1, []byte(`[{"startDate":1,"type":5,"folderId":2,"payload":{"ref":"`+string(testDigest)+`"}}]`))
		require.NoError(t, err)
		assert.Equal(t, testDigest, it.States[0].Digest)
		_, bad := census.Understood()
		assert.Empty(t, bad)
		assert.Equal(t, "read 100 % of state keys; every key understood", census.Summary())
	})
}

func TestKeymapDottedPaths(t *testing.T) {
	km, err := ParseKeyMap([]byte(`{"state":{"type":["item.kindOf"],"folderId":["item.box","nowhere"]},"ignore":["junk"]}`))
	require.NoError(t, err)
	d := NewDecoder(km)
	census := NewCensus()
	d.Census = census
	it, err := d.ParseItem(1, []byte(`[{"startDate":1,"item":{"kindOf":5,"box":7}}]`))
	require.NoError(t, err)
	assert.Equal(t, TypeMessage, it.States[0].Type)
	assert.Equal(t, 7, it.States[0].FolderID)
	assert.Equal(t, []string{
		`keymap: state.folderId key "nowhere" matched nothing`,
		`keymap: ignore key "junk" matched nothing`,
	}, d.UnmatchedKeymap(census))
}

// Validity periods: a state whose end date comes before anything follows
// it ends the item there.
func TestValidityPeriods(t *testing.T) {
	d1, d2, d3, d4 := ms(1, 9), ms(2, 9), ms(3, 9), ms(4, 9)
	dg := string(testDigest)
	t.Run("the last state ended: deleted from its end on", func(t *testing.T) {
		it, err := Default.ParseItem(1, []byte(`[{"startDate":`+itoa(int64(d1))+`,"end-date":`+itoa(int64(d2))+`,"type":5,"folderId":2,"digest":"`+dg+`"}]`))
		require.NoError(t, err)
		require.Len(t, it.States, 2)
		e := it.States[1]
		assert.True(t, e.Ended())
		assert.True(t, e.Deleted)
		assert.Equal(t, d2, e.Start)
		assert.Equal(t, 2, e.FolderID, "the last folder and content, to undelete")
		assert.Equal(t, testDigest, e.Digest)
		require.Len(t, e.Notes, 1)
		assert.Contains(t, e.Notes[0], "ended at 2024-05-02T09:00:00Z")
		assert.True(t, it.IsDeleted())
		assert.Equal(t, 1, it.ShownDeleted())
		assert.Equal(t, -1, it.ShownAt(time.Time{}))
		assert.Equal(t, 0, it.ShownAt(d1.Time().Add(time.Hour)), "live before its end")
		assert.Nil(t, it.LiveAt(d3.Time()))

		b, err := it.Encode()
		require.NoError(t, err)
		assert.Equal(t, 1, strings.Count(string(b), "startDate"), "the end date is written, not the state it makes")
		assert.Contains(t, string(b), `"endDate":`+itoa(int64(d2)))
		again, err := Default.ParseItem(1, b)
		require.NoError(t, err)
		assert.Equal(t, it.States, again.States, "round trip")
	})
	t.Run("a gap: deleted in between", func(t *testing.T) {
		it, err := Default.ParseItem(1, []byte(`[{"startDate":`+itoa(int64(d1))+`,"validTo":`+itoa(int64(d2))+`,"type":5,"folderId":2,"digest":"`+dg+`"},
			{"startDate":`+itoa(int64(d3))+`,"type":5,"folderId":4,"digest":"`+dg+`"}]`))
		require.NoError(t, err)
		require.Len(t, it.States, 3)
		assert.True(t, it.States[1].Deleted)
		assert.Nil(t, it.LiveAt(d2.Time().Add(time.Hour)))
		assert.NotNil(t, it.LiveAt(d4.Time()))
		assert.False(t, it.IsDeleted())
	})
	t.Run("an end at the next start, or after it, or before its own start: nothing", func(t *testing.T) {
		for _, end := range []Millis{d2, d3, d1, d1 - 1} {
			it, err := Default.ParseItem(1, []byte(`[{"startDate":`+itoa(int64(d1))+`,"end_date":`+itoa(int64(end))+`,"type":5,"folderId":2},
				{"startDate":`+itoa(int64(d2))+`,"type":5,"folderId":4}]`))
			require.NoError(t, err)
			assert.Len(t, it.States, 2, "end %d", end)
		}
	})
}

func TestZimbraMetadata(t *testing.T) {
	m, err := DecodeZimbraMetadata("d1:f5:hello1:s11:a@b.example1:vi10e1:ll1:ai-3eee")
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"f": "hello", "s": "a@b.example", "v": int64(10), "l": []any{"a", int64(-3)}}, m)

	// Lengths are Java chars (UTF-16 code units), not bytes.
	m, err = DecodeZimbraMetadata("d1:s6:Zoë 😀1:t1:xe")
	require.NoError(t, err)
	assert.Equal(t, "Zoë 😀", m["s"])
	assert.Equal(t, "x", m["t"])

	for _, bad := range []string{"", "x", "d", "d1:s", "d1:se", "d1:s99:abce", "di1e", "d1:si1", "d1:s1:ae1",
		"l1:ae", strings.Repeat("d1:a", 100) + strings.Repeat("e", 100), "d1:s-1:e", "d1:s1:😀e"} {
		_, err := DecodeZimbraMetadata(bad)
		assert.ErrorIs(t, err, ErrZimbraMeta, "%q", bad)
	}

	census := NewCensus()
	d := NewDecoder(nil)
	d.Census = census
	file := []byte(`[{"start-date":1,"tp":5,"fid":2,"sbj":"Q2 report","meta":"d1:f8:the body1:p4:Re: 1:s3:Ann1:t4:john1:vi10ee"},
		{"start-date":2,"tp":5,"fid":2,"sbj":"x","meta":"d1:s"},
		{"start-date":3,"tp":5,"fid":2,"from":"Bob","meta":"d1:r9:Fwd: Q2 !1:s3:Ann1:t4:johne"}]`)
	for _, dec := range []*Decoder{d, Default} { // with a census and without
		it, err := dec.ParseItem(258, file)
		require.NoError(t, err)
		s := it.States[0]
		assert.Equal(t, "Ann", s.From)
		assert.Equal(t, "john", s.To)
		assert.Equal(t, "Re: Q2 report", s.Subject, "Zimbra's raw subject: prefix and subject")
		assert.Contains(t, s.Extra, "meta", "kept as it was")
		require.Len(t, it.States[1].Notes, 1)
		assert.Contains(t, it.States[1].Notes[0], "meta: not Zimbra metadata")
		s = it.States[2]
		assert.Equal(t, "Bob", s.From, "the state's own key wins")
		assert.Equal(t, "Fwd: Q2 !", s.Subject)
	}
	keys := map[string]KeyCount{}
	for _, k := range census.Keys() {
		keys[k.Key] = k
	}
	assert.Equal(t, "from", keys["meta.s"].Concept)
	assert.Contains(t, keys["meta"].Notes, "decoded Zimbra metadata (keys f p s t v)")
	assert.Equal(t, 1, keys["meta"].NotRead, "the one that could not be decoded")
}

func FuzzZimbraMetadata(f *testing.F) {
	for _, s := range []string{"d1:f5:hello1:s11:a@b.examplee", "d1:ll1:ai3ee1:vi10ee", "d1:s6:Zoë 😀e", "di1ei2ee"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := DecodeZimbraMetadata(s)
		if err == nil && m == nil {
			t.Fatal("nil map without an error")
		}
		_, _ = Default.ParseItem(1, []byte(`[{"startDate":1,"tp":5,"meta":`+strconvQuote(s)+`}]`))
	})
}

func strconvQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// The census's sum: empty values count for neither side, data not read
// against.
func TestCensusUnderstood(t *testing.T) {
	census := NewCensus()
	d := NewDecoder(nil)
	d.Census = census
	_, err := d.ParseItem(1, []byte(`[{"startDate":1,"x":"","z":null,"y":"data"},{"startDate":2,"tp":5,"uuid":"u","y":0}]`))
	require.NoError(t, err)
	share, bad := census.Understood()
	assert.Equal(t, []string{"y"}, bad)
	assert.InDelta(t, 0.8, share, 1e-9, "4 of 5 keys with data")
	assert.Equal(t, "read 80 % of state keys; 1 key not understood (y)", census.Summary())
}
