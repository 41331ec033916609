package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// go-fuse mounts through fusermount3 (non-root users, and root when the
// direct mount fails) and hands it this process's stderr; its own message
// ("option allow_other only allowed if 'user_allow_other' is set in
// /etc/fuse.conf") is the only useful part of the failure, go-fuse's error
// being "fusermount exited with code 256". A --daemon child's stderr is a
// log file or /dev/null, so the parent would never see it. withStderr
// lets fd 2 be a pipe while fn runs and returns what was written to it;
// the caller folds it into the error (or writes it out on success).

// maxCaptured bounds what withStderr keeps (fusermount3 says one line).
const maxCaptured = 8 << 10

// stderrMu serialises withStderr (cbfs serve may remount while mounting).
var stderrMu sync.Mutex

// withStderr runs fn with fd 2 redirected into a pipe, and returns fn's
// error and the bytes written to fd 2 meanwhile (at most maxCaptured). If
// the redirection cannot be set up, fn runs as it is.
func withStderr(fn func() error) ([]byte, error) {
	stderrMu.Lock()
	defer stderrMu.Unlock()
	saved, err := unix.Dup(2)
	if err != nil {
		return nil, fn()
	}
	defer unix.Close(saved)
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fn()
	}
	var buf bytes.Buffer
	done := make(chan struct{})
	go func() {
		defer close(done)
		io.Copy(&limited{&buf, maxCaptured}, r)
		r.Close()
	}()
	if err := unix.Dup2(int(w.Fd()), 2); err != nil {
		w.Close()
		<-done
		return nil, fn()
	}
	ferr := fn()
	unix.Dup2(saved, 2)
	w.Close()
	<-done
	return buf.Bytes(), ferr
}

// limited keeps the first n bytes written and drops the rest.
type limited struct {
	b *bytes.Buffer
	n int
}

func (l *limited) Write(p []byte) (int, error) {
	if room := l.n - l.b.Len(); room > 0 {
		l.b.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

// fusermountError is err with what fusermount3 said (out) in one line.
func fusermountError(err error, out []byte) error {
	msg := strings.Join(strings.Fields(string(out)), " ")
	if msg == "" {
		return err
	}
	e := strings.TrimSpace(err.Error())
	if strings.Contains(msg, "user_allow_other") {
		msg += " (as root, add the line user_allow_other to /etc/fuse.conf to let other users mount with --allow-other)"
	}
	return fmt.Errorf("%s: %s", e, msg)
}
