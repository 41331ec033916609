// Package blob is the content-addressed blob area of a Backup Path: the
// files items/<d[0:2]>/<d>, each the gzip-compressed content of one
// message (or contact, appointment, ...) whose digest is d. Every other
// package reads and writes message bytes through it.
//
// # Digests
//
// A Digest names a blob by the hash of its uncompressed bytes, in Zimbra's
// "FS-safe" base64 ('/' written ','): SHA-256 (what Carbonio writes, 44
// characters), SHA-1 of old blobs (28) and SHA-384 (64) are recognised
// (ParseDigest, Sum, Digest.RelPath). The name is a claim about the
// content: every read checks it.
//
// # The Store and its readers
//
// Store (NewStore) opens a blob's file confined beneath the root
// (internal/confined: no symbolic link followed, regular files only) and
// reads it in one of these ways:
//
//   - ReadLimit: the whole content, verified, for small blobs;
//   - OpenLimit: a stream that verifies the digest before it returns the
//     last byte, for large ones;
//   - SalvageLimit: what can be recovered of a broken blob;
//   - CheckLimit and Layers: the verdict only, and whether the file is
//     gzip inside gzip (RewriteSingle fixes that, verified before the
//     rename).
//
// Read, Open, Salvage and Check are the same with the zero Limit.
//
// # Limit: sizes are claims
//
// A Limit says what the reader expects: the uncompressed size the item
// state records (Limit.Size) and the most the caller accepts (Limit.Max).
// Nothing inflates past them: content longer than the recorded size is
// broken (a gzip bomb is found in bounded memory), content longer than Max
// is ErrTooLarge; with no size recorded a whole read stops at MaxUnsized
// and a salvage at SalvageMax.
//
// # Errors
//
// A failed read is an *Error classified by errors.Is: ErrUnreadable (the
// file cannot be read; ErrMissing when it does not exist) or ErrBroken (it
// was read but is corrupt: bad gzip, truncated, digest or size mismatch),
// Carbonio's two classes of unrestorable items; ErrTooLarge is the
// reader's own cap and says nothing of the blob's health. Class names the
// class for reports.
//
// # Writes
//
// Put and PutReader compress with fixed settings (the same content always
// gives the same bytes), write atomically (a temporary name, then a
// rename) confined beneath the root, and deduplicate: a blob already there
// is not written again, nor re-verified. Replace and ReplaceReader rewrite
// a missing or damaged blob from sound content.
//
// # Remote tier
//
// A Store may have a Remote (SetRemote, NewRemote): a blob missing locally
// is fetched from an objstore.Store into a bounded LRU cache folder, then
// read like a local blob. WillNeed is a read-ahead hint: posix_fadvise for
// a local blob, a background fetch for a remote one.
//
// Files by concern: store.go (Store, opening files), digest.go, errors.go,
// pools.go (decoders and compressors, chosen by size), read.go (Limit,
// whole reads, salvage), verify.go (Check, Layers), stream.go (Open),
// write.go (Put, PutReader, RewriteSingle), replace.go, walk.go, advise.go,
// remote.go.
package blob
