package operations

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/restore"
)

func TestParseRestoreDate(t *testing.T) {
	tests := []struct {
		in   string
		want time.Time
		err  bool
	}{
		{"last", time.Time{}, false},
		{"LAST", time.Time{}, false},
		{"", time.Time{}, false},
		{"01/03/2024 10:00:00", time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC), false},
		{"01/03/2024", time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC), false},
		{"2024-03-01T10:00:00+02:00", time.Date(2024, 3, 1, 8, 0, 0, 0, time.UTC), false},
		{"2024-03-01T10:00:00.123Z", time.Date(2024, 3, 1, 10, 0, 0, 123e6, time.UTC), false},
		{"first", time.Time{}, true}, // only "last" is open here
		{"31/31/2024", time.Time{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseRestoreDate("date", tt.in, "last")
			if tt.err {
				require.ErrorContains(t, err, "bad date")
				return
			}
			require.NoError(t, err)
			assert.True(t, tt.want.Equal(got), "got %v", got)
		})
	}
}

func TestValidateRestore(t *testing.T) {
	r := newRunner(t)
	src := r.Settings().BackupPath
	_, err := backuppath.Create(src, backuppath.BackupStat{ServerID: "s"})
	require.NoError(t, err)
	dir := t.TempDir()
	list := filepath.Join(dir, "accounts")
	require.NoError(t, os.WriteFile(list, []byte("# to restore\na@example.com\n\nb@example.com\n"), 0o644))
	bad := filepath.Join(dir, "bad")
	require.NoError(t, os.WriteFile(bad, []byte("a@example.com b@example.com\n"), 0o644))
	tgt := "maildir:" + filepath.Join(dir, "t")
	tests := []struct {
		name   string
		kind   string
		params map[string]string
		err    string
	}{
		{"external ok", KindExternalRestore, map[string]string{"sourcePath": src, "target": tgt, "input_file": list,
			"filter_deleted": "false", "concurrent_accounts": "2", "max_file_size": "10M"}, ""},
		{"no source", KindExternalRestore, map[string]string{"target": tgt}, "no source path"},
		{"relative source", KindExternalRestore, map[string]string{"sourcePath": "bp", "target": tgt}, "absolute"},
		{"missing source", KindExternalRestore, map[string]string{"sourcePath": filepath.Join(dir, "none"), "target": tgt}, "source"},
		{"no target", KindExternalRestore, map[string]string{"sourcePath": src}, "no restore target"},
		{"bad target", KindExternalRestore, map[string]string{"sourcePath": src, "target": "pop3://x"}, "unknown kind"},
		{"bad bool", KindExternalRestore, map[string]string{"sourcePath": src, "target": tgt, "skip_coses": "maybe"}, "skip_coses"},
		{"bad concurrency", KindExternalRestore, map[string]string{"sourcePath": src, "target": tgt, "concurrent_accounts": "0"}, "concurrent_accounts"},
		{"bad input file", KindExternalRestore, map[string]string{"sourcePath": src, "target": tgt, "input_file": bad}, "one account a line"},
		{"missing input file", KindExternalRestore, map[string]string{"sourcePath": src, "target": tgt, "input_file": filepath.Join(dir, "x")}, "input_file"},
		{"new account ok", KindRestoreOnNewAccount, map[string]string{"sourceAccount": "a@x", "destAccount": "b@x", "date": "last", "target": tgt}, ""},
		{"new account same", KindRestoreOnNewAccount, map[string]string{"sourceAccount": "a@x", "destAccount": "A@X", "target": tgt}, "new account"},
		{"undelete ok", KindUndelete, map[string]string{"account": "a@x", "start": "first", "end": "01/01/2024", "target": tgt}, ""},
		{"undelete backwards", KindUndelete, map[string]string{"account": "a@x", "start": "02/01/2024", "end": "01/01/2024", "target": tgt}, "before"},
		{"item ok", KindItemRestore, map[string]string{"account": "a@x", "itemId": "42", "target": tgt}, ""},
		{"item bad id", KindItemRestore, map[string]string{"account": "a@x", "itemId": "x", "target": tgt}, "item id"},
		{"unknown parameter", KindItemRestore, map[string]string{"account": "a@x", "itemId": "1", "accounts": "a"}, "unknown parameter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := r.Validate(tt.kind, tt.params)
			if tt.err == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.err)
			assert.True(t, errors.Is(err, ErrInvalid))
		})
	}
	p, err := Decode(KindExternalRestore, map[string]string{"sourcePath": src, "accounts": "c@example.com", "input_file": list})
	require.NoError(t, err)
	opt := p.(restorer).options()
	assert.Equal(t, []string{"c@example.com", "a@example.com", "b@example.com"}, opt.Accounts)
	assert.True(t, opt.FilterDeleted, "Carbonio's default")
	p, err = Decode(KindUndelete, map[string]string{"account": "a@x", "target_original_folder": "false"})
	require.NoError(t, err)
	assert.True(t, p.(restorer).options().DedicatedFolder)
}

// TestParseMaxFileSize: doExternalRestore's max_file_size defaults to
// restore.DefaultMaxFileSize; 0 lifts the limit.
func TestParseMaxFileSize(t *testing.T) {
	for in, want := range map[string]int64{"": restore.DefaultMaxFileSize, "  ": restore.DefaultMaxFileSize, "0": 0, "10M": 10 << 20} {
		got, err := ParseMaxFileSize(in)
		if err != nil || got != want {
			t.Errorf("ParseMaxFileSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
}
