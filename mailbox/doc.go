// Package mailbox is the one model of a Backup Path's accounts, items and
// states, and every rule about them, once: the mount, cbctl, the index and
// every operation read through it, so they agree about an item.
//
// # The model
//
// An Account is one account_info: id, name, status, COS, LDAP attributes
// (Attrs) and what the decoder kept but did not map (Extra). An Item is
// one item file: an item id and its States, oldest first. A State is what
// the item was from its Start on: type (ItemType), folder, flags and tags,
// the blob's Digest and recorded Size, dates, deletion. What a state does
// not say is FORMAT.md § 7.6's to decide, not the reader's.
//
// # The tolerant decoder
//
// A Decoder (Default, or NewDecoder with a KeyMap from --keymap) reads item
// files and account_info in any dialect it meets: cbfs's own keys first,
// then each Concept's aliases (Zimbra's and Carbonio's spellings, nested
// states one or two levels down, Zimbra's metadata strings), values read
// liberally, the blob digest found by value when no known key holds it
// (checked against the Backup Path with BlobExists), delta histories. LDAP
// attributes are read flat, nested or as Zimbra's SOAP list. Whatever it
// cannot map stays in Extra, next to what it did. JSON nested deeper than
// MaxDepth is refused (CheckDepth, ErrTooDeep).
//
// A Concept is one thing a state says (its start, type, folder, digest,
// ...), whatever key spells it; a KeyMap names more keys per concept, keys
// to ignore and the state mode. A Census, when set on the decoder, counts
// every key met and how it was read, for cbctl backup getFormatInfo and
// the mount's first line.
//
// # The rules
//
//   - which account a name means: Prefer, Resolve, ListingNames (and the
//     backuppath.FindAccount built on them);
//   - the state at a moment: Item.StateAt, LiveAt, ShownAt, ShownDeleted,
//     IndexAt, LiveBefore, HealthyBefore;
//   - folder trees and names: FolderAt, LastFolderBefore, FolderTree,
//     SafeName, MaildirFolderName, EncodeMUTF7;
//   - flags: the one table between Zimbra's letters and bits, Maildir info
//     letters and IMAP flags (flags.go);
//   - which copy of a duplicated item file counts: PreferFile; item ids
//     and buckets: ParseItemID, Bucket;
//   - digests: NormalizeDigest, DigestsIn.
package mailbox
