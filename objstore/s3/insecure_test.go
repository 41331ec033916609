package s3_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cbfs/cbfs/objstore/s3"
)

// A plain-HTTP store reached over HTTPS: the error says how to fix it.
func TestPlainHTTPStoreSaysInsecure(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no", http.StatusForbidden)
	}))
	defer srv.Close()
	t.Setenv("AWS_ACCESS_KEY_ID", "k")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "s")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	host := strings.TrimPrefix(srv.URL, "http://")
	b, err := s3.Open("s3://bucket/p?endpoint="+host+"&path-style=1", s3.Options{Timeout: 2 * time.Second, Retries: 1,
		Warn: func(string, ...any) {}})
	require.NoError(t, err)
	_, err = b.Stat(context.Background(), "items/ab/abc")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "use --s3-insecure or insecure=1")
}
