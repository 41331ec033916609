// Package restore holds cbfs's restores — doExternalRestore
// (ExternalRestore), doRestoreOnNewAccount (RestoreOnNewAccount,
// RestoreDeletedAccount), doUndelete (Undelete) and doItemRestore
// (ItemRestore) — from a Backup Path into a mail target, with an idempotent
// restore ledger and Carbonio's report.
//
// # Targets
//
// ParseTarget reads maildir:/path (Maildir, one Maildir++ tree per account)
// and imap://admin:password@host:port (IMAPTarget, any IMAP server through
// a master login). Both keep the message bytes exactly as backed up (the
// decompressed, digest-verified blob), the folder, the flags and tags and
// the internal date; their docs give the details. Only messages and chats
// are restored: contacts, appointments, tasks and documents are counted in
// the report (Report.Other), not restored. Nothing is ever deleted on a
// target, and nothing is written into the source Backup Path (which may be
// read-only media).
//
// # Idempotence and crash safety
//
// The Ledger (a buntdb file in the caller's state folder) records each item
// state restored: source server id, target, destination account, source
// account, item id and blob digest. An item is recorded only after the
// target confirmed it (Maildir: after the rename into cur/ and an fsync of
// the folder; IMAP: after the APPEND's tagged OK, with the APPENDUID of
// UIDPLUS when offered). A second run skips what the ledger holds (counted
// as Skipped).
//
// A run killed between the target's confirmation and the ledger record
// leaves a message the ledger does not know; the next run finds it instead
// of restoring it twice:
//
//   - Maildir: files are named after Message.Unique, a hash of (source
//     server, account, item, digest); a file with that name already in the
//     folder's cur/ or new/ is recorded and skipped.
//   - IMAP: message bytes are never changed (no marker header). In a folder
//     that already held messages when the run first used it, an item the
//     ledger lacks is first searched for by Message-ID, size and date; a
//     hit whose RFC822.SIZE, INTERNALDATE (to the second) and bytes match,
//     and which the ledger does not give to another item, is recorded and
//     skipped (see IMAPTarget).
//
// # Unrestorable items
//
// Classified as Carbonio does: ClassReadError (the item file or blob cannot
// be read), ClassBroken (readable but corrupt: malformed item JSON, bad
// gzip, digest mismatch, more content than the state records, a message
// state without a blob) and ClassInvalid (sound, but refused: an IMAP NO,
// a Maildir folder that cannot be made or written into, larger than
// MaxFileSize). A blob is read whole, never past its state's recorded size
// nor MaxFileSize (blob.Limit), so a gzip bomb costs no more memory than an
// honest message. One bad item or folder never stops its account. A target
// that goes away (IMAP: connection refused or closed, timeout, write error;
// Maildir: a failed syncfs) stops the operation with an error; the report
// then says where it stopped, and a rerun resumes.
//
// # Folders
//
// Folder paths come from the folder items' states (index.FolderTree's rules,
// so they match the mounted tree): the tree at the restored moment, folders
// that only deleted or later states know named by their last live state,
// and unknown folders as "unknown_<id>" (Carbonio's undelete naming).
// Folder 2 is the target's INBOX.
package restore
