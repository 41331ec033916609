package mailbox

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
)

// Grantees reads every spelling of a grant list the decoder keeps in
// Extra, and nothing else.
func TestGrantees(t *testing.T) {
	tests := []struct {
		name  string
		extra Extra
		want  []string
	}{
		{"none", nil, nil},
		{"not a share key", Extra{"color": json.RawMessage(`["x"]`)}, nil},
		{"objects", Extra{"acl": json.RawMessage(`[{"zid":"a1","perm":"r"},{"grantee":"b2"},{"granteeId":"c3"},{"id":"d4"},{"perm":"r"}]`)}, []string{"a1", "b2", "c3", "d4"}},
		{"strings", Extra{"Grants": json.RawMessage(`["a1","b2"]`)}, []string{"a1", "b2"}},
		{"zimbra's grant object", Extra{"ACL": json.RawMessage(`{"grant":[{"zid":"a1"},{"zid":"b2"}]}`)}, []string{"a1", "b2"}},
		{"one grant", Extra{"shares": json.RawMessage(`{"zid":"a1"}`)}, []string{"a1"}},
		{"zid first", Extra{"grant": json.RawMessage(`[{"id":"x","zid":"a1"}]`)}, []string{"a1"}},
		{"not JSON grants", Extra{"acl": json.RawMessage(`17`)}, nil},
		{"keys in order", Extra{"shares": json.RawMessage(`["s"]`), "acl": json.RawMessage(`["a"]`)}, []string{"a", "s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &State{Type: TypeFolder, Extra: tt.extra}
			assert.Equal(t, tt.want, s.Grantees())
		})
	}
}
