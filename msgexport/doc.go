// Package msgexport implements doExportMessages (issue #23, "hand it
// over"): the messages of a Backup Path, chosen by a search, a folder or
// an account and taken as they were at one moment, written as files any
// mail program reads, with a SHA-256 manifest and a report of what was
// left out and why. For eDiscovery, and for users without IMAP.
//
// # Selection
//
// Run takes either Selected (a search's hits: an account id, an item id
// and the start of the state the search found; operations runs the
// query, as for doItemRestore query) or accounts, optionally one folder
// of one account. A folder is named by its path in the account's folder
// tree at At ("Inbox/Projects", matched without regard to case), and its
// subfolders come with it unless NoSubfolders: an administrator who hands
// over "Inbox" means what the user sees under it.
//
// Which state of an item is exported is the model's one rule
// (mailbox.Item.IndexAt): the state in force at At (the zero time: the
// latest). An item deleted then is left out, or with Deleted exported in
// its last live state before the deletion (the restores' rule). A search
// hit is exported in the state the search found (a deleted state: its
// last live state), whatever At and Deleted say: the query is the
// selection. Only messages and chats (MIME content) are exported.
//
// # Output
//
//   - FormatMbox: one mboxrd file per folder, <account>/<folder path>.mbox
//     (Inbox.mbox, Inbox/Projects.mbox), messages oldest first. Each message
//     is preceded by "From <sender> <date>" (the Return-Path or From
//     address, else MAILER-DAEMON; the internal date in UTC, asctime form),
//     has its CRLF line ends turned into LF (Unix mbox, as Dovecot and
//     Thunderbird write it; a lone CR is kept), every line matching
//     ^>*From  quoted with one more ">" (mboxrd: reversible, unlike mboxo),
//     and is followed by an empty line. Thunderbird (ImportExportTools NG),
//     mutt and `doveadm import mbox:...` read it.
//   - FormatEML: <account>/<folder path>/<item id>.eml, each the message's
//     bytes exactly (the decompressed, digest-verified blob: the bytes of
//     the mount's items/<id>/<state>/message.eml), its modification time the
//     internal date.
//
// Names: the account's name and the folder tree's names (mailbox.FolderTree:
// unique among siblings), each made a safe file name (control characters
// and a leading "." become "_", at most 200 bytes); an item whose folder is
// unknown goes to unknown_<folder id>.
//
// At the top: MANIFEST.sha256 (`sha256sum -c MANIFEST.sha256` run in the
// export verifies every file, coreutils' format: "<hex>  <path>", a line
// starting with "\" where the path holds a backslash), REPORT.txt and
// report.json (the Result: what was exported and every message left out,
// with its class: missing, broken (digest mismatch, truncated, a bomb
// inflating past its recorded size), unreadable, too large (MaxFileSize),
// and the item files that could not be read).
//
// # Safety
//
// Blobs are read whole through blob.Store.ReadLimit, never past the size
// the state records nor MaxFileSize. The destination is checked and held
// as doExport's (export.OpenDest: missing or empty, outside the Backup
// Path, no link at its name) and every file and folder is written beneath
// it without following a link (atomicfile.Options with Root and Dir), as
// the destination's owner. A stopped or failed export leaves no manifest:
// remove it and run again (a non-empty destination is refused, never
// merged into).
package msgexport
