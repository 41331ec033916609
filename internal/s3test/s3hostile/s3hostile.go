// Package s3hostile is an S3 endpoint that lies, for tests: a small HTTP
// server on loopback answering what minio-go sends (ListObjectsV2,
// GetObject with or without a range, HeadObject, GetBucketLocation;
// authentication is not checked) from objects held in memory, except where
// the test tells it to lie: a listing truncated forever, pages that repeat
// or go back, a continuation token handed back, pages without keys, an
// endless page; an object body far larger than its name deserves, a
// Content-Length that lies, an endless body, an endless tar stream.
//
// It is the hostile peer of issue 18's tests: the real versitygw
// (internal/s3test) answers honestly and cannot be made to do any of this.
package s3hostile

import (
	"archive/tar"
	"compress/gzip"
	"encoding/binary"
	"encoding/xml"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Listing says how the server answers a listing whose prefix starts with
// Server.LiePrefix.
type Listing int

const (
	ListHonest     Listing = iota
	ListEndless            // truncated forever, every page 1000 new, increasing keys
	ListRepeat             // the same page (keys and token) forever
	ListBackward           // the second page starts again at the first key
	ListSameToken          // the next token is always the one given
	ListEmptyPages         // truncated forever, no key, a fresh token each page
	ListHugePage           // one page whose XML never ends
	ListSlowPage           // one page that sends a byte a second
)

// Body answers a GET of an object (a lie); nil: the honest answer.
type Body func(w http.ResponseWriter, r *http.Request)

// Object is what the server holds under a key.
type Object struct {
	Data []byte
	Lie  Body // replaces the answer to GET (HEAD and listings stay honest)
}

// Server is one running hostile endpoint.
type Server struct {
	Addr   string
	Bucket string

	// LiePrefix and Listing: listings of a prefix starting with
	// LiePrefix lie as Listing says.
	LiePrefix string
	Listing   Listing

	Lists, Gets atomic.Int64 // requests answered
	Sent        atomic.Int64 // body bytes written (all answers)

	mu      sync.Mutex
	objects map[string]*Object
	srv     *http.Server
	l       net.Listener
}

// Start starts a server with bucket "hostile" on a free loopback port; it
// is closed (with every connection) in t.Cleanup.
func Start(t testing.TB) *Server {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Addr: l.Addr().String(), Bucket: "hostile", objects: map[string]*Object{}, l: l}
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go s.srv.Serve(l)
	t.Cleanup(func() { s.srv.Close() })
	return s
}

// URL is the s3:// URL of prefix in the bucket.
func (s *Server) URL(prefix string) string {
	return "s3://" + s.Bucket + "/" + prefix + "?endpoint=" + s.Addr + "&path-style=1&insecure=1"
}

// Env is an environment with (unchecked) credentials.
func (s *Server) Env() []string {
	return []string{"AWS_ACCESS_KEY_ID=hostileaccess", "AWS_SECRET_ACCESS_KEY=hostile-secret-0123456789",
		"AWS_SHARED_CREDENTIALS_FILE=/nonexistent"}
}

// Put stores data under key (a full key: prefix included).
func (s *Server) Put(key string, data []byte) { s.set(key, &Object{Data: data}) }

// Lie makes GETs of key answer with body (HEAD and listings still show
// data's size).
func (s *Server) Lie(key string, data []byte, body Body) {
	s.set(key, &Object{Data: data, Lie: body})
}

func (s *Server) set(key string, o *Object) {
	s.mu.Lock()
	s.objects[key] = o
	s.mu.Unlock()
}

// Close stops the server and drops every connection.
func (s *Server) Close() { s.srv.Close() }

// Keys returns the keys held, sorted.
func (s *Server) Keys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for k := range s.objects {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

var lastModified = time.Date(2024, 5, 1, 8, 0, 0, 0, time.UTC)

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.Path, "/")
	bucket, key, _ := strings.Cut(path, "/")
	if bucket != s.Bucket {
		s.error(w, http.StatusNotFound, "NoSuchBucket")
		return
	}
	q := r.URL.Query()
	switch {
	case key == "" && q.Has("location"):
		s.write(w, http.StatusOK, []byte(`<?xml version="1.0" encoding="UTF-8"?><LocationConstraint xmlns="http://s3.amazonaws.com/doc/2006-03-01/"></LocationConstraint>`))
	case key == "" && r.Method == http.MethodGet:
		s.Lists.Add(1)
		s.list(w, r, q)
	case r.Method == http.MethodGet || r.Method == http.MethodHead:
		s.mu.Lock()
		o := s.objects[key]
		s.mu.Unlock()
		if o == nil {
			s.error(w, http.StatusNotFound, "NoSuchKey")
			return
		}
		h := w.Header()
		h.Set("Last-Modified", lastModified.Format(http.TimeFormat))
		h.Set("ETag", `"`+etag(o.Data)+`"`)
		h.Set("Content-Type", "application/octet-stream")
		h.Set("Accept-Ranges", "bytes")
		if r.Method == http.MethodHead {
			h.Set("Content-Length", strconv.Itoa(len(o.Data)))
			w.WriteHeader(http.StatusOK)
			return
		}
		s.Gets.Add(1)
		if o.Lie != nil {
			o.Lie(&counting{ResponseWriter: w, n: &s.Sent}, r)
			return
		}
		data, status := o.Data, http.StatusOK
		if rg := r.Header.Get("Range"); rg != "" {
			var from, to int
			if _, err := fmt.Sscanf(rg, "bytes=%d-%d", &from, &to); err != nil || from > to || from >= len(data) {
				s.error(w, http.StatusRequestedRangeNotSatisfiable, "InvalidRange")
				return
			}
			to = min(to, len(data)-1)
			h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", from, to, len(data)))
			data, status = data[from:to+1], http.StatusPartialContent
		}
		h.Set("Content-Length", strconv.Itoa(len(data)))
		s.write(w, status, data)
	default:
		s.error(w, http.StatusNotImplemented, "NotImplemented")
	}
}

func etag(b []byte) string {
	var h uint64 = 14695981039346656037
	for _, c := range b {
		h = (h ^ uint64(c)) * 1099511628211
	}
	return fmt.Sprintf("%016x", h)
}

func (s *Server) write(w http.ResponseWriter, status int, body []byte) {
	w.WriteHeader(status)
	n, _ := w.Write(body)
	s.Sent.Add(int64(n))
}

func (s *Server) error(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/xml")
	s.write(w, status, []byte(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>`+code+`</Code><Message>`+code+`</Message></Error>`))
}

// counting counts the body bytes a lie writes.
type counting struct {
	http.ResponseWriter
	n *atomic.Int64
}

func (c *counting) Write(b []byte) (int, error) {
	n, err := c.ResponseWriter.Write(b)
	c.n.Add(int64(n))
	return n, err
}

// Unwrap lets http.ResponseController reach the connection (Hijack).
func (c *counting) Unwrap() http.ResponseWriter { return c.ResponseWriter }

func (c *counting) Flush() {
	if f, ok := c.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

type content struct {
	Key          string
	LastModified string
	ETag         string
	Size         int64
	StorageClass string
}

type listResult struct {
	XMLName               xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ ListBucketResult"`
	Name                  string
	Prefix                string
	KeyCount              int
	MaxKeys               int
	IsTruncated           bool
	ContinuationToken     string `xml:",omitempty"`
	NextContinuationToken string `xml:",omitempty"`
	Contents              []content
}

func entry(key string, size int64, data []byte) content {
	return content{Key: key, LastModified: lastModified.Format("2006-01-02T15:04:05.000Z"), ETag: `"` + etag(data) + `"`,
		Size: size, StorageClass: "STANDARD"}
}

// list answers ListObjectsV2: honest (keys after the continuation token,
// which is the last key sent) unless the prefix lies.
func (s *Server) list(w http.ResponseWriter, r *http.Request, q map[string][]string) {
	get := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	prefix, token := get("prefix"), get("continuation-token")
	maxKeys := 1000
	if n, err := strconv.Atoi(get("max-keys")); err == nil && n > 0 && n < maxKeys {
		maxKeys = n
	}
	res := listResult{Name: s.Bucket, Prefix: prefix, MaxKeys: maxKeys, ContinuationToken: token}
	lie := s.LiePrefix != "" && strings.HasPrefix(prefix, s.LiePrefix)
	if lie && s.Listing != ListHonest {
		s.lie(w, &res, prefix, token, maxKeys)
		return
	}
	after := token
	if after == "" {
		after = get("start-after")
	}
	s.mu.Lock()
	var keys []string
	for k := range s.objects {
		if strings.HasPrefix(k, prefix) && k > after {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	if len(keys) > maxKeys {
		keys, res.IsTruncated = keys[:maxKeys], true
		res.NextContinuationToken = keys[maxKeys-1]
	}
	for _, k := range keys {
		res.Contents = append(res.Contents, entry(k, int64(len(s.objects[k].Data)), s.objects[k].Data))
	}
	s.mu.Unlock()
	res.KeyCount = len(res.Contents)
	s.xml(w, &res)
}

func (s *Server) xml(w http.ResponseWriter, v any) {
	b, err := xml.Marshal(v)
	if err != nil {
		s.error(w, http.StatusInternalServerError, "InternalError")
		return
	}
	w.Header().Set("Content-Type", "application/xml")
	s.write(w, http.StatusOK, append([]byte(xml.Header), b...))
}

// lie answers a listing as s.Listing says. Tokens are "p<n>", page n.
func (s *Server) lie(w http.ResponseWriter, res *listResult, prefix, token string, maxKeys int) {
	page := 0
	if t, ok := strings.CutPrefix(token, "p"); ok {
		page, _ = strconv.Atoi(t)
	}
	keys := func(from int) {
		for i := range maxKeys {
			res.Contents = append(res.Contents, entry(fmt.Sprintf("%s%012d", prefix, from+i), 100, nil))
		}
	}
	res.IsTruncated = true
	switch s.Listing {
	case ListEndless:
		keys(page * maxKeys)
		res.NextContinuationToken = "p" + strconv.Itoa(page+1)
	case ListRepeat:
		keys(0)
		res.NextContinuationToken = "p1"
	case ListBackward:
		keys(0)
		res.NextContinuationToken = "p" + strconv.Itoa(page+1)
	case ListSameToken:
		if token == "" {
			keys(0)
			res.NextContinuationToken = "p1"
		} else {
			res.NextContinuationToken = token
		}
	case ListEmptyPages:
		res.NextContinuationToken = "p" + strconv.Itoa(page+1)
	case ListHugePage:
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusOK)
		cw := &counting{ResponseWriter: w, n: &s.Sent}
		io.WriteString(cw, xml.Header+`<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>`+s.Bucket+`</Name><IsTruncated>false</IsTruncated>`)
		chunk := strings.Repeat("<Contents><Key>"+prefix+"k</Key><Size>1</Size></Contents>", 1000)
		for {
			if _, err := io.WriteString(cw, chunk); err != nil {
				return
			}
		}
	case ListSlowPage:
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusOK)
		cw := &counting{ResponseWriter: w, n: &s.Sent}
		for {
			if _, err := io.WriteString(cw, " "); err != nil {
				return
			}
			cw.Flush()
			time.Sleep(time.Second)
		}
	}
	res.KeyCount = len(res.Contents)
	s.xml(w, res)
}

// Oversize answers with n bytes of zeros and an honest Content-Length of
// n (the object is not what its name and recorded size say).
func Oversize(n int64) Body {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
		w.WriteHeader(http.StatusOK)
		copyZeros(w, n)
	}
}

// LyingLength announces announced bytes (Content-Length) and sends sent.
func LyingLength(announced, sent int64) Body {
	return func(w http.ResponseWriter, r *http.Request) {
		// net/http refuses to write past a Content-Length it was
		// given: take the connection and write the lie by hand.
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			panic("s3hostile: cannot take the connection: " + err.Error())
		}
		defer conn.Close()
		fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\nLast-Modified: %s\r\nETag: \"lie\"\r\nContent-Type: application/octet-stream\r\n\r\n",
			announced, lastModified.Format(http.TimeFormat))
		buf.Flush()
		var out io.Writer = conn
		if c, ok := w.(*counting); ok {
			out = writerFunc(func(b []byte) (int, error) { n, err := conn.Write(b); c.n.Add(int64(n)); return n, err })
		}
		copyZeros(out, sent)
	}
}

// EndlessBody answers with zeros and no Content-Length (chunked), forever.
func EndlessBody() Body {
	return func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		copyZeros(w, -1)
	}
}

// Announce answers with a Content-Length of n and then sends nothing.
func Announce(n int64) Body {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
		w.WriteHeader(http.StatusOK)
		http.NewResponseController(w).Flush()
		<-r.Context().Done()
	}
}

// EndlessTar answers with a gzip-compressed tar stream that never ends,
// chunked, with no Content-Length: entry after entry of files of size
// bytes (dir/NN/<n>: items/ as an account archive holds), their content
// zeros (a few bytes of gzip each) or, if random, incompressible.
func EndlessTar(dir string, size int, random bool) Body {
	return func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		zw, _ := gzip.NewWriterLevel(w, gzip.BestSpeed)
		tw := tar.NewWriter(zw)
		body := make([]byte, size)
		rnd := rand.New(rand.NewPCG(18, 18))
		for i := 0; r.Context().Err() == nil; i++ {
			if random {
				for j := 0; j+8 <= len(body); j += 8 {
					binary.LittleEndian.PutUint64(body[j:], rnd.Uint64())
				}
			}
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: fmt.Sprintf("%s/%02d/%d", dir, i%100, i),
				Size: int64(size), Mode: 0o644, ModTime: lastModified}); err != nil {
				return
			}
			if _, err := tw.Write(body); err != nil {
				return
			}
		}
	}
}

// Trickle answers with data (an honest Content-Length) one byte a second.
func Trickle(data []byte) Body {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		w.WriteHeader(http.StatusOK)
		rc := http.NewResponseController(w)
		for i := range data {
			if _, err := w.Write(data[i : i+1]); err != nil {
				return
			}
			rc.Flush()
			select {
			case <-r.Context().Done():
				return
			case <-time.After(time.Second):
			}
		}
	}
}

// TarGz is a gzip-compressed tar of files (name -> content), as cbfs
// writes a metadata archive.
func TarGz(files map[string][]byte) []byte {
	var b strings.Builder
	zw := gzip.NewWriter(&b)
	tw := tar.NewWriter(zw)
	var names []string
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: n, Size: int64(len(files[n])), Mode: 0o644, ModTime: lastModified})
		tw.Write(files[n])
	}
	tw.Close()
	zw.Close()
	return []byte(b.String())
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

var zeros = make([]byte, 64<<10)

// copyZeros writes n zero bytes (n < 0: until the write fails).
func copyZeros(w io.Writer, n int64) {
	for n != 0 {
		k := int64(len(zeros))
		if n > 0 && n < k {
			k = n
		}
		m, err := w.Write(zeros[:k])
		if err != nil {
			return
		}
		if n > 0 {
			n -= int64(m)
		}
	}
}
