package s3

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// credsWithin runs credentialsFor and fails the test if it blocks (a FIFO
// opened for reading without a writer blocks forever).
func credsWithin(t *testing.T, o Options) (id, secret string, err error) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, e := credentialsFor(o)
		if e != nil {
			err = e
			return
		}
		v, e := c.GetWithContext(nil)
		id, secret, err = v.AccessKeyID, v.SecretAccessKey, e
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("credentialsFor blocked for 20 s")
	}
	return id, secret, err
}

// TestCredentials: the chain of today (--s3-credentials, else the
// environment, else ~/.aws/credentials, AWS_PROFILE and [profile x]
// sections as minio-go reads them), with the files read by cbfs: /dev/zero,
// a FIFO or a 100 MB file fail at once, naming the file.
func TestCredentials(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("HOME", dir)
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_ACCESS_KEY", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	t.Setenv("AWS_SECRET_KEY", "")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "")
	file := filepath.Join(dir, "creds")
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(file, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("# comment\n[default]\naws_access_key_id = AK1\naws_secret_access_key = SK1\n\n[profile other]\naws_access_key_id=AK2\naws_secret_access_key=SK2\n[half]\naws_access_key_id=AK3\n")

	check := func(name string, o Options, wantID, wantErr string) {
		t.Helper()
		id, secret, err := credsWithin(t, o)
		switch {
		case wantErr != "":
			if err == nil || !strings.Contains(err.Error(), wantErr) || strings.Contains(err.Error(), "\n") {
				t.Errorf("%s: error %v, want one line containing %q", name, err, wantErr)
			}
		case err != nil:
			t.Errorf("%s: %v", name, err)
		case id != wantID || (id != "" && secret == ""):
			t.Errorf("%s: key %q (secret %q), want %q", name, id, secret, wantID)
		}
	}
	check("--s3-credentials", Options{CredentialsFile: file}, "AK1", "")
	check("--s3-credentials, [profile other]", Options{CredentialsFile: file, Profile: "other"}, "AK2", "")
	t.Setenv("AWS_PROFILE", "other")
	check("--s3-credentials, AWS_PROFILE", Options{CredentialsFile: file}, "AK2", "")
	t.Setenv("AWS_PROFILE", "")
	check("--s3-credentials, half a pair", Options{CredentialsFile: file, Profile: "half"}, "",
		"--s3-credentials "+file+`: no aws_access_key_id/aws_secret_access_key in profile "half"`)
	check("--s3-credentials, no such profile", Options{CredentialsFile: file, Profile: "none"}, "", `in profile "none"`)
	check("--s3-credentials missing", Options{CredentialsFile: filepath.Join(dir, "missing")}, "", "no such file or directory")

	// No file named: the environment, else ~/.aws/credentials.
	check("nothing anywhere", Options{}, "", "")
	if err := os.MkdirAll(filepath.Join(dir, ".aws"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(file, filepath.Join(dir, ".aws", "credentials")); err != nil {
		t.Fatal(err)
	}
	check("~/.aws/credentials", Options{}, "AK1", "")
	t.Setenv("AWS_ACCESS_KEY_ID", "ENV")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "ENVSECRET")
	check("the environment first", Options{}, "ENV", "")
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	write("[default]\naws_access_key_id = AK9\naws_secret_access_key = SK9\n")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", file)
	check("AWS_SHARED_CREDENTIALS_FILE", Options{}, "AK9", "")

	// What must fail at once, naming the file: /dev/zero, a FIFO, 100 MB.
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(100 << 20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	for _, c := range []struct{ path, want string }{
		{"/dev/zero", "not a regular file: character device"},
		{fifo, "not a regular file: FIFO"},
		{big, "file too large"},
	} {
		check("--s3-credentials "+c.path, Options{CredentialsFile: c.path}, "", c.path+": "+c.want)
		t.Setenv("AWS_SHARED_CREDENTIALS_FILE", c.path)
		check("AWS_SHARED_CREDENTIALS_FILE="+c.path, Options{}, "", c.path+": "+c.want)
	}
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "")
	if err := os.Remove(filepath.Join(dir, ".aws", "credentials")); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, ".aws", "credentials"), 0o600); err != nil {
		t.Fatal(err)
	}
	check("~/.aws/credentials a FIFO", Options{}, "", filepath.Join(dir, ".aws", "credentials")+": not a regular file: FIFO")
}
