// Package index keeps a buntdb index of one Backup Path: accounts (by name
// and id), items with every state, folders, so that listing a folder or an
// item's history never walks the disk. It is built on first use, refreshed
// incrementally (only changed files are re-read), persisted to a file
// outside the Backup Path, rebuildable at any time, and schema-versioned.
//
// # Storage
//
// Everything lives in one buntdb database, in RAM, persisted to the file
// given to Open (its append-only log; ":memory:" for RAM only). Keys follow
// the templates in keys.go, fixed prefix first, so one account's items or
// its deleted items are a contiguous key range read by a prefix scan; a
// folder's live items are one packed id list, one key per folder (buntdb
// replays every key into RAM at open: fewer keys, faster mounts). Accounts are numbered by a small Seq, handed out
// when an account is first seen and kept for the life of the index (a
// Rebuild hands them out again in account-id order, so rebuilding the same
// Backup Path gives the same numbers). Item records are a compact binary
// encoding (encode.go) to keep RAM per item small. The database holds a
// schema version and the Backup Path root; Open migrates an older version
// along the migration chain, and empties an index of an unknown version or
// of another Backup Path, which the next Refresh then builds from scratch.
//
// # What Refresh re-reads
//
// cbfs (like Carbonio) writes every file of a Backup Path by writing a
// temporary file and renaming it into place in the same folder. A rename
// changes the folder's modification time, so a bucket folder
// accounts/<id>/items/<NN> whose mtime is the one recorded at the last
// refresh holds no new, replaced or removed file, and Refresh skips it
// without listing it. In a bucket whose mtime changed, Refresh lists the
// files and re-reads only those whose (mtime, size) differ from the indexed
// values; items whose file vanished are dropped. account_info is re-read
// when its own (mtime, size) changed. New account folders get a new Seq;
// vanished ones are removed with all their items. Times less than two
// seconds old are not trusted (file system timestamps are coarse): such a
// file or folder is looked at again by the next Refresh.
//
// The limit of this rule: a file edited in place (not renamed into place)
// that leaves its folder's mtime unchanged is not seen by Refresh. Rebuild
// reads everything.
//
// # Damaged files
//
// An item file that cannot be read or parsed is indexed with its error and
// class ("unreadable" or "broken", from blob.Class) and no state; an account
// whose account_info is bad is listed under its id, with the error, and its
// items as usual. Neither fails a Refresh.
//
// # Concurrency
//
// All methods are safe for concurrent use; reads are buntdb read
// transactions and never see half an item. Refresh writes in batches of a
// few thousand items, so a reader running during a Refresh (or a Rebuild,
// which first empties the index) sees some accounts already up to date and
// others not yet. Refresh, Rebuild and Close are serialised. Open takes an
// exclusive flock on "<dbPath>.lock": a second Open of the same index, in
// this process or another, fails with ErrLocked.
package index
