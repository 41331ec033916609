package mailbox

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cbfs/cbfs/blob"
)

var testDigest = blob.Sum([]byte("Subject: x\r\n\r\nbody\r\n"))

// plain is testDigest as a writer that does not make it FS-safe writes it.
var plain = strings.ReplaceAll(string(testDigest), ",", "/")

func TestDecodeDialects(t *testing.T) {
	at := time.Date(2024, 5, 1, 9, 0, 0, 0, time.UTC)
	sec, ms := at.Unix(), at.UnixMilli()
	tests := []struct {
		name  string
		state string
		check func(t *testing.T, s State)
	}{
		{"cbfs's own keys", `{"startDate":` + itoa(ms) + `,"type":5,"folderId":2,"flags":"uf","deleted":false,"digest":"` + string(testDigest) + `","size":21}`,
			func(t *testing.T, s State) {
				assert.Equal(t, Millis(ms), s.Start)
				assert.Equal(t, TypeMessage, s.Type)
				assert.Equal(t, 2, s.FolderID)
				assert.Equal(t, "uf", s.Flags)
				assert.Equal(t, testDigest, s.Digest)
				assert.Empty(t, s.Notes)
			}},
		{"Zimbra columns: snake_case, type name, flag bitmask, seconds, '/' digest, numbers as strings",
			`{"start_date":"` + itoa(sec) + `","type":"MESSAGE","folder_id":"5","flags":544,"deleted":1,"blob_digest":"` + plain + `","size":"21","date":` + itoa(sec) + `}`,
			func(t *testing.T, s State) {
				assert.Equal(t, Millis(ms), s.Start, "seconds")
				assert.Equal(t, TypeMessage, s.Type)
				assert.Equal(t, 5, s.FolderID)
				assert.ElementsMatch(t, []byte("uf"), []byte(s.Flags), "512|32 = u, f")
				assert.True(t, s.Deleted)
				assert.Equal(t, testDigest, s.Digest, "made FS-safe")
				assert.Equal(t, int64(21), s.Size)
				assert.Equal(t, Millis(ms), s.Date)
			}},
		{"camelCase synonyms: itemType, parentId as the folder, isDeleted, blobDigest, RFC 3339",
			`{"startTime":"2024-05-01T09:00:00Z","itemType":"Message","parentId":7,"isDeleted":"true","blobDigest":"` + string(testDigest) + `"}`,
			func(t *testing.T, s State) {
				assert.Equal(t, Millis(ms), s.Start)
				assert.Equal(t, TypeMessage, s.Type)
				assert.Equal(t, 7, s.FolderID, "a message's parent is its folder")
				assert.True(t, s.Deleted)
				assert.Equal(t, testDigest, s.Digest)
			}},
		{"digest found by value, nested", `{"startDate":` + itoa(ms) + `,"type":5,"folderId":2,"payload":{"store":{"ref":"` + string(testDigest) + `"}}}`,
			func(t *testing.T, s State) {
				assert.Equal(t, testDigest, s.Digest)
				require.Len(t, s.Notes, 1)
				assert.Contains(t, s.Notes[0], "found by value")
				assert.Contains(t, string(s.Extra["payload"]), "ref", "the key is kept as it was")
			}},
		{"digest as a blob path", `{"startDate":1,"type":5,"blob path":"/mnt/import/items/` + string(testDigest[:2]) + `/` + string(testDigest) + `"}`,
			func(t *testing.T, s State) { assert.Equal(t, testDigest, s.Digest) }},
		{"IMAP flags", `{"startDate":1,"type":5,"flags":["\\Seen","\\Flagged","$Forwarded"]}`,
			func(t *testing.T, s State) { assert.Equal(t, "fw", s.Flags) }},
		{"IMAP flags without \\Seen: unread", `{"startDate":1,"type":5,"flags":"\\Answered"}`,
			func(t *testing.T, s State) { assert.Equal(t, "ur", s.Flags) }},
		{"a value that cannot be read loses only that concept", `{"startDate":1,"type":5,"folderId":{"x":1},"flags":"u"}`,
			func(t *testing.T, s State) {
				assert.Equal(t, 0, s.FolderID)
				assert.Equal(t, "u", s.Flags)
				assert.JSONEq(t, `{"x":1}`, string(s.Extra["folderId"]))
				require.Len(t, s.Notes, 1)
				assert.Contains(t, s.Notes[0], "folderId")
			}},
		{"own key wins over an alias wherever it stands", `{"folder_id":9,"startDate":1,"folderId":2,"type":5}`,
			func(t *testing.T, s State) {
				assert.Equal(t, 2, s.FolderID)
				assert.JSONEq(t, `9`, string(s.Extra["folder_id"]))
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			it, err := Default.ParseItem(1, []byte("["+tc.state+"]"))
			require.NoError(t, err)
			tc.check(t, it.States[0])
		})
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestInheritance(t *testing.T) {
	t.Run("a state that names no blob keeps the content before it", func(t *testing.T) {
		it, err := Default.ParseItem(300, []byte(`[{"startDate":1000,"type":5,"folderId":2,"flags":"u","digest":"`+string(testDigest)+`","size":21},
			{"startDate":2000,"type":5,"folderId":2,"flags":"f"}]`))
		require.NoError(t, err)
		s := it.States[1]
		assert.Equal(t, testDigest, s.Digest)
		assert.Equal(t, int64(21), s.Size)
		assert.Equal(t, "f", s.Flags, "a full state: its own flags")
		assert.Equal(t, []string{"digest", "size"}, s.Inherited.List())
		assert.Equal(t, 1, it.ShownAt(time.Time{}), "shown as a file of its folder")
	})
	t.Run("a full state does not inherit other concepts", func(t *testing.T) {
		it, err := Default.ParseItem(1, []byte(`[{"startDate":1000,"type":5,"folderId":2,"flags":"u","tags":["a"]},{"startDate":2000,"type":5,"folderId":3}]`))
		require.NoError(t, err)
		assert.Empty(t, it.States[1].Flags)
		assert.Empty(t, it.States[1].Tags)
	})
	t.Run("a delta state inherits what it does not say", func(t *testing.T) {
		it, err := Default.ParseItem(1, []byte(`[{"start-date":"2024-05-01T09:00:00Z","item-type":"5","parentId":2,"flags":"u","keywords":["a"],"sizeBytes":21,"content":{"sha256":"`+string(testDigest)+`"}},
			{"start-date":"2024-05-02T09:00:00Z","flags":""},
			{"start-date":"2024-05-03T09:00:00Z","isDeleted":"true"}]`))
		require.NoError(t, err)
		s1, s2 := it.States[1], it.States[2]
		assert.Equal(t, TypeMessage, s1.Type)
		assert.Equal(t, 2, s1.FolderID)
		assert.Equal(t, "", s1.Flags, "cleared by the delta")
		assert.Equal(t, []string{"a"}, s1.Tags)
		assert.Equal(t, testDigest, s1.Digest)
		assert.True(t, s2.Deleted)
		assert.Equal(t, 2, s2.FolderID)
		assert.Equal(t, 2, it.ShownDeleted())
	})
	t.Run("a keymap can say every state is full", func(t *testing.T) {
		km, err := ParseKeyMap([]byte(`{"states":"full","state":{"folderId":["box"]}}`))
		require.NoError(t, err)
		it, err := NewDecoder(km).ParseItem(1, []byte(`[{"startDate":1,"type":5,"box":4,"flags":"u"},{"startDate":2,"flags":"f"}]`))
		require.NoError(t, err)
		assert.Equal(t, 4, it.States[0].FolderID, "keymap key")
		assert.Equal(t, TypeUnknown, it.States[1].Type, "not inherited: full states")
		assert.Equal(t, 0, it.States[1].FolderID)
	})
}

func TestKeyMapErrors(t *testing.T) {
	for in, want := range map[string]string{
		`{"state":{"nonsense":["x"]}}`: "unknown concept",
		`{"states":"sometimes"}`:       "want auto, full or delta",
		`{"account":{"shoeSize":"x"}}`: "unknown account field",
		`{"frobnicate":1}`:             "not a keymap",
		`[`:                            "not a keymap",
	} {
		_, err := ParseKeyMap([]byte(in))
		require.Error(t, err, in)
		assert.Contains(t, err.Error(), want, in)
	}
}

func TestParseAccountDialects(t *testing.T) {
	const id = "3b3c1a52-0d7a-4b54-9c0c-5a2bd2f4e0c1"
	tests := []struct {
		name, in, wantName, wantSource, wantStatus string
	}{
		{"cbfs", `{"id":"` + id + `","name":"john@example.com","status":"active"}`, "john@example.com", "name", StatusActive},
		{"LDAP attributes, values in arrays", `{"zimbraId":["` + id + `"],"mail":["john@example.com"],"zimbraAccountStatus":["active"]}`, "john@example.com", "mail", StatusActive},
		{"zimbraMailDeliveryAddress, closed with a deletion date", `{"zimbraMailDeliveryAddress":"john@example.com","zimbraAccountStatus":"closed","zimbraBackupDeletedTimestamp":"20240301120000Z"}`, "john@example.com", "zimbraMailDeliveryAddress", StatusDeleted},
		{"uid and domain", `{"uid":"john","zimbraDomainName":"example.com"}`, "john@example.com", "uid+domain", StatusActive},
		{"a history: the newest entry counts", `[{"uid":"john","domain":"example.com","accountStatus":"active"},{"mail":"john.smith@example.com","accountStatus":"deleted"}]`, "john.smith@example.com", "mail", StatusDeleted},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, err := Default.ParseAccount(id, []byte(tc.in))
			require.NoError(t, err)
			assert.Equal(t, id, a.ID)
			assert.Equal(t, tc.wantName, a.Name)
			assert.Equal(t, tc.wantSource, a.NameSource)
			assert.Equal(t, tc.wantStatus, a.Status)
		})
	}
	_, err := Default.ParseAccount(id, []byte(`{"displayName":"nobody"}`))
	assert.ErrorIs(t, err, ErrNoName)
	_, err = Default.ParseAccount(id, []byte(`{"id":"other","name":"x@y"}`))
	assert.ErrorContains(t, err, "does not match its folder")
}

func TestResolveOneRule(t *testing.T) {
	accts := []Account{
		{ID: "b", Name: "john@example.com", Status: StatusDeleted, Created: 5},
		{ID: "c", Name: "John@Example.com", Status: StatusActive, Created: 1},
		{ID: "d", Name: "john@example.com", Status: StatusActive, Created: 3},
		{ID: "a", Name: "anna@example.com", Status: StatusActive},
	}
	assert.Equal(t, "d", Resolve(accts, "JOHN@example.com").ID, "active first, then the newest")
	assert.Equal(t, "b", Resolve(accts, "b").ID, "an id is that account")
	assert.Nil(t, Resolve(accts, "nobody@example.com"))
	assert.Equal(t, []string{"john@example.com (b)", "John@Example.com (c)", "john@example.com", "anna@example.com"}, ListingNames(accts))
}
