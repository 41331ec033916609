package mailbox

import "testing"

// BenchmarkParseItem: cbfs's own dialect (the fast path: exact keys, one
// pass) beside the same item in the zimbra and delta sample dialects
// (aliases, value coercion, the digest found by value, deltas), and in
// Zimbra's own vocabularies: mail_item's columns, UnderlyingData's short
// keys with encoded metadata, and those nested under an object.
func BenchmarkParseItem(b *testing.B) {
	for _, bc := range parseItemCases {
		data := []byte(bc.data)
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Default.ParseItem(1, data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// parseItemCases: one message, delivered unread to the Inbox and moved,
// read, to folder 257, in every dialect.
var parseItemCases = []struct{ name, data string }{
	{"cbfs", `[
{"date":1700000000000,"deleted":false,"digest":"c0,gUlvzQfE21z6YRXJnNkKL85PrRHw0KMQUqo,pMmQ=","flags":"u","folderId":2,"from":"Alice Example <alice@example.com>","size":18342,"startDate":1700000001000,"subject":"Quarterly report draft","to":"bob@example.com","type":5},
{"date":1700000000000,"deleted":false,"digest":"c0,gUlvzQfE21z6YRXJnNkKL85PrRHw0KMQUqo,pMmQ=","flags":"","folderId":257,"from":"Alice Example <alice@example.com>","size":18342,"startDate":1700090001000,"subject":"Quarterly report draft","to":"bob@example.com","type":5}
]`},
	{"zimbra", `[
{"blob_digest":"c0/gUlvzQfE21z6YRXJnNkKL85PrRHw0KMQUqo/pMmQ=","date":1700000000,"deleted":0,"end_date":1700090001000,"flags":512,"folder_id":"2","recipients":"bob@example.com","sender":"Alice Example <alice@example.com>","size":18342,"start_date":1700000001000,"subject":"Quarterly report draft","transaction_id":1,"type":"MESSAGE"},
{"blob_digest":"c0/gUlvzQfE21z6YRXJnNkKL85PrRHw0KMQUqo/pMmQ=","date":1700000000,"deleted":0,"flags":0,"folder_id":"257","recipients":"bob@example.com","sender":"Alice Example <alice@example.com>","size":18342,"start_date":1700090001000,"subject":"Quarterly report draft","transaction_id":2,"type":"MESSAGE"}
]`},
	{"delta", `[
{"content":{"encoding":"gzip","sha256":"c0,gUlvzQfE21z6YRXJnNkKL85PrRHw0KMQUqo,pMmQ="},"flags":"u","isDeleted":"false","item-type":"5","parentId":2,"rcpt":"bob@example.com","received":"2023-11-14T22:13:20.000Z","sender":"Alice Example <alice@example.com>","sizeBytes":18342,"start-date":"2023-11-14T22:13:21.000Z","subject":"Quarterly report draft"},
{"flags":"","parentId":257,"start-date":"2023-11-15T23:13:21.000Z"}
]`},
	// Zimbra's mail_item columns, flat (seconds for date, unread apart
	// from the flags, the tag bitmask beside the names).
	{"mail_item", `[
{"start_date":1700000001000,"end_date":1700090001000,"transaction_id":1,"mailbox_id":1,"id":258,"type":5,"parent_id":-258,"folder_id":2,"index_id":258,"imap_id":4021,"date":1700000000,"size":18342,"locator":"1","blob_digest":"c0/gUlvzQfE21z6YRXJnNkKL85PrRHw0KMQUqo/pMmQ=","unread":1,"flags":0,"tags":0,"tag_names":null,"sender":"Alice Example <alice@example.com>","recipients":"bob@example.com","subject":"Quarterly report draft","change_date":1700000001,"mod_metadata":1200,"mod_content":1100,"uuid":"6f1e0c2a-7d1b-4a59-9a51-0e0b8f0c7d11"},
{"start_date":1700090001000,"transaction_id":2,"mailbox_id":1,"id":258,"type":5,"parent_id":-258,"folder_id":257,"index_id":258,"imap_id":4021,"date":1700000000,"size":18342,"locator":"1","blob_digest":"c0/gUlvzQfE21z6YRXJnNkKL85PrRHw0KMQUqo/pMmQ=","unread":0,"flags":0,"tags":0,"tag_names":null,"sender":"Alice Example <alice@example.com>","recipients":"bob@example.com","subject":"Quarterly report draft","change_date":1700090001,"mod_metadata":1300,"mod_content":1100,"uuid":"6f1e0c2a-7d1b-4a59-9a51-0e0b8f0c7d11"}
]`},
	// UnderlyingData's short keys, with Zimbra's encoded metadata.
	{"underlying", `[
{"start-date":1700000001000,"end-date":1700090001000,"id":258,"uuid":"6f1e0c2a-7d1b-4a59-9a51-0e0b8f0c7d11","tp":5,"pid":-258,"fid":2,"idx":258,"imap":4021,"loc":"1","dgst":"c0/gUlvzQfE21z6YRXJnNkKL85PrRHw0KMQUqo/pMmQ=","dt":1700000000,"sz":18342,"uc":1,"fg":0,"sbj":"Quarterly report draft","meta":"d1:f12:Hello Bob...1:s33:Alice Example <alice@example.com>1:t15:bob@example.com1:vi10ee","modm":1200,"modc":1100,"dc":1700000001},
{"start-date":1700090001000,"id":258,"uuid":"6f1e0c2a-7d1b-4a59-9a51-0e0b8f0c7d11","tp":5,"pid":-258,"fid":257,"idx":258,"imap":4021,"loc":"1","dgst":"c0/gUlvzQfE21z6YRXJnNkKL85PrRHw0KMQUqo/pMmQ=","dt":1700000000,"sz":18342,"uc":0,"fg":0,"sbj":"Quarterly report draft","meta":"d1:f12:Hello Bob...1:s33:Alice Example <alice@example.com>1:t15:bob@example.com1:vi10ee","modm":1300,"modc":1100,"dc":1700090001}
]`},
	// The same, nested under one object per state.
	{"nested", `[
{"start-date":1700000001000,"end-date":1700090001000,"item":{"id":258,"tp":5,"pid":-258,"fid":2,"imap":4021,"dgst":"c0/gUlvzQfE21z6YRXJnNkKL85PrRHw0KMQUqo/pMmQ=","dt":1700000000,"sz":18342,"uc":1,"fg":0,"sbj":"Quarterly report draft","modm":1200,"modc":1100,"dc":1700000001}},
{"start-date":1700090001000,"item":{"id":258,"tp":5,"pid":-258,"fid":257,"imap":4021,"dgst":"c0/gUlvzQfE21z6YRXJnNkKL85PrRHw0KMQUqo/pMmQ=","dt":1700000000,"sz":18342,"uc":0,"fg":0,"sbj":"Quarterly report draft","modm":1300,"modc":1100,"dc":1700090001}}
]`},
}

// The benchmark's dialects say the same: a benchmark of a shape that
// reads wrong would measure nothing.
func TestParseItemCasesAgree(t *testing.T) {
	want, err := Default.ParseItem(1, []byte(parseItemCases[0].data))
	if err != nil {
		t.Fatal(err)
	}
	for _, bc := range parseItemCases[1:] {
		it, err := Default.ParseItem(1, []byte(bc.data))
		if err != nil {
			t.Fatal(bc.name, err)
		}
		if len(it.States) != len(want.States) {
			t.Fatalf("%s: %d states, want %d", bc.name, len(it.States), len(want.States))
		}
		for i, s := range it.States {
			w := want.States[i]
			if s.Start != w.Start || s.Type != w.Type || s.FolderID != w.FolderID || s.Flags != w.Flags ||
				s.Digest != w.Digest || s.Size != w.Size || s.Subject != w.Subject || s.Date != w.Date ||
				(bc.name != "nested" && (s.From != w.From || s.To != w.To)) { // nested: no sender
				t.Errorf("%s state %d:\n got %+v\nwant %+v", bc.name, i, s, w)
			}
		}
	}
}
