// Package scan backs a live mail source up into a Backup Path, the way
// Carbonio's SmartScan does: incrementally, in Carbonio's layout, never
// overwriting a state.
//
// # Sources
//
// ParseSource takes "maildir:/path" (a tree of Maildir++ accounts, see
// Maildir) or "imap://admin:pass@host:port" (a master login, see IMAP).
//
// # What a scan writes
//
// For each account (account_info is created on first sight, with a new
// UUID; an account of the same name already in the path is reused):
//
//   - a new message: its blob (items/, deduplicated across accounts) and
//     then its item file with one state;
//   - a message whose flags, tags or folder changed: a new state of the same
//     item. A message that disappears from one folder while the same message
//     appears in another (same Maildir base name; on IMAP, same Message-ID
//     and size; else the same content) is a move, not a delete and a new item;
//   - a message gone from the source: a deleted state (the last folder and
//     blob are kept in it);
//   - folders are items of type 1 (name, parentId); a renamed or moved
//     folder gets a new state of the same item (found by its stable key: the
//     Dovecot mailbox GUID or IMAP UIDVALIDITY, or by the messages it holds).
//     System folders use Zimbra's ids (Inbox 2, Trash 3, Junk 4, Sent 5,
//     Drafts 6) and get no item;
//   - account_stat (lastItemId, lastScanDate, itemCount, blobBytes) and
//     backupstat's lastScanDate, when anything was written;
//   - once per UTC day: a server configuration backup and, with
//     Options.ConfigPaths, a customizations archive of those paths.
//
// Item ids are allocated above the highest of account_stat's lastItemId,
// the scan state's, every item file's id, and 256.
//
// A scan of an unchanged source writes no file at all, and reads no
// message: per folder it compares a change token (Maildir: mtimes of cur/
// and new/; IMAP: UIDVALIDITY, UIDNEXT, MESSAGES, HIGHESTMODSEQ) with the
// last scan's, and lists only the folders that differ (names and flags,
// never content). Only messages it has not seen are read.
//
// # The scan state: accounts/<id>/cbfs_scan_state   [cbfs]
//
// One JSON object, written atomically after each account (and every
// Options.CheckpointEvery written items, or every quarter of the state's
// size if that is more), one folder or message per line:
//
//	{"version":1,"source":"maildir:/srv/mail","account":"alice@example.com","savedDate":1714554000000,"lastItemId":260,
//	"folders":[
//	{"id":2,"key":"g5c1...","path":"INBOX","name":"INBOX","parentId":1,"token":"1x2.1x3.-"},
//	{"id":257,"path":"Work","name":"Work","parentId":1,"token":"..."}],
//	"messages":[
//	{"key":"1714553998.M1P2.host,S=157","id":258,"folderId":2,"flags":"u","size":157,"digest":"nky4...","messageId":"<q2@example.com>"}]}
//
// folders: the folder item id (system ids included), the source's stable
// key (if any), the source path, the item's name and parent, and the change
// token of the last complete listing ("" = list again). messages: the
// source key (Maildir base name; IMAP "v<UIDVALIDITY>:<UID>"), the item id,
// and what the item's latest state says (folder, flags, tags, size, digest)
// plus the Message-ID for move matching.
//
// The file is an optimisation, never the truth. Every state cbfs writes
// carries the source key as the extra key "cbfsSource" (folders:
// "folder:<key or path>", plus "cbfsSourcePath"), so the file can be
// rebuilt from the item files: when it is missing or malformed, all item
// files are read back; otherwise item files with an id above its
// lastItemId or modified after its savedDate (less one second) are. A scan
// killed at any moment therefore leaves a valid Backup Path (blob first,
// then item file, then scan state, each atomic), and the next scan
// completes it without duplicating an item.
package scan
