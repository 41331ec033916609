// Package s3 is the objstore.Store of an S3-compatible bucket (AWS, Ceph
// RGW, MinIO, versitygw, ...), through minio-go: a focused S3 client
// (Apache-2.0) with path-style addressing and custom endpoints built in,
// and a much smaller dependency tree than aws-sdk-go-v2.
//
// A location is a URL s3://bucket/prefix, with optional query parameters
// endpoint=host:port, region=R, path-style=1 and insecure=1 (plain HTTP);
// the same settings are Options fields (cbfs's --s3-* flags). Credentials
// are never part of it: they come from Options.CredentialsFile
// (--s3-credentials FILE, in the ~/.aws/credentials format), else the
// environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN),
// else ~/.aws/credentials (AWS_SHARED_CREDENTIALS_FILE, AWS_PROFILE). They
// are never logged.
//
// Faults: every request has a bounded time (Options.Timeout, per attempt);
// network errors and 5xx answers are retried by the client with
// exponential backoff (Options.Retries attempts), then returned. Refused
// credentials are objstore.ErrAccess, a missing object objstore.ErrNotExist.
//
// The endpoint is a peer, not a part of cbfs: what it answers is a claim.
// minio-go follows a listing's continuation tokens for as long as the
// server says "truncated" and decodes each page whole, so List holds it to
// what a real store does (see List): keys in strictly increasing order,
// a continuation token never handed back unchanged, few pages without a
// key, at most Options.MaxListEntries keys, each page within
// Options.Timeout and maxListPage bytes, the whole within
// Options.ListTimeout. An object's size (Get) is the server's announcement:
// callers read bodies through a limit of their own (blob.Remote,
// external.Retrieve). Response headers are bounded too (maxHeaderBytes).
package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/cbfs/cbfs/objstore"
)

// Options say how to reach the bucket. Zero values take the URL's query
// parameters, then the defaults.
type Options struct {
	Endpoint        string        // host:port (default: the URL's endpoint=, else s3.amazonaws.com)
	Region          string        // default: the URL's region=, else us-east-1
	PathStyle       bool          // path-style addressing (bucket in the path, not the host name)
	Insecure        bool          // plain HTTP
	CredentialsFile string        // an ~/.aws/credentials-format file
	Profile         string        // its profile (default: AWS_PROFILE, else "default")
	Timeout         time.Duration // per request attempt (default 15 s); a listing page must arrive whole within it
	Retries         int           // attempts of a request (default 4); an answer must come within Timeout × Retries
	// Warn logs a failed attempt (default: slog's default logger).
	Warn func(msg string, args ...any)

	// MaxListEntries bounds one listing (default DefaultMaxListEntries);
	// ListTimeout bounds its time (default DefaultListTimeout).
	MaxListEntries int64
	ListTimeout    time.Duration
}

// Bounds of a listing (see List).
const (
	// DefaultMaxListEntries: the largest Carbonio blob stores hold tens
	// of millions of blobs (a 1M-item Backup Path, the scale cbfs is
	// built for, has about as many); 2^28 (268M) leaves ten times that
	// for the biggest and still ends an endless listing.
	DefaultMaxListEntries = 1 << 28
	// DefaultListTimeout: a real store lists about 1000 keys per 50-100
	// ms page, 25M keys in 20-40 minutes.
	DefaultListTimeout = 4 * time.Hour
	// maxEmptyPages: pages in a row that bring no key while the listing
	// says it is truncated. Real stores return full pages (an empty one
	// is rare, a run of them a loop).
	maxEmptyPages = 100
	// maxListPage bounds one page's XML. minio-go decodes a page whole,
	// 592 bytes for each entry however short its XML (21 bytes at
	// least), so the bound is on memory too: 2 MiB holds at most 100k
	// entries (about 60 MiB decoded). A page of pageKeys keys fits it
	// (keysPerPage).
	maxListPage = 2 << 20
	// maxHeaderBytes bounds a response's headers (S3's are a few KiB).
	maxHeaderBytes = 1 << 20
)

// Location is a parsed s3:// URL.
type Location struct {
	Bucket, Prefix string
	Query          url.Values
}

// IsURL reports whether s names an S3 location.
func IsURL(s string) bool { return strings.HasPrefix(s, "s3://") }

// ParseURL parses s3://bucket[/prefix][?endpoint=...&region=...&path-style=1&insecure=1].
func ParseURL(s string) (Location, error) {
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "s3" || u.Host == "" {
		return Location{}, fmt.Errorf("%q: want s3://bucket/prefix", s)
	}
	if u.User != nil {
		return Location{}, fmt.Errorf("%s: credentials do not belong in the URL: use the environment, ~/.aws/credentials or --s3-credentials FILE", u.Redacted())
	}
	for k := range u.Query() {
		switch k {
		case "endpoint", "region", "path-style", "insecure":
		default:
			return Location{}, fmt.Errorf("%s: unknown parameter %q (known: endpoint, region, path-style, insecure)", s, k)
		}
	}
	p := strings.Trim(u.Path, "/")
	if p != "" {
		if err := objstore.CheckName(p); err != nil {
			return Location{}, fmt.Errorf("%s: prefix: %w", s, err)
		}
	}
	return Location{Bucket: u.Host, Prefix: p, Query: u.Query()}, nil
}

// Bucket is a Store on one bucket and prefix.
type Bucket struct {
	c      *minio.Core
	bucket string
	prefix string // "" or "p/" (ends in a slash)
	url    string // for messages
	opt    Options
}

var _ objstore.Store = (*Bucket)(nil)

// Open returns the store at the s3:// URL. It sends no request: Check does.
func Open(rawURL string, o Options) (*Bucket, error) {
	loc, err := ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	q := loc.Query
	if o.Endpoint == "" {
		o.Endpoint = q.Get("endpoint")
	}
	if o.Endpoint == "" {
		o.Endpoint = "s3.amazonaws.com"
	}
	if o.Region == "" {
		o.Region = q.Get("region")
	}
	if o.Region == "" {
		o.Region = "us-east-1"
	}
	if b, _ := strconv.ParseBool(q.Get("path-style")); b {
		o.PathStyle = true
	}
	if b, _ := strconv.ParseBool(q.Get("insecure")); b {
		o.Insecure = true
	}
	if o.Timeout <= 0 {
		o.Timeout = 15 * time.Second
	}
	if o.Retries <= 0 {
		o.Retries = 4
	}
	if o.Warn == nil {
		o.Warn = defaultWarn
	}
	if o.MaxListEntries <= 0 {
		o.MaxListEntries = DefaultMaxListEntries
	}
	if o.ListTimeout <= 0 {
		o.ListTimeout = DefaultListTimeout
	}
	creds, err := credentialsFor(o)
	if err != nil {
		return nil, err
	}
	lookup := minio.BucketLookupAuto
	if o.PathStyle {
		lookup = minio.BucketLookupPath
	}
	tr := &http.Transport{
		Proxy:                  http.ProxyFromEnvironment,
		DialContext:            (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:           256,
		MaxIdleConnsPerHost:    64,
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    10 * time.Second,
		ResponseHeaderTimeout:  o.Timeout,
		ExpectContinueTimeout:  time.Second,
		DisableCompression:     true,
		MaxResponseHeaderBytes: maxHeaderBytes,
	}
	c, err := minio.NewCore(o.Endpoint, &minio.Options{
		Creds: creds, Secure: !o.Insecure, Region: o.Region,
		BucketLookup: lookup, Transport: &warnTransport{next: &listBounds{next: tr, timeout: o.Timeout}, warn: o.Warn}, MaxRetries: o.Retries,
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", rawURL, err)
	}
	prefix := loc.Prefix
	if prefix != "" {
		prefix += "/"
	}
	return &Bucket{c: c, bucket: loc.Bucket, prefix: prefix, opt: o,
		url: "s3://" + loc.Bucket + "/" + loc.Prefix}, nil
}

// credentialsFor is the credential chain: the named file, else the
// environment, else ~/.aws/credentials (AWS_SHARED_CREDENTIALS_FILE). The
// files are read by cbfs itself (readCredentials: a regular file of at
// most MaxCredentialsFile bytes, never a FIFO or device), not by
// minio-go, which would read whatever the path holds; minio-go gets the
// static keys found.
func credentialsFor(o Options) (*credentials.Credentials, error) {
	profile := orDefault(o.Profile)
	if o.CredentialsFile != "" {
		v, err := readCredentials(o.CredentialsFile, profile)
		if err != nil {
			return nil, fmt.Errorf("--s3-credentials: %w", err)
		}
		if v == nil {
			return nil, fmt.Errorf("--s3-credentials %s: no aws_access_key_id/aws_secret_access_key in profile %q", o.CredentialsFile, profile)
		}
		return credentials.NewStaticV4(v.AccessKeyID, v.SecretAccessKey, v.SessionToken), nil
	}
	env := &credentials.EnvAWS{}
	if v, err := env.Retrieve(); err == nil && (v.AccessKeyID != "" || v.SecretAccessKey != "") {
		return credentials.New(env), nil
	}
	file := os.Getenv("AWS_SHARED_CREDENTIALS_FILE")
	if file == "" {
		if home, err := os.UserHomeDir(); err == nil {
			file = filepath.Join(home, ".aws", "credentials")
		}
	}
	none := credentials.New(&credentials.Static{Value: credentials.Value{SignerType: credentials.SignatureAnonymous}})
	if file == "" {
		return none, nil // Check says there are no credentials
	}
	v, err := readCredentials(file, profile)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return none, nil
	case err != nil:
		return nil, fmt.Errorf("S3 credentials: %w", err)
	case v == nil:
		return none, nil
	}
	return credentials.NewStaticV4(v.AccessKeyID, v.SecretAccessKey, v.SessionToken), nil
}

func orDefault(p string) string {
	if p == "" {
		if p = os.Getenv("AWS_PROFILE"); p == "" {
			return "default"
		}
	}
	return p
}

func (b *Bucket) String() string { return b.url }

// key is the object key of name.
func (b *Bucket) key(name string) string { return b.prefix + name }

// Check makes one request (a listing of at most one key under the prefix)
// and returns a one-line error for missing or refused credentials, an
// unknown bucket or an unreachable endpoint.
func (b *Bucket) Check(ctx context.Context) error {
	v, err := b.c.Client.GetCreds()
	if err != nil || v.AccessKeyID == "" {
		return fmt.Errorf("%s: no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, write ~/.aws/credentials, or pass --s3-credentials FILE", b.url)
	}
	ctx, cancel := context.WithTimeout(ctx, b.opt.ListTimeout)
	defer cancel()
	g := newListGuard(cancel)
	for o := range b.c.Client.ListObjectsIter(withGuard(ctx, g), b.bucket, minio.ListObjectsOptions{Prefix: b.prefix, MaxKeys: 1, FetchOwner: new(bool)}) {
		if err := g.failed(); err != nil {
			return fmt.Errorf("%s: %w", b.url, err)
		}
		return b.err("", o.Err)
	}
	if err := g.failed(); err != nil {
		return fmt.Errorf("%s: %w", b.url, err)
	}
	return nil
}

func (b *Bucket) Get(ctx context.Context, name string) (io.ReadCloser, int64, error) {
	if err := objstore.CheckName(name); err != nil {
		return nil, 0, err
	}
	ctx, answered, cancel := b.answerBound(ctx)
	rc, info, _, err := b.c.GetObject(ctx, b.bucket, b.key(name), minio.GetObjectOptions{})
	answered()
	if err != nil {
		cancel()
		return nil, 0, b.err(name, b.noAnswer(ctx, name, err))
	}
	return cancelOnClose{rc, cancel}, info.Size, nil
}

func (b *Bucket) GetRange(ctx context.Context, name string, off, n int64) (io.ReadCloser, error) {
	if err := objstore.CheckName(name); err != nil {
		return nil, err
	}
	var o minio.GetObjectOptions
	if err := o.SetRange(off, off+n-1); err != nil {
		return nil, err
	}
	ctx, answered, cancel := b.answerBound(ctx)
	rc, _, _, err := b.c.GetObject(ctx, b.bucket, b.key(name), o)
	answered()
	if err != nil {
		cancel()
		return nil, b.err(name, b.noAnswer(ctx, name, err))
	}
	return cancelOnClose{rc, cancel}, nil
}

func (b *Bucket) Stat(ctx context.Context, name string) (int64, error) {
	if err := objstore.CheckName(name); err != nil {
		return 0, err
	}
	ctx, _, cancel := b.answerBound(ctx)
	defer cancel()
	info, err := b.c.StatObject(ctx, b.bucket, b.key(name), minio.StatObjectOptions{})
	if err != nil {
		return 0, b.err(name, b.noAnswer(ctx, name, err))
	}
	return info.Size, nil
}

// PutIfAbsent stats, then puts: a race with another writer of the same
// name writes the same bytes (names are content addresses), so no
// conditional request (which not every S3-compatible store honours) is
// needed.
func (b *Bucket) PutIfAbsent(ctx context.Context, name string, r io.Reader, size int64) (bool, error) {
	if _, err := b.Stat(ctx, name); err == nil {
		return false, nil
	} else if !errors.Is(err, objstore.ErrNotExist) {
		return false, err
	}
	return true, b.Put(ctx, name, r, size)
}

func (b *Bucket) Put(ctx context.Context, name string, r io.Reader, size int64) error {
	if err := objstore.CheckName(name); err != nil {
		return err
	}
	_, err := b.c.Client.PutObject(ctx, b.bucket, b.key(name), r, size, minio.PutObjectOptions{
		ContentType: "application/octet-stream", DisableContentSha256: false})
	return b.err(name, err)
}

// List lists the keys under prefix page by page (minio-go's ListObjectsV2
// iterator), holding the server to what a real store does: S3 lists keys
// in lexical (UTF-8 byte) order, so every key must be greater than the one
// before (a page repeated, or going back, is a loop); the continuation
// token must change from page to page; at most maxEmptyPages pages in a
// row may bring no key; at most MaxListEntries keys in all; each page must
// arrive whole within Options.Timeout and maxListPage bytes, the listing
// within ListTimeout. Past any of them the listing ends with an
// ErrListing error ("listing does not end: ...") naming the bound.
func (b *Bucket) List(ctx context.Context, prefix string, fn func(objstore.Object) error) error {
	where := strings.TrimSuffix(b.url, "/") + "/" + prefix
	lctx, cancel := context.WithTimeoutCause(ctx, b.opt.ListTimeout, errListTimeout)
	defer cancel()
	g := newListGuard(cancel)
	var (
		last    string
		entries int64
	)
	for o := range b.c.Client.ListObjectsIter(withGuard(lctx, g), b.bucket, minio.ListObjectsOptions{
		Prefix: b.prefix + prefix, Recursive: true, FetchOwner: new(bool), MaxKeys: keysPerPage(b.prefix + prefix)}) {
		if g.failed() != nil || lctx.Err() != nil {
			break
		}
		if o.Err != nil {
			return b.err(prefix, o.Err)
		}
		if entries > 0 && o.Key <= last {
			return fmt.Errorf("%s: %w: key %q after %q (a store lists keys in increasing order: the listing repeats or goes back)",
				where, objstore.ErrListing, clip(o.Key), clip(last))
		}
		if entries++; entries > b.opt.MaxListEntries {
			return fmt.Errorf("%s: %w: more than %d keys", where, objstore.ErrListing, b.opt.MaxListEntries)
		}
		last = o.Key
		g.keys.Add(1)
		name, ok := strings.CutPrefix(o.Key, b.prefix)
		if !ok || objstore.CheckName(name) != nil {
			continue // a key no cbfs name can have: not ours
		}
		if err := fn(objstore.Object{Name: name, Size: o.Size,
			Version: o.ETag + "@" + o.LastModified.UTC().Format(time.RFC3339Nano)}); err != nil {
			return err
		}
	}
	if err := g.failed(); err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if context.Cause(lctx) == errListTimeout {
		return fmt.Errorf("%s: %w: not done after %s", where, objstore.ErrListing, b.opt.ListTimeout)
	}
	return nil
}

// pageKeys is how many keys a listing asks for per page (S3's default and
// maximum).
const pageKeys = 1000

// keysPerPage is the max-keys a listing of prefix asks for: pageKeys, or
// fewer if pageKeys keys of that prefix might not fit maxListPage (keys
// come URL-encoded, up to three bytes per byte; cbfs's names add under
// 200 bytes to the prefix; each entry's other fields take about 300).
func keysPerPage(prefix string) int {
	entry := 3*(len(prefix)+200) + 300
	return max(1, min(pageKeys, maxListPage/entry))
}

// clip shortens a server-sent string for an error message.
func clip(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}

// err classifies a client error: missing objects, refused credentials,
// else the error with the location.
func (b *Bucket) err(name string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, errNoAnswer) {
		return err // noAnswer's, which names the object
	}
	where := b.url
	if name != "" {
		where = strings.TrimSuffix(b.url, "/") + "/" + name
	}
	switch minio.ToErrorResponse(err).Code {
	case minio.NoSuchKey, "NotFound":
		return fmt.Errorf("%s: %w", where, objstore.ErrNotExist)
	case minio.NoSuchBucket:
		return fmt.Errorf("%s: no such bucket %q", b.url, b.bucket)
	case "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken":
		return fmt.Errorf("%s: %w: the store refused the credentials (%s): check the access key and secret", b.url, objstore.ErrAccess, objstore.Printable(minio.ToErrorResponse(err).Code))
	}
	if minio.ToErrorResponse(err).StatusCode == http.StatusNotFound {
		return fmt.Errorf("%s: %w", where, objstore.ErrNotExist)
	}
	if strings.Contains(err.Error(), "server gave HTTP response to HTTPS client") {
		return fmt.Errorf("%s: %w (the store speaks plain HTTP: use --s3-insecure or insecure=1 in the s3:// URL for a plain-HTTP store)", where, peerError{err})
	}
	return fmt.Errorf("%s: %w", where, peerError{err})
}

// peerError is an error whose text may come from the store (an error
// response's message): shown escaped (objstore.Printable).
type peerError struct{ err error }

func (e peerError) Error() string { return objstore.Printable(e.err.Error()) }
func (e peerError) Unwrap() error { return e.err }

// cancelOnClose releases a request's context when its body is closed.
type cancelOnClose struct {
	io.ReadCloser
	cancel func()
}

func (c cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}

// Flags are the command-line settings of an S3 location (cbfs mount, cbfs
// serve --external, cbctl's S3 verbs). No flag takes a secret.
type Flags struct {
	Endpoint    string `name:"s3-endpoint" placeholder:"HOST:PORT" help:"S3-compatible endpoint (default: the s3:// URL's endpoint= parameter, else AWS)."`
	Region      string `name:"s3-region" placeholder:"REGION" help:"S3 region (default: the URL's region=, else us-east-1)."`
	PathStyle   bool   `name:"s3-path-style" help:"Path-style addressing (the bucket in the path, not the host name), as most S3-compatible stores want."`
	Insecure    bool   `name:"s3-insecure" help:"Plain HTTP to the endpoint (loopback and tests only)."`
	Credentials string `name:"s3-credentials" placeholder:"FILE" help:"S3 credentials in the ~/.aws/credentials format (default: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, else ~/.aws/credentials). Never on the command line."`
}

// Open opens the store at rawURL with these settings.
func (f Flags) Open(rawURL string) (*Bucket, error) {
	return Open(rawURL, f.Options())
}

// Options are these settings as Open's options.
func (f Flags) Options() Options {
	return Options{Endpoint: f.Endpoint, Region: f.Region, PathStyle: f.PathStyle,
		Insecure: f.Insecure, CredentialsFile: f.Credentials}
}
