// Package fusefs is the read-only FUSE tree of an indexed Backup Path (go-fuse
// v2, fs package), as ../shared/SPEC.md "The mounted tree" describes:
//
//	accounts/<name>/account.json
//	accounts/<name>/folders/<folder path>/<itemId>.eml   latest live state
//	accounts/<name>/items/<itemId>/meta.json              whole history
//	accounts/<name>/items/<itemId>/<start>/{meta.json, message.eml, message.partial.eml}
//	accounts/<name>/deleted/<itemId>.eml
//	accounts/<name>/at/<date or date-time>/<folder path>/<itemId>.eml
//	accounts/<name>/changes/<YYYY-MM-DD>/{changes.txt, changes.json, added/, deleted/, moved/, reflagged/}
//	accounts/<name>/Maildir/{cur,new,tmp}, .<Folder>/...   a Maildir++ view for a stock Dovecot (also at/<date>/Maildir)
//	server/config/<date>/{config.json, <section>.json}
//	server/customizations/<archive>.tar.gz
//	blobs/<digest>.eml
//
// It is a thin adapter: the accounts' listings and attributes come from the
// index (index.Index), every content byte and every blob's health from the
// blob store through its cache (blob.Cache: whole reads kept, streams,
// read-ahead, health checked once), which the mount only calls.
// Three parts read the Backup Path instead: blobs/ lists the blob area
// itself (blob.Store.Walk), so it works where the metadata cannot be read;
// server/ lists and serves the server files (backuppath.Path.ServerFiles);
// account.json and meta.json re-read account_info and the item file, to
// show every key. Nothing is ever written, neither to the Backup Path nor
// through the mount: every write, create, mkdir, rename, unlink, setattr and
// setxattr answers EROFS, and the mount itself is read-only in the kernel.
//
// # Where things are
//
// One file per node kind, as the tree above reads: root.go (/),
// accounts.go (accounts/, accounts/<name>/), folders.go (folders/ and
// at/<moment>/, which share one folder node, and at/), changes.go
// (changes/ and below), items.go (items/,
// items/<id>/, the state folders), deleted.go, server.go (server/ and all
// below it), blobs.go, maildir.go (the Maildir++ view, whose message files
// are the folders/ nodes themselves). readahead.go gives a folder's files,
// in listing order, to the blob cache's read-ahead. The files: files.go (rendered JSON, a Backup Path
// file as it is), blobfile.go (a blob's content, read whole or streamed),
// partial.go (the salvaged part of a broken blob). fs.go holds FS, its
// options, and the node every type embeds; names.go the naming
// rules and the folder tree; meta.go the JSON renderers; inode.go the
// inode numbers.
//
// # Static and dynamic folders
//
// The root, server/, each account folder and each server/config/<date>/
// are small and fixed: their children are built once in OnAdd as persistent
// inodes (a refresh builds the root's anew, and releases the old ones).
// Everything that can be large (accounts/, folders with 100k messages,
// items/, deleted/, at/, blobs/) is served by Lookup and a listing
// computed at opendir, from the index (blobs/: from the blob area); those
// nodes are forgotten when the kernel forgets them.
//
// # Kernel caching
//
// The tree changes only when the mount is refreshed (refresh.go: the
// index is re-read, the root's folders replaced by nodes of a new
// generation and the kernel told to drop its entries for the old ones;
// blobs are immutable), so caching is long and explicit: entry, attribute and negative-entry timeouts are
// Options.Timeout (1 hour by default); every file is opened with
// FOPEN_KEEP_CACHE, so its pages survive close and reopen; every folder is
// opened with FOPEN_CACHE_DIR, so the kernel keeps listings too (the
// mount's own copies of listed folders' files are kept within
// Options.ListingFiles, least recently used dropped: listings.go). Files
// whose size is a guess (blobs/, or an index that did not know the size)
// are opened with FOPEN_DIRECT_IO instead, so a wrong st_size never cuts or
// pads their content.
//
// # Sizes are promises
//
// A file whose state records its size is never served past it as if
// healthy: every read is held to the recorded size (blob.Limit), so a blob
// that inflates further (a gzip bomb, or a state that lies) is broken, fails
// read with EIO after inflating at most that size plus a small margin, and
// says "size mismatch" in user.cbfs.status; its message.partial.eml holds at
// most the recorded size (and never more than blob.SalvageMax). A file whose
// size is only the gzip trailer's guess is read whole only up to
// Options.SmallBlob, and streamed otherwise, with bounded buffers.
//
// READDIRPLUS is left on (the default), as measured on a folder of 100,000
// messages (2 cores, busy machine, ls -l, `cbfs mount --no-readdirplus`
// for the other case): with it, cold 2.3 s, warm 2.5-3.9 s; without it,
// cold 22.8 s (one LOOKUP round trip per entry), warm 2.5-3.5 s. In its
// AUTO form: the kernel keeps asking for attributes with the names only
// while the lister stats the entries (ls -l, cp -r, find -size), so a
// plain ls of that folder makes no 100,000 file nodes (each ~0.5-1 KiB,
// kept while the kernel remembers the entry): 2.1 s instead of 6.4 s and
// ~100 MiB less (in-process, busy machine). A file node keeps only the few
// facts its attributes need (fileAttrs), and a listed file one copy of
// its state. A folder
// holding a big share of its account's items is listed by one scan of the
// account's items (0.8 s for 100k) rather than one index lookup per item
// (3.7-5.2 s).
//
// # What is cached in the process
//
//   - In the blob cache (blob.Cache, one per mount): decompressed,
//     verified small blobs (<= Options.SmallBlob, 1 MiB), in an LRU bounded
//     by Options.CacheBytes (16 MiB), also salvaged parts; each checked
//     blob's health (sound, broken, unreadable), in a map bounded to 65536
//     entries (dropped whole when full). Blobs are immutable, so these
//     answers never go stale. The mount holds no cache of content itself.
//   - Listings computed at opendir, kept by the folder node until the kernel
//     forgets it or a refresh replaces it: a latest-folder's item list, an
//     at/ moment's whole view (one scan of the account's items), the
//     account list, server/.
//
// # Inode numbers
//
// Inode numbers come from index identities, never from path hashes, with a
// collision-free layout (inode.go): 5 bits of node kind, then the account's
// index.Account.Seq, the item id (or folder id) and the state index in
// fixed fields. They are the same on every mount of the same index. Names
// with no small identity (blob digests, at/ moments chosen by the user, and
// the rare identity too large for its field) get a 58-bit hash in a kind
// of its own; a table remembers every hashed number handed out, and a
// second name hashing to a taken number gets an automatic go-fuse number
// (>= 1<<63, a range the scheme never uses) instead: collision-free always,
// stable across mounts except in that case.
//
// # What must never block
//
//   - getxattr of a name outside user.* answers EOPNOTSUPP at once, other
//     user.* names ENODATA. ls -l asks for two per file (ACL and security
//     label); GNU ls remembers EOPNOTSUPP per device and stops asking, which
//     took a warm ls -l of 100k files from 18-23 s (200,000 round trips) to
//     2.5-3.9 s. user.cbfs.status is the one attribute that may decompress
//     a blob (once; then it is remembered); a failing file's
//     user.cbfs.healthy_state checks its earlier states' blobs the same way.
//   - stat and ls -l never decompress: sizes come from the index (the
//     state's Size). Listing a state folder, looking up a meta.json or
//     asking for user.cbfs.status checks one blob (needed to say whether it
//     is broken).
//   - No global lock is held during I/O: the blob cache locks only around
//     map updates. A stream handle serialises its own reads (one decoder,
//     a blob.Window);
//     different handles and small files read in parallel.
//
// # Damage
//
// A blob that is broken (bad gzip, truncated, digest mismatch) or unreadable
// is never served as healthy: a small one is read whole and verified at
// open, and read fails with EIO; a large one streams and the read that
// reaches its end fails with EIO (the stream verifies the digest before the
// last byte is returned). A broken blob's state folder also holds
// message.partial.eml when something can be salvaged (mailbox.Salvage:
// what inflated before the fault, or the whole content of a digest
// mismatch; nothing for a blob that is missing, unreadable or not gzip).
// meta.json and user.cbfs.status carry the error of a broken or unreadable
// blob or item file (a state's content as mailbox.ContentHealth, the report
// cbctl's getItem gives too); an item's status is the worst of its item file's and
// its states' (mailbox.WorseStatus). A failing content file's
// user.cbfs.healthy_state and its state's meta.json "healthyState" name the
// newest earlier state with a sound blob (mailbox's Item.HealthyBefore, the
// rule broken_fallback restores by), as items/<id>/<state>/message.eml
// relative to the account; user.cbfs.salvage and "salvage" say what the
// .partial file holds, or "none: <why>". user.cbfs.folder is the folder's
// path (as folders/ shows it; the tree of the state's moment for items/ and
// deleted/), user.cbfs.folder_id its id.
//
// # search/
//
// search/<query>/ runs the name as a query of the search index (package
// search; cbctl backup doIndexMessages builds it) and shows the hits as
// <account>/<folder path>/<id>.eml, each the very file (inode, bytes,
// attributes) of that state under items/ (searchDir, search.go).
//
// # changes/
//
// accounts/<name>/changes/ lists the account's change days (the UTC days
// at/ lists, index.ChangeDays); changes/<day>/ holds changes.txt and
// changes.json, the text and --json output of cbctl backup getChanges
// from the end of the day before to the end of the day (UTC), rendered by
// the same code (mailbox.ChangeReport), and added/, deleted/, moved/,
// reflagged/ with the files of the items changed so: the state live at
// the day's end (deleted/: at its start), the very file of that state
// under items/ (inode, bytes, attributes; changes.go). A day is computed
// once, when first opened: mailbox.Changes over the account's items in the
// index, then, since the index keeps no subjects, again with the changed
// items read from their item files, which is getChanges's result without
// reading every item file. Only that account's shard is used.
//
// # Any size
//
// The mount is ready once the accounts are listed (index.RefreshAccounts):
// an account's items are indexed when a node below it first asks the index
// (a listing of folders/, items/, deleted/, at/ or Maildir/, a lookup),
// and that caller waits for that account only; the mount's background
// indexer does the others (index.IndexAll). An account folder's
// user.cbfs.index says "indexed", "indexing" (user.cbfs.index.progress:
// item files read/to read) or "waiting", with user.cbfs.index.items and,
// after a failure, user.cbfs.index.error; reading them never waits.
package fusefs
