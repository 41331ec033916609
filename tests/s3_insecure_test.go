package tests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/cbfs/cbfs/internal/s3test"
)

// TestCbctlS3Insecure: an s3:// Backup Path on a plain-HTTP store (real
// versitygw) given to cbctl without insecure=1 in its URL fails with one
// line saying how to fix it, and restores with cbctl's --s3-insecure.
func TestCbctlS3Insecure(t *testing.T) {
	mountSkipUnlessFUSE(t) // root, as the other end-to-end S3 tests
	srv := s3test.Start(t)
	s3Env(t, srv)
	dir := t.TempDir()
	bin := mountBinary(t, dir)
	mail, root, st := filepath.Join(dir, "mail"), filepath.Join(dir, "bp"), filepath.Join(dir, "st")
	maildirSource(t, mail, "ann", 3)
	svc := serveStart(t, bin, st, "--backup-path", root, "--source", "maildir:"+mail, "--external", srv.URL("mail01"))
	ok(t, "backup", "doSmartScan", "--wait", "--state-dir", st)
	ok(t, "backup", "doPurge", "--wait", "--state-dir", st) // archives the metadata
	svc.term(t)

	plain := "s3://" + srv.Bucket + "/mail01?endpoint=" + srv.Addr + "&path-style=1" // no insecure=1
	target := filepath.Join(dir, "restored")
	r := cbctl(t, "backup", "doExternalRestore", plain, "target", "maildir:"+target, "--state-dir", filepath.Join(dir, "st2"))
	assert.NotZero(t, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	assert.Equal(t, 1, strings.Count(r.stderr, "cbctl: error: "), "one error line: %s", r.stderr)
	assert.Contains(t, r.stderr, "server gave HTTP response to HTTPS client")
	assert.Contains(t, r.stderr, "use --s3-insecure")

	r = ok(t, "backup", "doExternalRestore", plain, "target", "maildir:"+target, "--state-dir", filepath.Join(dir, "st2"), "--s3-insecure")
	assert.Equal(t, 3, statLine(t, r.stdout, "Restored Items"), r.stdout)
	emls, _ := filepath.Glob(filepath.Join(target, "*", "*", "cur", "*"))
	if len(emls) == 0 {
		emls, _ = filepath.Glob(filepath.Join(target, "*", "cur", "*"))
	}
	assert.Len(t, emls, 3, "three messages restored under %s", target)
	_, err := os.Stat(target)
	assert.NoError(t, err)
}
