package operations

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/internal/grammar"
	"github.com/cbfs/cbfs/internal/notify"
	"github.com/cbfs/cbfs/scan"
)

// ErrNotEmpty marks a folder a scan would write into that holds something
// else than a Backup Path.
var ErrNotEmpty = errors.New("is not empty and is not a Backup Path")

// CheckScanPath refuses a Backup Path to scan into that exists, is not
// empty and is not a Backup Path: a scan would write accounts/, items/ and
// server/ beside what is there. A missing or empty folder becomes a new
// Backup Path.
func CheckScanPath(root string) error {
	fi, err := os.Lstat(root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("backup path %s: %w", root, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("backup path %s: not a folder", root)
	}
	if _, err := backuppath.Open(root); err == nil {
		return nil
	}
	ents, err := os.ReadDir(root)
	if err != nil {
		return fmt.Errorf("backup path %s: %w", root, err)
	}
	for _, e := range ents {
		// What cbfs itself leaves in a new Backup Path.
		if n := e.Name(); n == ".cbfs-writer.lock" || strings.HasPrefix(n, ".cbfs-tmp-") {
			continue
		}
		return fmt.Errorf("backup path %s %w (it holds %q): give a Backup Path, or a missing or empty folder", root, ErrNotEmpty, e.Name())
	}
	return nil
}

// StartProblemsFile is where cbfs serve --check-at-start=warn records the
// problems found at start (one a line; removed when there are none), for
// cbctl backup getAllOperations to show.
func StartProblemsFile(stateDir string) string { return filepath.Join(stateDir, "start-problems.txt") }

// CheckStart checks what the operations will need, before the service
// starts: the source (a Maildir tree that lists, or an IMAP master login
// that logs in as the first account of --accounts-file), the Backup Path
// (CheckScanPath, writable) and the SMTP server. Passwords must have been
// resolved (ResolveSecrets). Errors are one line each, without passwords.
func (r *Runner) CheckStart(ctx context.Context) []error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var out []error
	r.mu.Lock()
	source := r.s.Source
	r.mu.Unlock()
	if source != "" {
		if err := r.checkSource(ctx, source); err != nil {
			out = append(out, fmt.Errorf("source: %s", grammar.OneLine(err.Error())))
		}
	}
	if err := CheckScanPath(r.s.BackupPath); err != nil {
		out = append(out, err)
	} else if err := writable(r.s.BackupPath); err != nil {
		out = append(out, err)
	}
	if r.s.SMTP != "" {
		if err := notify.CheckAs(r.smtp, r.s.SMTP, 10*time.Second); err != nil {
			out = append(out, fmt.Errorf("smtp: %s", grammar.OneLine(err.Error())))
		}
	}
	return out
}

func (r *Runner) checkSource(ctx context.Context, source string) error {
	src, err := scan.ParseSource(source)
	if err != nil {
		return err
	}
	defer src.Close()
	if !strings.HasPrefix(strings.ToLower(source), "imap") {
		_, err := src.Accounts(ctx)
		return err
	}
	accounts := r.accountList()
	if len(accounts) == 0 {
		return errors.New("an IMAP source needs the account list (--accounts-file)")
	}
	mb, err := src.Open(ctx, accounts[0].Name)
	if err != nil {
		return fmt.Errorf("%s: %w", src.String(), err)
	}
	return mb.Close()
}

// writable checks that the Backup Path (or, missing, its nearest existing
// parent) can be written.
func writable(root string) error {
	p := root
	for {
		if _, err := os.Stat(p); err == nil {
			break
		}
		parent := filepath.Dir(p)
		if parent == p {
			break
		}
		p = parent
	}
	if err := unix.Access(p, unix.W_OK|unix.X_OK); err != nil {
		return fmt.Errorf("backup path %s: %s is not writable: %w", root, p, err)
	}
	return nil
}
