package mailbox

import (
	"encoding/json"
	"errors"
	"testing"
)

// account_info in the shapes FINDINGS calls plausible: flat LDAP
// attributes, attributes under an object one or two levels down, and
// Zimbra's SOAP attribute list (also GetAccountResponse's JSON).
func TestParseAccountShapes(t *testing.T) {
	const id = "3b3c1a52-0d7a-4b54-9c0c-5a2bd2f4e0c1"
	soap := `[{"n": "mail", "_content": "john@example.com"}, {"n": "zimbraAccountStatus", "_content": "locked"},
		{"n": "zimbraMailAlias", "_content": "j@example.com"}, {"n": "zimbraMailAlias", "_content": "jo@example.com"},
		{"n": "displayName", "_content": "John"}]`
	tests := []struct {
		name, in   string
		status     string
		nameSource string
	}{
		{"flat", `{"mail": "john@example.com", "zimbraAccountStatus": "locked"}`, "locked", "mail"},
		{"under attrs", `{"id": "` + id + `", "attrs": {"mail": "john@example.com", "zimbraAccountStatus": "locked"}}`, "locked", "attrs.mail"},
		{"under account", `{"account": {"mail": "john@example.com", "zimbraAccountStatus": "locked"}}`, "locked", "account.mail"},
		{"under ldap", `{"version": 3, "ldap": {"zimbraMailDeliveryAddress": "john@example.com", "zimbraAccountStatus": "locked"}}`, "locked", "ldap.zimbraMailDeliveryAddress"},
		{"two levels down", `{"data": {"ldap": {"mail": ["john@example.com"], "zimbraAccountStatus": ["locked"]}}}`, "locked", "data.ldap.mail"},
		{"SOAP list", `{"a": ` + soap + `}`, "locked", "mail"},
		{"SOAP list under attrs", `{"id": "` + id + `", "attrs": {"a": ` + soap + `}}`, "locked", "attrs.mail"},
		{"SOAP list as attrs", `{"attrs": ` + soap + `}`, "locked", "mail"},
		{"GetAccountResponse account", `{"account": {"name": "john@example.com", "id": "` + id + `", "a": ` + soap + `}}`, "locked", "account.name"},
		{"GetAccountResponse, Zimbra JSON arrays", `{"GetAccountResponse": {"account": [{"name": "john@example.com", "id": "` + id + `", "a": ` + soap + `}]}}`, "locked", "GetAccountResponse.account.name"},
		{"history of nested versions", `[{"attrs": {"mail": "old@example.com"}}, {"attrs": {"mail": "john@example.com", "zimbraAccountStatus": "locked"}}]`, "locked", "attrs.mail"},
		{"top level wins over nested", `{"name": "john@example.com", "status": "locked", "attrs": {"mail": "other@example.com", "zimbraAccountStatus": "closed"}}`, "locked", "name"},
		{"a signature's name is not the account's", `{"signature": {"name": "Kind regards"}, "attrs": {"mail": "john@example.com", "zimbraAccountStatus": "locked"}}`, "locked", "attrs.mail"},
		{"a COS's name is not the account's", `{"cos": {"name": "default@x", "id": "c1"}, "attrs": {"mail": "john@example.com"}, "zimbraAccountStatus": "locked"}`, "locked", "attrs.mail"},
		{"a nested status Zimbra does not know is not the account's", `{"backup": {"status": "ok"}, "ldap": {"mail": "john@example.com", "zimbraAccountStatus": "locked"}}`, "locked", "ldap.mail"},
		{"a nested id that is not the folder's is ignored", `{"ldap": {"zimbraId": "another", "mail": "john@example.com", "zimbraAccountStatus": "locked"}}`, "locked", "ldap.mail"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, err := Default.ParseAccount(id, []byte(tc.in))
			if err != nil {
				t.Fatalf("ParseAccount: %v", err)
			}
			if a.ID != id || a.Name != "john@example.com" || a.Status != tc.status || a.NameSource != tc.nameSource {
				t.Errorf("got id %q name %q (from %q) status %q; want %q john@example.com (from %q) %q",
					a.ID, a.Name, a.NameSource, a.Status, id, tc.nameSource, tc.status)
			}
			// What cbfs writes of it reads back the same.
			b, err := json.Marshal(a)
			if err != nil {
				t.Fatal(err)
			}
			back, err := Default.ParseAccount(id, b)
			if err != nil || back.Name != a.Name || back.Status != a.Status {
				t.Errorf("round trip: %+v, %v\n%s", back, err, b)
			}
		})
	}

	t.Run("SOAP: multi-valued attributes are lists, the list is Attrs", func(t *testing.T) {
		for _, in := range []string{`{"a": ` + soap + `}`, `{"attrs": {"a": ` + soap + `}}`, `{"attrs": ` + soap + `}`} {
			a, err := Default.ParseAccount(id, []byte(in))
			if err != nil {
				t.Fatal(err)
			}
			if got := string(a.Attrs["zimbraMailAlias"]); got != `["j@example.com","jo@example.com"]` {
				t.Errorf("%s: zimbraMailAlias = %s, want a list", in, got)
			}
			if got := string(a.Attrs["mail"]); got != `"john@example.com"` {
				t.Errorf("%s: mail = %s, want a string", in, got)
			}
			if _, ok := a.Attrs["a"]; ok {
				t.Errorf("%s: the SOAP list kept as an attribute named a", in)
			}
			if _, ok := a.Extra["a"]; ok {
				t.Errorf("%s: the SOAP list kept beside Attrs", in)
			}
			if a.DisplayName != "John" {
				t.Errorf("%s: displayName %q", in, a.DisplayName)
			}
		}
	})

	t.Run("nothing that is an address: no name", func(t *testing.T) {
		for _, in := range []string{
			`{"id": "` + id + `", "signature": {"name": "Kind regards"}}`,
			`{"a": [{"n": "zimbraAccountStatus", "_content": "active"}]}`,
			`{"x": {"y": {"z": {"mail": "three@levels.down"}}}}`,
		} {
			if a, err := Default.ParseAccount(id, []byte(in)); !errors.Is(err, ErrNoName) {
				t.Errorf("%s: %+v, %v; want ErrNoName", in, a, err)
			}
		}
	})
}
