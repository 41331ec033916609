// Package sample generates a deterministic, realistic Backup Path for demos,
// tests and benchmarks, including deliberately damaged items.
package sample

import "context"

// Options say how big a sample to make.
type Options struct {
	Accounts int   // number of accounts (>= 3)
	Messages int   // messages per account (approximate)
	Seed     int64 // same seed, same Backup Path byte for byte
	// BigAttachments adds MB-sized attachments to a few messages.
	BigAttachments bool
}

// Damage kinds the generator plants.
const (
	DamageTruncated     = "truncated"       // blob cut short            -> broken
	DamageMismatch      = "digest-mismatch" // content != digest        -> broken
	DamageUnreadable    = "unreadable"      // a folder where the blob should be -> unreadable
	DamageMissing       = "missing"         // no blob file               -> unreadable
	DamageDoubleGzip    = "double-gzip"     // gzip inside gzip: sound, readable
	DamageMalformedJSON = "malformed-json"  // item file is not JSON      -> broken item
)

// Damaged is one planted damaged item.
type Damaged struct {
	Kind      string
	AccountID string
	Account   string // name
	ItemID    int
	Digest    string // blob digest involved ("" for malformed-json)
}

// Report says what Generate made.
type Report struct {
	Accounts []string // account names
	Items    int
	Blobs    int
	Damaged  []Damaged
}

// Generate writes a Backup Path into dest (which must be missing or empty).
func Generate(ctx context.Context, dest string, opt Options) (*Report, error) {
	panic("unimplemented")
}
