package external

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cbfs/cbfs/internal/atomicfile"
	"github.com/cbfs/cbfs/internal/s3test"
	"github.com/cbfs/cbfs/internal/s3test/s3hostile"
	"github.com/cbfs/cbfs/objstore"
	"github.com/cbfs/cbfs/objstore/s3"
	"github.com/cbfs/cbfs/sample"
)

// counted is a real store whose GETs are counted by name (what a lazy
// open fetched; versitygw keeps no request log a test could read).
type counted struct {
	objstore.Store
	mu   sync.Mutex
	gets map[string]int
}

func (c *counted) Get(ctx context.Context, name string) (io.ReadCloser, int64, error) {
	c.mu.Lock()
	c.gets[name]++
	c.mu.Unlock()
	return c.Store.Get(ctx, name)
}

// take returns the GETs since the last take.
func (c *counted) take() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	g := c.gets
	c.gets = map[string]int{}
	return g
}

// lazyBucket is a versitygw bucket (prefix "lazy") holding the sample
// Backup Path src (blobs and metadata, as cbfs serve --external writes
// them), and the sample's account ids.
type lazyBucket struct {
	srv  *s3test.Server
	b    *s3.Bucket
	objs *counted
	src  string
	ids  []string
}

func newLazyBucket(t *testing.T, accounts int) *lazyBucket {
	t.Helper()
	srv := s3test.Start(t)
	for _, kv := range srv.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	b, err := s3.Open(srv.URL("lazy"), s3.Options{})
	require.NoError(t, err)
	src := t.TempDir()
	ctx := context.Background()
	_, err = sample.Generate(ctx, src, sample.Options{Accounts: accounts, Messages: 12, Seed: 21})
	require.NoError(t, err)
	_, err = UploadBlobs(ctx, src, b, 8)
	require.NoError(t, err)
	_, err = UploadMetadata(ctx, src, b, 8)
	require.NoError(t, err)
	ents, err := os.ReadDir(filepath.Join(src, "accounts"))
	require.NoError(t, err)
	var ids []string
	for _, e := range ents {
		ids = append(ids, e.Name())
	}
	require.Len(t, ids, accounts)
	return &lazyBucket{srv: srv, b: b, objs: &counted{Store: b, gets: map[string]int{}}, src: src, ids: ids}
}

// remove deletes an object of the bucket (cbfs itself never does).
func (lb *lazyBucket) remove(t *testing.T, name string) {
	t.Helper()
	require.NoError(t, lb.srv.Client(t).RemoveObject(context.Background(), lb.srv.Bucket, "lazy/"+name, minio.RemoveObjectOptions{}))
}

func (lb *lazyBucket) open(t *testing.T, root string, lim Limits) (*Lazy, error) {
	t.Helper()
	bp, _, lz, err := OpenLazy(context.Background(), lb.objs, root, 0, "", 4, lim)
	var partial *PartialError
	if err != nil && !errors.As(err, &partial) {
		return nil, err
	}
	require.NotNil(t, bp)
	t.Cleanup(lz.Close)
	return lz, err
}

// files maps every regular file below dir (relative name) to its bytes.
func files(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.Type().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(dir, p)
			out[rel] = string(b)
		}
		return nil
	})
	require.NoError(t, err)
	return out
}

func keys(m map[string]int) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// A lazy open fetches the server archive and the summaries only, names
// every account from them, and Account brings exactly one account's
// archive; a second open of an unchanged bucket fetches nothing; an
// archive changed since becomes a stub again, one gone is removed.
func TestOpenLazy(t *testing.T) {
	lb := newLazyBucket(t, 4)
	ctx := context.Background()
	root := filepath.Join(t.TempDir(), "tree")
	lz, err := lb.open(t, root, Limits{})
	require.NoError(t, err)

	want := []string{ServerArchive}
	for _, id := range lb.ids {
		want = append(want, AccountInfo(id))
	}
	sort.Strings(want)
	gets := lb.objs.take()
	assert.Equal(t, want, keys(gets), "only the server archive and the summaries are fetched")
	for k, n := range gets {
		assert.Equal(t, 1, n, k)
	}
	assert.Equal(t, lb.ids, lz.IDs())
	for _, id := range lb.ids {
		assert.Equal(t, files(t, filepath.Join(lb.src, "accounts", id))["account_info"],
			files(t, filepath.Join(root, "accounts", id))["account_info"], "account %s named from its summary", id)
		assert.NoDirExists(t, filepath.Join(root, "accounts", id, "items"))
		st, err := lz.Status(id)
		assert.Equal(t, Waiting, st)
		assert.NoError(t, err)
	}
	assert.FileExists(t, filepath.Join(root, "backupstat"))

	// Entering one account brings exactly its archive.
	first := lb.ids[0]
	require.NoError(t, lz.Account(ctx, first))
	assert.Equal(t, map[string]int{AccountArchive(first): 1}, lb.objs.take())
	assert.Equal(t, files(t, filepath.Join(lb.src, "accounts", first)), files(t, filepath.Join(root, "accounts", first)))
	for _, id := range lb.ids[1:] {
		assert.NoDirExists(t, filepath.Join(root, "accounts", id, "items"), "account %s is not fetched", id)
	}
	st, _ := lz.Status(first)
	assert.Equal(t, Fetched, st)
	require.NoError(t, lz.Account(ctx, first))
	assert.Empty(t, lb.objs.take(), "fetched once")
	assert.ErrorIs(t, lz.Account(ctx, "nobody"), ErrNoAccount)
	assert.Empty(t, leftovers(t, root))
	lz.Close()

	// A second open of the same bucket fetches nothing.
	lz, err = lb.open(t, root, Limits{})
	require.NoError(t, err)
	assert.Empty(t, lb.objs.take(), "nothing changed: nothing fetched")
	st, _ = lz.Status(first)
	assert.Equal(t, Fetched, st)
	st, _ = lz.Status(lb.ids[1])
	assert.Equal(t, Waiting, st)
	require.NoError(t, lz.Account(ctx, first))
	assert.Empty(t, lb.objs.take(), "the archive retrieved before is not fetched again")
	assert.Equal(t, files(t, filepath.Join(lb.src, "accounts", first)), files(t, filepath.Join(root, "accounts", first)))
	lz.Close()

	// Every account changes and the service archives again; one
	// account's archive is gone.
	for _, id := range lb.ids {
		f, err := os.OpenFile(filepath.Join(lb.src, "accounts", id, "account_info"), os.O_APPEND|os.O_WRONLY, 0)
		require.NoError(t, err)
		_, err = f.WriteString("\n")
		require.NoError(t, err)
		require.NoError(t, f.Close())
	}
	_, err = UploadMetadata(ctx, lb.src, lb.b, 8)
	require.NoError(t, err)
	gone := lb.ids[3]
	lb.remove(t, AccountArchive(gone))
	lz, err = lb.open(t, root, Limits{})
	require.NoError(t, err)
	gets = lb.objs.take()
	delete(gets, ServerArchive) // unchanged bytes: a new version or not, as the store's clock says
	want = nil
	for _, id := range lb.ids[:3] {
		want = append(want, AccountInfo(id))
	}
	sort.Strings(want)
	assert.Equal(t, want, keys(gets))
	assert.Equal(t, lb.ids[:3], lz.IDs())
	assert.NoDirExists(t, filepath.Join(root, "accounts", gone), "the account whose archive is gone is removed")
	assert.NoDirExists(t, filepath.Join(root, "accounts", first, "items"), "a changed archive: the account is a stub again")
	assert.FileExists(t, filepath.Join(root, "accounts", first, "account_info"))
	require.NoError(t, lz.All(ctx, 2))
	assert.Len(t, lb.objs.take(), 3)
	for _, id := range lb.ids[:3] {
		assert.Equal(t, files(t, filepath.Join(lb.src, "accounts", id)), files(t, filepath.Join(root, "accounts", id)))
	}
}

// Concurrent callers of Account for one account wait for one fetch.
func TestLazyAccountOnce(t *testing.T) {
	lb := newLazyBucket(t, 3)
	root := t.TempDir()
	lz, err := lb.open(t, root, Limits{})
	require.NoError(t, err)
	lb.objs.take()
	id := lb.ids[1]
	var wg sync.WaitGroup
	errs := make([]error, 16)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = lz.Account(context.Background(), id)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		assert.NoError(t, err)
	}
	assert.Equal(t, map[string]int{AccountArchive(id): 1}, lb.objs.take())
	assert.Equal(t, files(t, filepath.Join(lb.src, "accounts", id)), files(t, filepath.Join(root, "accounts", id)))
}

// A hostile archive costs its own account only: Account returns the
// bound it broke, remembers it (no new fetch within RetryAfter), the stub
// stays, nothing of the archive is left, and the others are fetched.
func TestLazyHostileArchive(t *testing.T) {
	lb := newLazyBucket(t, 3)
	ctx := context.Background()
	endless := map[string][]byte{"account_info": []byte(`{"id":"bad"}`)}
	for i := range 3000 {
		endless[fmt.Sprintf("items/%02d/%d", i%100, i)] = []byte(`{}`)
	}
	for _, tc := range []struct {
		id, want string
		archive  []byte
	}{
		{"many", "more than 2000 entries", s3hostile.TarGz(endless)},
		{"escape", `refusing entry "../escape"`, s3hostile.TarGz(map[string][]byte{"account_info": []byte(`{}`), "../escape": []byte("x")})},
		{"notgzip", "gzip", []byte("not an archive at all")},
	} {
		require.NoError(t, lb.b.Put(ctx, AccountArchive(tc.id), bytes.NewReader(tc.archive), int64(len(tc.archive))))
		info := []byte(`{"id":"` + tc.id + `","name":"` + tc.id + `@example.com"}`)
		require.NoError(t, lb.b.Put(ctx, AccountInfo(tc.id), bytes.NewReader(info), int64(len(info))))
	}
	root := filepath.Join(t.TempDir(), "tree")
	lz, err := lb.open(t, root, Limits{Files: 2000})
	require.NoError(t, err, "the hostile archives are not fetched at open")
	lb.objs.take()
	for _, tc := range []struct{ id, want string }{
		{"many", "account many: accounts/many.tar.gz: more than 2000 entries (an archive takes at most that)"},
		{"escape", `account escape: accounts/escape.tar.gz: refusing entry "../escape"`},
		{"notgzip", "account notgzip: accounts/notgzip.tar.gz: gzip: invalid header"},
	} {
		t.Run(tc.id, func(t *testing.T) {
			err := lz.Account(ctx, tc.id)
			require.Error(t, err)
			assert.Equal(t, tc.want, err.Error())
			var ae *ArchiveError
			require.True(t, errors.As(err, &ae))
			assert.Equal(t, tc.id, ae.Account)
			st, serr := lz.Status(tc.id)
			assert.Equal(t, Failed, st)
			assert.Equal(t, err, serr, "remembered for the status")
			assert.Equal(t, err, lz.Account(ctx, tc.id), "remembered")
			assert.Equal(t, map[string]int{AccountArchive(tc.id): 1}, lb.objs.take(), "fetched once within RetryAfter")
			assert.Equal(t, map[string]string{"account_info": `{"id":"` + tc.id + `","name":"` + tc.id + `@example.com"}`},
				files(t, filepath.Join(root, "accounts", tc.id)), "the stub stays")
		})
	}
	assert.NoFileExists(t, filepath.Join(filepath.Dir(root), "escape"))
	assert.Empty(t, leftovers(t, root))
	err = lz.All(ctx, 2)
	var partial *PartialError
	require.True(t, errors.As(err, &partial), "%v", err)
	require.Len(t, partial.Failed, 3)
	assert.Equal(t, []string{"escape", "many", "notgzip"}, []string{partial.Failed[0].Account, partial.Failed[1].Account, partial.Failed[2].Account})
	assert.Len(t, lz.Failed(), 3)
	for _, id := range lb.ids {
		st, _ := lz.Status(id)
		assert.Equal(t, Fetched, st, id)
		assert.Equal(t, files(t, filepath.Join(lb.src, "accounts", id)), files(t, filepath.Join(root, "accounts", id)))
	}
	// With RetryAfter 0, the next call fetches again.
	lz.RetryAfter = 0
	lb.objs.take()
	require.Error(t, lz.Account(ctx, "many"))
	assert.Equal(t, map[string]int{AccountArchive("many"): 1}, lb.objs.take())
}

// A summary past MaxInfo, or none (an archive written by an older cbfs),
// names the account from its archive, fetched at open; one such archive
// that fails is the open's *PartialError, the rest is there.
func TestOpenLazyWithoutSummary(t *testing.T) {
	lb := newLazyBucket(t, 4)
	ctx := context.Background()
	old, big := lb.ids[0], lb.ids[1]
	lb.remove(t, AccountInfo(old))
	huge := bytes.Repeat([]byte(" "), MaxInfo+1)
	require.NoError(t, lb.b.Put(ctx, AccountInfo(big), bytes.NewReader(huge), int64(len(huge))))
	bad := []byte("not an archive")
	require.NoError(t, lb.b.Put(ctx, AccountArchive("broken"), bytes.NewReader(bad), int64(len(bad))))

	root := t.TempDir()
	lz, err := lb.open(t, root, Limits{})
	var partial *PartialError
	require.True(t, errors.As(err, &partial), "%v", err)
	require.Len(t, partial.Failed, 1)
	assert.Equal(t, "broken", partial.Failed[0].Account)
	gets := lb.objs.take()
	for _, id := range []string{old, big, "broken"} {
		assert.Equal(t, 1, gets[AccountArchive(id)], id)
	}
	assert.Equal(t, 1, gets[AccountInfo(big)])
	for _, id := range []string{old, big} {
		st, _ := lz.Status(id)
		assert.Equal(t, Fetched, st)
		assert.Equal(t, files(t, filepath.Join(lb.src, "accounts", id)), files(t, filepath.Join(root, "accounts", id)))
	}
	for _, id := range lb.ids[2:] {
		st, _ := lz.Status(id)
		assert.Equal(t, Waiting, st)
		assert.NotContains(t, gets, AccountArchive(id))
	}
	st, _ := lz.Status("broken")
	assert.Equal(t, Failed, st)
	assert.NoDirExists(t, filepath.Join(root, "accounts", "broken"))
}

// A tree retrieved whole by Open is reused by OpenLazy (nothing fetched),
// and Retrieve still works on a tree OpenLazy kept.
func TestOpenLazyAfterOpen(t *testing.T) {
	lb := newLazyBucket(t, 3)
	ctx := context.Background()
	root := t.TempDir()
	_, _, err := Open(ctx, lb.b, root, 0, "", 4, Limits{})
	require.NoError(t, err)
	lz, err := lb.open(t, root, Limits{})
	require.NoError(t, err)
	assert.Empty(t, lb.objs.take())
	for _, id := range lb.ids {
		st, _ := lz.Status(id)
		assert.Equal(t, Fetched, st)
	}
	lz.Close()

	lazyRoot := t.TempDir()
	_, err = lb.open(t, lazyRoot, Limits{})
	require.NoError(t, err)
	_, err = Retrieve(ctx, lb.b, lazyRoot, 4, atomicfile.Options{NoSync: true}, Limits{})
	require.NoError(t, err)
	for _, id := range lb.ids {
		assert.Equal(t, files(t, filepath.Join(lb.src, "accounts", id)), files(t, filepath.Join(lazyRoot, "accounts", id)))
	}
}

// A summary that lies (announced past MaxInfo, endless, a byte a second)
// is refused within its bounds, and the account is named from its
// archive, fetched at open.
func TestOpenLazyHostileSummary(t *testing.T) {
	for _, tc := range []struct {
		name string
		body s3hostile.Body
		lim  Limits
	}{
		{"200 MiB announced", s3hostile.Oversize(200 << 20), Limits{}},
		{"endless", s3hostile.EndlessTar("x", 64<<10, true), Limits{}},
		{"a byte a second", s3hostile.Trickle([]byte(`{"id":"good","name":"liar"}`)), Limits{Time: 2 * time.Second}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := s3hostile.Start(t)
			goodArchives(srv)
			srv.Lie("p/"+AccountInfo("good"), []byte(`{"id":"good"}`), tc.body)
			b := hostileStore(t, srv, s3.Options{})
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			root := t.TempDir()
			_, _, lz, err := OpenLazy(ctx, b, root, 0, "", 4, tc.lim)
			require.NoError(t, ctx.Err(), "still opening after a minute")
			require.NoError(t, err)
			defer lz.Close()
			st, _ := lz.Status("good")
			assert.Equal(t, Fetched, st, "named from its archive")
			assert.Equal(t, map[string]string{"account_info": `{"id":"good"}`, "items/01/101": `{"id":101}`}, files(t, filepath.Join(root, "accounts", "good")))
			assert.Empty(t, leftovers(t, root))
		})
	}
}
