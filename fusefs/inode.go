package fusefs

import (
	"crypto/sha256"
	"encoding/binary"
	"sync"
)

// Inode numbers. Bit 63 is never set by this scheme: go-fuse hands out its
// automatic numbers from 1<<63 upwards, so the two can never meet. Bits
// 58-62 are the node kind; the 58 bits below carry the identity.
//
//	kind            payload (58 bits)
//	kindFixed       a small constant (root = 1, accounts/ = 2, ...)
//	kindAccount     seq(20) << 8 | sub(8)          account folder and its fixed children
//	kindFolder      seq(20) << 31 | folderID(31)   accounts/A/folders/<path>/
//	kindFolderFile  seq(20) << 31 | itemID(31)     accounts/A/folders/<path>/<id>.eml
//	kindDeleted     seq(20) << 31 | itemID(31)     accounts/A/deleted/<id>.eml
//	kindItem        seq(20) << 31 | itemID(31)     accounts/A/items/<id>/
//	kindItemMeta    seq(20) << 31 | itemID(31)     accounts/A/items/<id>/meta.json
//	kindState*      seq(20) << 38 | itemID(31) << 7 | state(7)   a state folder and its files
//	kindMaildir     seq(20) << 38 | folderID(31) << 7 | sub(7)   accounts/A/Maildir/ and below (maildir.go)
//	kindConfig*     unix seconds(34) << 24 | file(24)            server/config/<date>/...
//	kindCustom      unix seconds(34)                             server/customizations/<archive>
//	kindHashed      hash(58) of a name, unique within the mount  blobs/, at/, overflow
//
// Identities that do not fit their fields (an account Seq >= 2^20, an item
// id >= 2^31, a state index >= 128, a date before 1970) use kindHashed.
const (
	kindShift = 58
	kindMask  = 0x1f
)

// Node kinds (bits 58-62).
const (
	kindFixed = iota
	kindAccount
	kindFolder
	kindFolderFile
	kindDeleted
	kindItem
	kindItemMeta
	kindStateDir
	kindStateMeta
	kindStateContent
	kindStatePartial
	kindConfigDir
	kindConfigFile
	kindCustom
	kindMaildir
	kindHashed = 31
)

// Fixed inode numbers.
const (
	inoRoot           = 1
	inoAccounts       = 2
	inoServer         = 3
	inoConfig         = 4
	inoCustomizations = 5
	inoBlobs          = 6
	inoSearch         = 7
)

// Sub-numbers of the nodes of one account (kindAccount).
const (
	subAccountDir = iota
	subAccountJSON
	subFolders
	subItems
	subDeleted
	subAt
	subChanges
)

const (
	seqBits   = 20
	idBits    = 31
	stateBits = 7
	payload   = 1<<kindShift - 1
)

func mk(kind uint64, p uint64) uint64 { return kind<<kindShift | p&payload }

// KindOf returns the kind bits of an inode number from this scheme.
func kindOf(ino uint64) uint64 { return ino >> kindShift & kindMask }

func fitsSeq(seq uint32) bool { return uint64(seq) < 1<<seqBits }
func fitsID(id int) bool      { return id >= 0 && uint64(id) < 1<<idBits }

// inoAccountNode numbers an account's fixed nodes; ok is false if seq does
// not fit.
func inoAccountNode(seq uint32, sub int) (uint64, bool) {
	if !fitsSeq(seq) {
		return 0, false
	}
	return mk(kindAccount, uint64(seq)<<8|uint64(sub)), true
}

// inoAccountItem numbers a node identified by (account, id): kind is
// kindFolder, kindFolderFile, kindDeleted, kindItem or kindItemMeta.
func inoAccountItem(kind uint64, seq uint32, id int) (uint64, bool) {
	if !fitsSeq(seq) || !fitsID(id) {
		return 0, false
	}
	return mk(kind, uint64(seq)<<idBits|uint64(id)), true
}

// inoState numbers a node of one state of an item.
func inoState(kind uint64, seq uint32, id int, state int) (uint64, bool) {
	if !fitsSeq(seq) || !fitsID(id) || state < 0 || state >= 1<<stateBits {
		return 0, false
	}
	return mk(kind, uint64(seq)<<(idBits+stateBits)|uint64(id)<<stateBits|uint64(state)), true
}

// inoServerFile numbers server/config/<date>/ (file 0 is the folder itself)
// and its files, or a customizations archive.
func inoServerFile(kind uint64, unixSec int64, file int) (uint64, bool) {
	if unixSec < 0 || unixSec >= 1<<34 || file < 0 || file >= 1<<24 {
		return 0, false
	}
	return mk(kind, uint64(unixSec)<<24|uint64(file)), true
}

// hashedInodes gives names (blob digests, at/ paths, identities that do not
// fit the scheme) inode numbers from a hash, stable across mounts. The hash
// space is 58 bits, so a collision is unlikely but possible: the table
// remembers which key (by a 64-bit fingerprint, to keep it small: about 40
// bytes per number) owns each number for the life of the mount, and a
// second key hashing to a taken number gets 0, which makes go-fuse assign
// an automatic number (>= 1<<63) instead. Collision-free, and stable except
// in that (astronomically rare) case.
type hashedInodes struct {
	mu    sync.Mutex
	owner map[uint64]uint64 // number -> fingerprint of its key (another 64 bits of the hash)
}

func (h *hashedInodes) ino(key string) uint64 {
	sum := sha256.Sum256([]byte(key))
	ino := mk(kindHashed, binary.BigEndian.Uint64(sum[:8]))
	fp := binary.BigEndian.Uint64(sum[8:16])
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.owner == nil {
		h.owner = map[uint64]uint64{}
	}
	if k, ok := h.owner[ino]; ok && k != fp {
		return 0
	}
	h.owner[ino] = fp
	return ino
}
