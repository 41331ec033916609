package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cbfs/cbfs/objstore"
)

// errListTimeout is the cause of a listing's context when ListTimeout ends
// it; errPageTimeout of a page's, when Options.Timeout does.
var (
	errListTimeout = errors.New("listing timeout")
	errPageTimeout = errors.New("page timeout")
)

// listGuard is one listing's state, shared by List (which counts the keys
// it is handed) and listBounds (which sees every page request): minio-go
// follows continuation tokens by itself, so the pages are only visible to
// the transport. A violation is recorded and the listing's context
// cancelled, which stops minio-go at once (a cancelled request is not
// retried).
type listGuard struct {
	cancel context.CancelFunc
	keys   atomic.Int64 // keys List was handed

	mu        sync.Mutex
	err       error
	pages     int
	keysSeen  int64  // keys at the previous page request
	empty     int    // page requests in a row without a new key
	done      bool   // a page was received whole
	doneToken string // the continuation token of the last page received whole
}

type guardKey struct{}

func newListGuard(cancel context.CancelFunc) *listGuard { return &listGuard{cancel: cancel} }

func withGuard(ctx context.Context, g *listGuard) context.Context {
	return context.WithValue(ctx, guardKey{}, g)
}

func guardOf(ctx context.Context) *listGuard {
	g, _ := ctx.Value(guardKey{}).(*listGuard)
	return g
}

// failed is the violation that ended the listing, or nil.
func (g *listGuard) failed() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.err
}

// fail records a violation (the first one wins) and ends the listing.
func (g *listGuard) fail(format string, args ...any) error {
	g.mu.Lock()
	if g.err == nil {
		g.err = fmt.Errorf("%w: "+format, append([]any{objstore.ErrListing}, args...)...)
	}
	err := g.err
	g.mu.Unlock()
	g.cancel()
	return err
}

// page checks a page request carrying continuation token (empty for the
// first page).
func (g *listGuard) page(token string) error {
	g.mu.Lock()
	if g.err != nil {
		g.mu.Unlock()
		return g.err
	}
	if g.done && token == g.doneToken {
		g.mu.Unlock()
		return g.fail("the store handed back the continuation token it was given")
	}
	if g.pages > 0 {
		if k := g.keys.Load(); k == g.keysSeen {
			g.empty++
		} else {
			g.empty, g.keysSeen = 0, k
		}
	}
	g.pages++
	empty := g.empty
	g.mu.Unlock()
	if empty > maxEmptyPages {
		return g.fail("%d pages in a row without a key", empty)
	}
	return nil
}

// received notes that the page requested with token arrived whole.
func (g *listGuard) received(token string) {
	g.mu.Lock()
	g.done, g.doneToken = true, token
	g.mu.Unlock()
}

// listBounds is the transport's wrapper for listing requests (GET with
// list-type=): each page is checked by its listing's guard, must arrive
// whole within timeout, and may hold at most maxListPage bytes. Other
// requests pass through untouched (object bodies are bounded by their
// readers; minio-go reads at most 1 MiB of an error body).
type listBounds struct {
	next    http.RoundTripper
	timeout time.Duration
}

func (t *listBounds) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodGet || !strings.Contains(req.URL.RawQuery, "list-type=") {
		return t.next.RoundTrip(req)
	}
	g := guardOf(req.Context())
	token := req.URL.Query().Get("continuation-token")
	if g != nil {
		if err := g.page(token); err != nil {
			return nil, err
		}
	}
	ctx, cancel := context.WithTimeoutCause(req.Context(), t.timeout, errPageTimeout)
	resp, err := t.next.RoundTrip(req.WithContext(ctx))
	if err != nil {
		cancel()
		return nil, err
	}
	resp.Body = &pageBody{rc: resp.Body, left: maxListPage, ctx: ctx, cancel: cancel, timeout: t.timeout,
		g: g, token: token, ok: resp.StatusCode == http.StatusOK}
	return resp, nil
}

// pageBody is one listing page's body, bounded in bytes and time.
type pageBody struct {
	rc      io.ReadCloser
	left    int64
	ctx     context.Context
	cancel  context.CancelFunc
	timeout time.Duration
	g       *listGuard
	token   string
	ok      bool // a 200 answer (an error body is no page)
	eof     bool
	err     error
}

func (p *pageBody) Read(b []byte) (int, error) {
	if p.err != nil {
		return 0, p.err
	}
	if p.left <= 0 {
		p.err = p.violation("a page of more than %d bytes", maxListPage)
		return 0, p.err
	}
	if int64(len(b)) > p.left {
		b = b[:p.left]
	}
	n, err := p.rc.Read(b)
	p.left -= int64(n)
	switch {
	case err == io.EOF:
		p.eof = true
	case err != nil && context.Cause(p.ctx) == errPageTimeout:
		err = p.violation("a page not received whole within %s", p.timeout)
		p.err = err
	}
	return n, err
}

func (p *pageBody) violation(format string, args ...any) error {
	if p.g != nil {
		return p.g.fail(format, args...)
	}
	return fmt.Errorf("%w: "+format, append([]any{objstore.ErrListing}, args...)...)
}

func (p *pageBody) Close() error {
	err := p.rc.Close()
	if p.eof && p.err == nil && p.ok && p.g != nil {
		p.g.received(p.token)
	}
	p.cancel()
	return err
}
