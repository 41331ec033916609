package mailbox

import "testing"

// BenchmarkParseItem: cbfs's own dialect (the fast path: exact keys, one
// pass) beside the same item in the zimbra and delta sample dialects
// (aliases, value coercion, the digest found by value, deltas).
func BenchmarkParseItem(b *testing.B) {
	for _, bc := range []struct{ name, data string }{
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
	} {
		data := []byte(bc.data)
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ParseItem(1, data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
