// Package index keeps a buntdb index of one Backup Path: accounts (by name
// and id), items with every state, folders, so that listing a folder or an
// item's history never walks the disk. It is built on first use, refreshed
// incrementally (only changed files are re-read), persisted to a file
// outside the Backup Path, rebuildable at any time, and schema-versioned.
//
// # Storage
//
// An index is a root file and a folder of shards beside it
// (<index>.d/<seq>.db), each a buntdb database persisted as its
// append-only log (":memory:" keeps everything in RAM). The root holds the
// schema version, the Backup Path root and the account records (by Seq, id
// and name); a shard holds one account's items, folder lists, deleted and
// folder-item keys, change days and bucket folder times. Keys follow the
// templates in keys.go, fixed prefix first, so one account's items or its
// deleted items are a contiguous key range read by a prefix scan; a
// folder's live items are one packed id list, one key per folder (buntdb
// replays every key into RAM when a shard is loaded: fewer keys, faster
// loads). Accounts are numbered by a small Seq, handed out when an account
// is first seen and kept for the life of the index (a Rebuild hands them
// out again in account-id order, so rebuilding the same Backup Path gives
// the same numbers). Item records are a compact binary encoding
// (encode.go) to keep RAM per item small. Open migrates an older schema
// along the migration chain, and empties an index of an unknown version
// (versions 1 and 2 kept every item in the root) or of another Backup
// Path, which the next refresh then builds from scratch.
//
// # Lazy, per account
//
// Why shards: a Backup Path of tens of millions of items cannot be read
// before the first listing (minutes to hours), nor held in RAM (about 250
// bytes an item). RefreshAccounts reads account_info files only, so a
// never-seen path is mountable at once; an account's shard is loaded, and
// refreshed if the account list was refreshed since (the generation), by
// the first read method that needs it: the caller waits for that account
// only, whose item files are read by Options.Workers readers (reading item
// files cold is bound by the disk's queue depth: 16 readers, not 2).
// IndexAll indexes the others in the background, yielding to on-demand
// refreshes. Loaded shards are closed, least recently used first, when
// they hold more than Options.MaxLoadedItems items and nobody reads them,
// so RAM is bounded by what is in use, not by the path's size. Refresh is
// the eager form (every account now), Rebuild starts from scratch. Status
// says, without waiting, whether an account is indexed, being indexed or
// waiting.
//
// Measured choices (docs/PERFORMANCE.md): one buntdb file per account
// rather than one shared on-disk B-tree: loading a 100,000-item shard
// takes a fraction of a second, an account's keys stay contiguous, and
// the code that builds and reads items is the one that was measured.

// # What a refresh re-reads
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
// transactions and never see half an item. A shard is refreshed under its
// own lock, in batches of a few thousand items; readers of that account
// wait for it, readers of others do not. A reader holds a reference to
// its shard, so eviction never closes a shard in use. The account list's
// refreshes, Rebuild and Close are serialised. Open takes an exclusive
// flock on "<dbPath>.lock": a second Open of the same index, in this
// process or another, fails with ErrLocked.
package index
