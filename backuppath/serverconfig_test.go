package backuppath

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseQuery(t *testing.T) {
	tests := []struct {
		in, want, err string
	}{
		{in: "/", want: "/"},
		{in: "", want: "/"},
		{in: "serverConfig/zimbraMailMode/", want: "/serverConfig/zimbraMailMode"},
		{in: "serverconfig/zimbraMailMode", want: "/serverConfig/zimbraMailMode"},
		{in: "cos/default/zimbraMailQuota", want: "/cos/default/zimbraMailQuota"},
		{in: "domain", want: "/domain"},
		{in: "nothing/x", err: `unknown type "nothing"`},
		{in: "serverConfig/a/mail.example.com", want: "/serverConfig/a/mail.example.com"}, // Carbonio's per-server form
		{in: "serverConfig/a/b/c", err: "too many parts"},
		{in: "globalConfig/a/b", err: "too many parts"},
		{in: "zimlets/com_zimbra_x/key", want: "/zimlets/com_zimbra_x/key"},
		{in: "cos//x", err: "empty part"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			q, err := ParseConfigQuery(tt.in)
			if tt.err != "" {
				require.ErrorIs(t, err, ErrBadQuery)
				require.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			if q.String() != tt.want {
				t.Errorf("ParseConfigQuery(%q) = %s, want %s", tt.in, q, tt.want)
			}
		})
	}
}
