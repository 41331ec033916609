package scan

import (
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

// stored is a streamed message once in the blob store.
type stored struct {
	d       blob.Digest
	size    int64
	created bool // the blob was not there before
	sum     summary
}

// headBuf keeps the first summaryHead bytes written to it.
type headBuf struct{ b []byte }

func (h *headBuf) Write(p []byte) (int, error) {
	if room := summaryHead - len(h.b); room > 0 {
		h.b = append(h.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

// putBody stores a streamed message as it reads it (blob.PutReader: hashed
// and compressed into a temporary file, renamed to its digest's name): its
// content is never held in memory. A read error of the source comes back
// as it is (a read error of that message); one of the store, as a
// *writeError.
func (a *acctScan) putBody(b *body) (*stored, error) {
	var head headBuf
	d, size, created, err := a.store.PutReader(io.TeeReader(b, &head))
	if b.err != nil {
		return nil, b.err
	}
	if err != nil {
		return nil, &writeError{err}
	}
	if created {
		a.rep.BlobsNew++
		a.rep.Written++
	}
	return &stored{d: d, size: size, created: created, sum: summarize(head.b)}, nil
}

// again is the body from its start once more (for a repair after it was
// read once).
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

// storedMessage is what messages does with a fetched message, for a
// streamed one already in the store (st): a re-read (deep, or a size
// changed), a move found by content, or a new message.
func (a *acctScan) storedMessage(c *cur, m *Message, st *stored, reread bool,
	movedHere func(blob.Digest, int64) *MessageEntry, readError func(*cur, *Message, error) error) error {
	if e := a.st.byKey[m.Key]; e != nil && reread {
		if st.d == e.Digest { // unchanged content (see messages)
			if a.r.opt.Deep {
				if err := a.repairStored(e, st, m.body); err != nil {
					if we := (*writeError)(nil); errors.As(err, &we) {
						return err
					}
					return readError(c, m, err)
				}
			}
			return a.restateIfChanged(e, c, m)
		}
		return a.restate(e, c, m, st.d, st.size, &st.sum)
	}
	if e := movedHere(st.d, st.size); e != nil {
		return a.restate(e, c, m, e.Digest, e.Size, nil)
	}
	return a.addItem(c, m, st.d, st.size, st.sum)
}

// repairStored is deepCheck's repair for a streamed message whose content
// did not change: a blob PutReader had to write was missing and is now
// there; an existing one is checked (streamed), and written again from
// the source (read a second time) when it does not verify. A source that
// cannot be read again, or changed meanwhile, is a read error; the
// store's failure, a *writeError.
func (a *acctScan) repairStored(e *MessageEntry, st *stored, b *body) error {
	if st.created || a.store.CheckLimit(e.Digest, blob.Limit{Size: st.size}) == nil {
		return nil
	}
	again, err := b.again()
	if err != nil {
		return err
	}
	if err := a.store.ReplaceReader(e.Digest, again); err != nil {
		if again.err != nil {
			return again.err
		}
		if errors.Is(err, blob.ErrChanged) {
			return fmt.Errorf("%s: %w", b.name, err)
		}
		return &writeError{err}
	}
	a.rep.BlobsNew++
	a.rep.Written++
	return nil
}
