package s3_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cbfs/cbfs/internal/s3test/s3hostile"
	"github.com/cbfs/cbfs/objstore"
	"github.com/cbfs/cbfs/objstore/s3"
)

func hostileBucket(t *testing.T, srv *s3hostile.Server, o s3.Options) *s3.Bucket {
	t.Helper()
	for _, kv := range srv.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	b, err := s3.Open(srv.URL("p"), o)
	require.NoError(t, err)
	return b
}

// An honest listing over several pages is taken whole: the bounds do not
// misfire on a store that behaves.
func TestListHonestPages(t *testing.T) {
	srv := s3hostile.Start(t)
	for i := range 2500 {
		srv.Put(fmt.Sprintf("p/items/%05d", i), []byte("x"))
	}
	b := hostileBucket(t, srv, s3.Options{})
	var got []string
	require.NoError(t, b.List(context.Background(), "items/", func(o objstore.Object) error {
		got = append(got, o.Name)
		return nil
	}))
	assert.Len(t, got, 2500)
	assert.Equal(t, int64(3), srv.Lists.Load(), "three pages")
	require.NoError(t, b.Check(context.Background()))
}

// A listing that does not end as a real store's ends with ErrListing, in
// one line naming the bound, within a deadline: never a loop.
func TestListDoesNotEnd(t *testing.T) {
	for _, tc := range []struct {
		name    string
		listing s3hostile.Listing
		opt     s3.Options
		want    string
	}{
		{"truncated forever", s3hostile.ListEndless, s3.Options{MaxListEntries: 20000}, "more than 20000 keys"},
		{"the same page again", s3hostile.ListRepeat, s3.Options{}, "increasing order"},
		{"back to the first key", s3hostile.ListBackward, s3.Options{}, "increasing order"},
		{"the token handed back", s3hostile.ListSameToken, s3.Options{}, "handed back the continuation token"},
		{"pages without keys", s3hostile.ListEmptyPages, s3.Options{}, "pages in a row without a key"},
		{"a page that never ends", s3hostile.ListHugePage, s3.Options{}, "a page of more than 2097152 bytes"},
		{"a page a byte a second", s3hostile.ListSlowPage, s3.Options{Timeout: 2 * time.Second}, "not received whole within 2s"},
		{"listing time", s3hostile.ListEndless, s3.Options{ListTimeout: 2 * time.Second}, "not done after 2s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := s3hostile.Start(t)
			srv.LiePrefix, srv.Listing = "p/accounts/", tc.listing
			b := hostileBucket(t, srv, tc.opt)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			n := 0
			err := b.List(ctx, "accounts/", func(objstore.Object) error { n++; return nil })
			require.NoError(t, ctx.Err(), "the listing was still going after a minute")
			require.Error(t, err)
			assert.True(t, errors.Is(err, objstore.ErrListing), "%v", err)
			assert.Contains(t, err.Error(), "listing does not end")
			assert.Contains(t, err.Error(), tc.want)
			assert.NotContains(t, err.Error(), "\n")
			t.Logf("%d keys, %d pages, %d bytes sent: %v", n, srv.Lists.Load(), srv.Sent.Load(), err)
		})
	}
}
