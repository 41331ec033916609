package external

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cbfs/cbfs/internal/atomicfile"
	"github.com/cbfs/cbfs/internal/s3test/s3hostile"
	"github.com/cbfs/cbfs/objstore"
	"github.com/cbfs/cbfs/objstore/s3"
)

// hostileStore is the bucket of srv under prefix "p", through the real S3
// client.
func hostileStore(t *testing.T, srv *s3hostile.Server, o s3.Options) *s3.Bucket {
	t.Helper()
	for _, kv := range srv.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	b, err := s3.Open(srv.URL("p"), o)
	require.NoError(t, err)
	return b
}

// goodArchives puts a sound account archive ("good") and server archive.
func goodArchives(srv *s3hostile.Server) {
	srv.Put("p/"+AccountArchive("good"), s3hostile.TarGz(map[string][]byte{
		"account_info": []byte(`{"id":"good"}`), "items/01/101": []byte(`{"id":101}`)}))
	srv.Put("p/"+ServerArchive, s3hostile.TarGz(map[string][]byte{"backupstat": []byte(`{"serverId":"new"}`)}))
}

// leftovers is every cbfs temporary name under dest.
func leftovers(t *testing.T, dest string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dest, func(p string, e os.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(e.Name(), atomicfile.TempPrefix) {
			out = append(out, p)
		}
		return nil
	})
	return out
}

// An account archive past a bound is refused with the bound named, within
// a deadline; nothing of it is left, the previous retrieval's folder of
// that account stays, and the other archives are retrieved.
func TestRetrieveHostileArchive(t *testing.T) {
	for _, tc := range []struct {
		name string
		body s3hostile.Body
		lim  Limits
		o    s3.Options
		want string
	}{
		{"endless tar of small files", s3hostile.EndlessTar("items", 20, false), Limits{Files: 5000}, s3.Options{}, "more than 5000 entries"},
		{"endless tar of large files", s3hostile.EndlessTar("items", 1<<20, false), Limits{Bytes: 16 << 20}, s3.Options{}, "more than 16777216 bytes inflated"},
		{"endless incompressible tar", s3hostile.EndlessTar("items", 64<<10, true), Limits{Compressed: 4 << 20}, s3.Options{}, "more than 4194304 bytes"},
		{"200 MiB announced", s3hostile.Oversize(200 << 20), Limits{Compressed: 64 << 20}, s3.Options{}, "the store announces 209715200 bytes (an archive takes at most 67108864)"},
		{"a byte a second", s3hostile.Trickle(s3hostile.TarGz(map[string][]byte{"account_info": []byte(`{"id":"bad","v":2}`)})), Limits{Time: 2 * time.Second}, s3.Options{}, "not fetched and unpacked within 2s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := s3hostile.Start(t)
			goodArchives(srv)
			srv.Put("p/"+AccountArchive("bad"), s3hostile.TarGz(map[string][]byte{"account_info": []byte(`{"id":"bad","v":1}`)}))
			b := hostileStore(t, srv, tc.o)
			dest := t.TempDir()
			// A first retrieval, honest.
			_, err := Retrieve(context.Background(), b, dest, 4, atomicfile.Options{NoSync: true}, tc.lim)
			require.NoError(t, err)
			// Then the bad account's archive changes into a lie.
			srv.Lie("p/"+AccountArchive("bad"), []byte("changed"), tc.body)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			rep, rerr := Retrieve(ctx, b, dest, 4, atomicfile.Options{NoSync: true}, tc.lim)
			err = rerr
			require.NoError(t, ctx.Err(), "still retrieving after a minute")
			var partial *PartialError
			require.True(t, errors.As(err, &partial), "%v", err)
			require.Len(t, partial.Failed, 1)
			assert.Equal(t, "bad", partial.Failed[0].Account)
			assert.Contains(t, err.Error(), "account bad: accounts/bad.tar.gz: "+tc.want)
			assert.NotContains(t, err.Error(), "\n")
			assert.Equal(t, 1, rep.Failed)
			assert.Empty(t, leftovers(t, dest), "nothing of the refused archive is left")
			got, err := os.ReadFile(filepath.Join(dest, "accounts", "bad", "account_info"))
			require.NoError(t, err)
			assert.Equal(t, `{"id":"bad","v":1}`, string(got), "the account keeps what the last retrieval gave it")
			_, err = os.Stat(filepath.Join(dest, "accounts", "good", "items", "01", "101"))
			assert.NoError(t, err, "the other account is there")
			t.Logf("%d bytes sent: %v", srv.Sent.Load(), rerr)
		})
	}
}

// The server archive past a bound leaves the server files as they were.
func TestRetrieveHostileServerArchive(t *testing.T) {
	srv := s3hostile.Start(t)
	goodArchives(srv)
	b := hostileStore(t, srv, s3.Options{})
	dest := t.TempDir()
	_, err := Retrieve(context.Background(), b, dest, 4, atomicfile.Options{NoSync: true}, Limits{})
	require.NoError(t, err)
	srv.Lie("p/"+ServerArchive, []byte("changed"), s3hostile.EndlessTar("server", 20, false))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err = Retrieve(ctx, b, dest, 4, atomicfile.Options{NoSync: true}, Limits{Files: 5000})
	require.NoError(t, ctx.Err())
	var partial *PartialError
	require.True(t, errors.As(err, &partial), "%v", err)
	assert.Contains(t, err.Error(), "server files: server.tar.gz: more than 5000 entries")
	assert.Empty(t, leftovers(t, dest))
	got, err := os.ReadFile(filepath.Join(dest, "backupstat"))
	require.NoError(t, err)
	assert.Equal(t, `{"serverId":"new"}`, string(got))
	_, err = os.Stat(filepath.Join(dest, "server"))
	assert.True(t, os.IsNotExist(err), "no entry of the refused archive reached the tree")
}

// A listing of account archives that does not end is bounded by the
// number of accounts Retrieve takes, and by the store's listing bounds.
func TestRetrieveHostileListing(t *testing.T) {
	for _, tc := range []struct {
		name    string
		listing s3hostile.Listing
		lim     Limits
		want    string
	}{
		{"more archives than accounts", s3hostile.ListEndless, Limits{Archives: 5000}, "more than 5000 objects under accounts/"},
		{"a listing that repeats", s3hostile.ListRepeat, Limits{}, "listing does not end"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := s3hostile.Start(t)
			srv.LiePrefix, srv.Listing = "p/accounts/", tc.listing
			b := hostileStore(t, srv, s3.Options{})
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			_, err := Retrieve(ctx, b, t.TempDir(), 4, atomicfile.Options{NoSync: true}, tc.lim)
			require.NoError(t, ctx.Err())
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	t.Run("UploadBlobs: an endless items/ listing", func(t *testing.T) {
		srv := s3hostile.Start(t)
		srv.LiePrefix, srv.Listing = "p/items/", s3hostile.ListEndless
		b := hostileStore(t, srv, s3.Options{MaxListEntries: 50000})
		root := t.TempDir()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_, err := UploadBlobs(ctx, root, b, 4)
		require.NoError(t, ctx.Err())
		assert.ErrorIs(t, err, objstore.ErrListing)
	})
}
