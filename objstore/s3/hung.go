package s3

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/cbfs/cbfs/objstore"
)

// A store that stops answering (a frozen server, a dropped network) must
// neither hang a reader nor fail it silently: every attempt that fails is
// logged at WARN (warnTransport), and a request's wait for an answer,
// retries included, ends after Options.Timeout × Options.Retries
// (bounded), with an error that says so (errNoAnswer).

// errNoAnswer is the cause of a request's context when the store gave no
// answer within Timeout × Retries.
var errNoAnswer = objstore.ErrUnreachable

// warnTransport logs each failed attempt (minio-go retries it).
type warnTransport struct {
	next http.RoundTripper
	warn func(msg string, args ...any)
}

func (t *warnTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err != nil && req.Context().Err() == nil {
		t.warn("S3 request failed; retrying while attempts are left", "method", req.Method, "host", req.URL.Host, "path", req.URL.Path, "err", err)
	}
	return resp, err
}

// defaultWarn is slog's default logger at WARN: a mount's stderr (its
// --log-file), the service's log.
func defaultWarn(msg string, args ...any) { slog.Default().Warn(msg, args...) }

// answerBound returns a context for one request whose answer (its
// headers, after retries) must come within b.opt.Timeout × b.opt.Retries,
// and answered, to call once the answer came (the body may then take its
// time: the caller bounds it). cancel releases it.
func (b *Bucket) answerBound(ctx context.Context) (ctx2 context.Context, answered func(), cancel func()) {
	ctx2, c := context.WithCancelCause(ctx)
	limit := b.opt.Timeout * time.Duration(b.opt.Retries)
	timer := time.AfterFunc(limit, func() { c(errNoAnswer) })
	return ctx2, func() { timer.Stop() }, func() { timer.Stop(); c(nil) }
}

// noAnswer rewrites err when ctx ended for errNoAnswer.
func (b *Bucket) noAnswer(ctx context.Context, name string, err error) error {
	if err == nil || context.Cause(ctx) != errNoAnswer {
		return err
	}
	where := b.url
	if name != "" {
		where = strings.TrimSuffix(b.url, "/") + "/" + name
	}
	return fmt.Errorf("%s: %w within %s (%d attempts of %s): is it running and reachable?", where, errNoAnswer,
		b.opt.Timeout*time.Duration(b.opt.Retries), b.opt.Retries, b.opt.Timeout)
}
