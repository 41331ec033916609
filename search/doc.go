// Package search is the full-text index of a Backup Path's messages
// (issue #23) and its query language.
//
// # What is indexed
//
// Every message state of every account (item type 5): its account, folder
// (path by the model's folder tree), item id, start date, deleted, unread
// and flagged. Its content is a document, one per distinct blob (a blob is
// named by its digest and never changes, so it is parsed once however many
// states or accounts name it): From, To, Cc (names and addresses), Subject,
// Message-ID, Date, the body text (text/plain, text/html without its tags,
// script or style; one text of a multipart/alternative) decoded from its
// transfer encoding and charset (go-message with every charset of
// golang.org/x/text), and attachment names. Words are folded (case and
// accents, see Fold; full-width Latin as ASCII) on both sides.
//
// Chinese, Japanese and Korean are written without spaces between words
// (Korean with particles glued on), so a run of Han, Hiragana, Katakana
// or Hangul characters is cut, as Lucene's CJK analyzer cuts it, into
// overlapping pairs of characters (bigrams), and each character is kept
// too (unigrams): a run of n characters takes n positions, bigram and
// unigram i both at position i. A query cuts its CJK runs the same way
// and asks for their bigrams as a phrase (東京都庁: 東京 京都 都庁 at
// consecutive positions), or for the unigram of a single character: 東京
// is found inside 東京都庁で, 京 in 北京 and 東京. A word is found where
// its characters stand together, so 京都 is found inside 東京都庁 too: the
// price of not needing a dictionary. Half-width katakana are indexed as
// their full-width forms, a voicing mark (half-width or combining, as
// macOS writes file names) with its kana, and a CJK character ends a word
// of other letters (Windows版: windows, 版).
//
// An attached message (a message/rfc822 or message/global part: "forward
// as attachment", a bounce, a digest), and one attached to it in turn, is
// part of its document: the names and addresses of its From, To and Cc
// and its Subject are words of the attachment field (attachment: finds a
// forwarded message by its sender or subject as it finds a file by its
// name), its body text is body text and its attachments' names are
// attachment names. from:, to:, cc: and subject: stay the words of the
// message that was backed up, who sent it and to whom; free text finds
// both.
//
// # Bounds
//
// A blob is foreign input. It is streamed through the blob store's
// verifying reader within the size its state records (blob.Limit), and
// at most MaxRead decompressed bytes of it are read, MaxText bytes of body
// text and MaxHTML bytes of one HTML part kept, MaxParts parts and
// MaxDepth levels walked (an attached message is one level, and its
// parts count in MaxParts with the rest): a gzip bomb, a chain of
// messages attached to each other or a 50 MB HTML body costs those bounds
// and is flagged truncated; an unreadable or broken blob keeps
// what came before the fault, is flagged broken and is read again by the
// next build.
//
// # Building
//
// Options.Workers goroutines (GOMAXPROCS by default) each read and parse
// the next blob as soon as they are done with one; one goroutine adds
// their documents' postings in the blobs' digest order beside them (so
// postings stay sorted by document), with at most 8 x Workers parsed
// messages waiting for it. A worker numbers the terms it meets in its own
// dictionary (at most 1M terms, then it starts again), so that a word of
// a message costs one map lookup and no allocation.
//
// # The file
//
// One file outside the Backup Path (cbctl keeps it beside the mount's
// index: <cache>/<name>-<hash>.search), replaced atomically by each build
// and mapped read-only by searches: a term is found by binary search in a
// sorted table, its postings (document, frequency, positions; uvarint
// deltas) read in place, so a query costs what its terms' postings and the
// state table cost, not the index's size. docs/FORMAT.md § 18 gives the
// layout. A build reuses the documents of the file there is (only new
// blobs are read), drops those no state names any more, and is
// rebuildable from the Backup Path alone (Options.Rebuild).
//
// # Why not bleve
//
// bleve v2.6.3 indexed plain Go structs of e-mail-sized text at 1,300 to
// 1,400 documents/s on this project's 2-core machine before any MIME
// parsing or decompression, and its index took 2.7 to 3.2 times the text;
// issue #23 asks for 2,000 messages/s. docs/PERFORMANCE.md has the
// measurement and this package's figures.
package search
