package ctl

import (
	"strings"
	"testing"

	"slices"

	"github.com/stretchr/testify/require"
)

func TestRewritePairs(t *testing.T) {
	k, err := New(&CLI{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		in   string
		want string
		err  string // substring of the error, "" for none
	}{
		{name: "carbonio pairs", in: "backup getItem john@example.com 49965 dump_blob true backup_path /x date all",
			want: "backup getItem john@example.com 49965 --dump-blob --backup-path=/x --date=all"},
		{name: "flags unchanged", in: "backup getItem john@example.com 49965 --dump-blob --backup-path=/x --date=all",
			want: "backup getItem john@example.com 49965 --dump-blob --backup-path=/x --date=all"},
		{name: "flag with separate value", in: "--backup-path /x backup getItem john 5 --date last dump_blob true",
			want: "--backup-path /x backup getItem john 5 --date last --dump-blob"},
		{name: "camelCase and kebab-case pair names", in: "backup getItem john 5 dumpBlob true backup-path /y",
			want: "backup getItem john 5 --dump-blob --backup-path=/y"},
		{name: "pair names are case-insensitive", in: "backup getItem john 5 DUMP_BLOB TRUE",
			want: "backup getItem john 5 --dump-blob"},
		{name: "bool false", in: "backup getItem john 5 dump_blob false",
			want: "backup getItem john 5 --dump-blob=false"},
		{name: "bool bad value", in: "backup getItem john 5 dump_blob maybe", err: `"dump_blob" wants true or false, got "maybe"`},
		{name: "positional that looks like a pair name", in: "backup getItem date 5 date last",
			want: "backup getItem date 5 --date=last"},
		{name: "both positionals look like pair names", in: "backup getAccountInfo json",
			want: "backup getAccountInfo json"},
		{name: "value that looks like a pair name", in: "backup doItemSearch john search_string type type message",
			want: "backup doItemSearch john --search-string=type --type=message"},
		{name: "value starting with a dash", in: "backup doItemSearch john search_string -x",
			want: "backup doItemSearch john --search-string=-x"},
		{name: "value with spaces", in: "backup getItem john 5 date 01/02/2024\x0010:00:00",
			want: "backup getItem john 5 --date=01/02/2024\x0010:00:00"},
		{name: "double dash stops rewriting", in: "backup getItem -- date 5",
			want: "backup getItem -- date 5"},
		{name: "double dash after positionals", in: "backup getItem john 5 -- date all",
			want: "backup getItem john 5 -- date all"},
		{name: "command names case-insensitive", in: "BACKUP getitem john 5", want: "backup getItem john 5"},
		{name: "command names kebab-case", in: "backup get-item john 5", want: "backup getItem john 5"},
		{name: "command names snake_case", in: "backup get_server_config standard query /", want: "backup getServerConfig standard --query=/"},
		{name: "global flags before the command", in: "--json backup getAvailableAccounts backup_path /p",
			want: "--json backup getAvailableAccounts --backup-path=/p"},
		{name: "global bool pair", in: "backup getBackupInfo json true", want: "backup getBackupInfo --json"},
		{name: "unknown pair name", in: "backup getItem john 5 colour red", err: `backup getItem: unknown parameter "colour"`},
		{name: "pair name without value", in: "backup getItem john 5 date", err: `parameter "date" needs a value`},
		{name: "unknown command left to kong", in: "backup nothing here", want: "backup nothing here"},
		{name: "command glued to a path (Carbonio's getBackupInfo example)", in: "backup getBackupInfo/opt/zextras/backup/zextras/",
			want: "backup getBackupInfo /opt/zextras/backup/zextras/"},
		{name: "glued to a path, not a command", in: "backup getNothing/opt", want: "backup getNothing/opt"},
		{name: "help flag", in: "backup getItem --help", want: "backup getItem --help"},
		{name: "sample flags and pairs", in: "sample /tmp/x accounts 4 --messages 3 big_attachments true",
			want: "sample /tmp/x --accounts=4 --messages 3 --big-attachments"},
		{name: "no args", in: "", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := RewritePairs(k.Model, split(tt.in))
			if !errorMatches(t, err, tt.err) {
				return
			}
			if want := split(tt.want); !slices.Equal(got, want) {
				t.Errorf("RewritePairs(%q)\n got %q\nwant %q", tt.in, got, want)
			}
		})
	}
}

// split splits on spaces; \x00 stands for a space inside one argument.
func split(s string) []string {
	out := []string{}
	for _, f := range strings.Fields(s) {
		out = append(out, strings.ReplaceAll(f, "\x00", " "))
	}
	return out
}

// errorMatches checks err against want (a substring; "" means no error) and
// reports whether the caller should go on checking the result.
func errorMatches(t *testing.T, err error, want string) bool {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Fatalf("unexpected error: %v", err)
	case want != "" && err == nil:
		t.Fatalf("no error, want one containing %q", want)
	case want != "" && !strings.Contains(err.Error(), want):
		t.Fatalf("error %q does not contain %q", err, want)
	}
	return want == ""
}

func TestCarbonioParamsNotApplicable(t *testing.T) {
	k, err := New(&CLI{})
	require.NoError(t, err)
	app := k.Model
	// The no-op value is dropped; the pair after it still counts.
	out, err := RewritePairs(app, []string{"backup", "doSmartScan", "start", "remote_metadata_upload", "false", "deep", "true"})
	require.NoError(t, err)
	require.Equal(t, []string{"backup", "doSmartScan", "start", "--deep"}, out)
	// Any other value says why, naming the parameter.
	_, err = RewritePairs(app, []string{"backup", "doSmartScan", "remote_metadata_upload", "true"})
	require.ErrorContains(t, err, "remote_metadata_upload true does not apply to cbfs")
	require.ErrorContains(t, err, "cbfs serve --external")
	// A parameter with no accepted value.
	_, err = RewritePairs(app, []string{"backup", "doExternalRestore", "/src", "blobs_archive", "/b"})
	require.ErrorContains(t, err, "blobs_archive does not apply to cbfs")
	// Only on the verbs Carbonio documents it for.
	_, err = RewritePairs(app, []string{"backup", "getItem", "a", "1", "remote_metadata_upload", "false"})
	require.ErrorContains(t, err, "unknown parameter")
}
