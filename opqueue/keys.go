package opqueue

import (
	"fmt"
)

// Key templates. Every key starts with a fixed prefix, so the operations
// form one contiguous, ordered key range.
const (
	// keySchema holds the schema version (decimal).
	keySchema = "meta:schema"
	// keyNextSeq holds the next enqueue sequence number (decimal), so
	// numbers are never reused, even after Prune removed the newest.
	keyNextSeq = "meta:nextseq"
	// tmplOp = "op:<seq>" -> operation (JSON, Op); <seq> is zero-padded to
	// seqWidth digits so that key order is enqueue order.
	tmplOp = "op:"
	// tmplOpID = "opid:<uuid>" -> <seq> (decimal, padded).
	tmplOpID = "opid:"
)

// schemaVersion is the version this code writes and reads.
const schemaVersion = 1

const seqWidth = 20

func opKey(seq uint64) string { return fmt.Sprintf("%s%0*d", tmplOp, seqWidth, seq) }

func opIDKey(id string) string { return tmplOpID + id }
