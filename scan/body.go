package scan

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"

	"github.com/cbfs/cbfs/blob"
)

// body is the content of a message too big to hold in memory: Fetch
// passes it in Message.body, with content nil, for fn to read once. It
// yields exactly size bytes, what the source measured before reading: a
// source that holds more or fewer fails the read (the file changed while
// read). err keeps the source's own read error, to tell it from one of
// the blob store the content is copied into.
type body struct {
	r    io.Reader
	size int64
	name string // for errors
	n    int64
	err  error
}

func (b *body) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if rest := b.size - b.n + 1; int64(len(p)) > rest {
		p = p[:rest] // one more than promised is enough to see it grew
	}
	n, err := b.r.Read(p)
	b.n += int64(n)
	switch {
	case b.n > b.size:
		b.err = fmt.Errorf("%s: %w", b.name, errGrew)
		return n - 1, b.err
	case err == io.EOF && b.n < b.size:
		b.err = fmt.Errorf("%s: %w", b.name, errShrank)
	case err != nil && err != io.EOF:
		b.err = fmt.Errorf("%s: %w", b.name, err)
	}
	if b.err != nil {
		return n, b.err
	}
	return n, err
}

// fetched counts a message read.
func (a *acctScan) fetched(size int64) {
	a.r.prog.Messages++
	a.r.prog.Bytes += size
	a.rep.Bytes += size
}

// stored is a streamed message once in the blob store.
type stored struct {
	d    blob.Digest
	size int64
	sum  summary
}

// headBuf keeps the first summaryHead bytes written to it.
type headBuf struct{ b []byte }

func (h *headBuf) Write(p []byte) (int, error) {
	if room := summaryHead - len(h.b); room > 0 {
		h.b = append(h.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

// streamed is what messages does with a fetched message (see there), for
// one too big to hold in memory (Message.body): its content is never in
// memory whole. A new message is stored as it is read (putBody: one
// pass). A re-read one, or one that may be a vanished message moved here,
// is hashed first: content the store holds already (unchanged, or moved)
// is then not compressed again, as its in-memory twin is only hashed;
// other content is read a second time to be stored. A read error of the
// source is the message's (readError), a write error stops the account.
func (a *acctScan) streamed(c *cur, m *Message, reread, anyVanished bool,
	movedHere func(blob.Digest, int64) *MessageEntry, readError func(*cur, *Message, error) error) (err error) {
	b := m.body
	defer func() {
		if se := (*sourceError)(nil); errors.As(err, &se) {
			err = readError(c, m, se.err)
		} else if err == nil {
			a.fetched(b.size)
			a.r.progress()
		}
	}()
	var e *MessageEntry
	if reread {
		e = a.st.byKey[m.Key]
	}
	if e != nil || anyVanished {
		d, err := hashBody(b)
		if err != nil {
			return err
		}
		if e != nil && d == e.Digest {
			// Unchanged content (a deep scan, or a ",S=" claim that is
			// not the size): repaired if need be, and a new state only
			// for what changed.
			if err := a.ensureStored(b, d, a.r.opt.Deep); err != nil {
				return err
			}
			return a.restateIfChanged(e, c, m)
		}
		if e == nil {
			if v := movedHere(d, b.size); v != nil {
				if err := a.ensureStored(b, d, false); err != nil { // normally there already
					return err
				}
				return a.restate(v, c, m, v.Digest, v.Size, nil)
			}
		}
		if b, err = b.again(); err != nil {
			return &sourceError{err}
		}
	}
	st, err := a.putBody(b)
	if err != nil {
		return err
	}
	if e != nil {
		return a.restate(e, c, m, st.d, st.size, &st.sum)
	}
	return a.addItem(c, m, st.d, st.size, st.sum)
}

// sourceError marks a failure to read the source: a read error of the
// message, where any other error stops the account.
type sourceError struct{ err error }

func (e *sourceError) Error() string { return e.err.Error() }
func (e *sourceError) Unwrap() error { return e.err }

// hashBody reads b through and returns its digest.
func hashBody(b *body) (blob.Digest, error) {
	h := sha256.New()
	if _, err := io.Copy(h, b); err != nil {
		return "", &sourceError{err}
	}
	return blob.FromHash(h.Sum(nil)), nil
}

// putBody stores a streamed message as it reads it (blob.PutReader: hashed
// and compressed into a temporary file, renamed to its digest's name): its
// content is never held in memory. A read error of the source comes back
// as a *sourceError; one of the store, as a *writeError.
func (a *acctScan) putBody(b *body) (*stored, error) {
	var head headBuf
	d, size, created, err := a.store.PutReader(io.TeeReader(b, &head))
	if b.err != nil {
		return nil, &sourceError{b.err}
	}
	if err != nil {
		return nil, &writeError{err}
	}
	if created {
		a.rep.BlobsNew++
		a.rep.Written++
	}
	return &stored{d: d, size: size, sum: summarize(head.b)}, nil
}

// ensureStored makes sure blob d, the content of b (already read once),
// is in the store: written from b (read again) when it is missing or,
// with verify (a deep scan), when it does not verify either. A source
// that cannot be read again, or changed meanwhile, is a *sourceError; the
// store's failure, a *writeError.
func (a *acctScan) ensureStored(b *body, d blob.Digest, verify bool) error {
	var bad error
	if verify {
		bad = a.store.CheckLimit(d, blob.Limit{Size: b.size})
	} else if _, err := a.store.Stat(d); errors.Is(err, blob.ErrMissing) {
		bad = err
	}
	if bad == nil {
		return nil
	}
	again, err := b.again()
	if err != nil {
		return &sourceError{err}
	}
	if err := a.store.ReplaceReader(d, again); err != nil {
		if again.err != nil {
			return &sourceError{again.err}
		}
		if errors.Is(err, blob.ErrChanged) {
			return &sourceError{fmt.Errorf("%s: %w", b.name, err)}
		}
		return &writeError{err}
	}
	a.rep.BlobsNew++
	a.rep.Written++
	return nil
}

// again is the body from its start once more (for a second pass).
func (b *body) again() (*body, error) {
	s, ok := b.r.(io.Seeker)
	if !ok {
		return nil, fmt.Errorf("%s: cannot be read again", b.name)
	}
	if _, err := s.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("%s: %w", b.name, err)
	}
	return &body{r: b.r, size: b.size, name: b.name}, nil
}
