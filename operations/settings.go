package operations

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/external"
	"github.com/cbfs/cbfs/internal/atomicfile"
	"github.com/cbfs/cbfs/internal/confined"
	"github.com/cbfs/cbfs/internal/grammar"
	"github.com/cbfs/cbfs/objstore/s3"
	"github.com/cbfs/cbfs/restore"
	"github.com/cbfs/cbfs/scan"
	"github.com/cbfs/cbfs/statedir"
)

// DefaultRetentionDays is Carbonio's default data retention.
const DefaultRetentionDays = 30

// Flags are the service settings both `cbfs serve` and cbctl's foreground
// operations take (the Backup Path is each binary's own flag, --config
// cli.ServiceFlags'). Their names are also the keys of the --config file
// (see cli.JSONLoader).
type Flags struct {
	Source             string   `name:"source" placeholder:"URL" help:"The live mail source: maildir:/path (a tree of Maildir++ accounts) or imap://admin@host:port (a master login; its password from --imap-password-file, $CBFS_IMAP_PASSWORD, the systemd credential imap-password, or a prompt on a terminal)."`
	IMAPPasswordFile   string   `name:"imap-password-file" placeholder:"FILE" help:"File holding the IMAP master password of --source and --restore-target when their URLs have none (its first line; e.g. a systemd LoadCredential file)."`
	AccountsFile       string   `name:"accounts-file" placeholder:"FILE" help:"The account list: one account a line, \"name [cos]\"; # starts a comment. IMAP sources scan exactly these; Maildir sources take their COS from it."`
	StateDir           string   `name:"state-dir" placeholder:"DIR" help:"Service state: lock, operation queue, index, backup toggles (default: /var/lib/cbfs for root, $XDG_STATE_HOME/cbfs or ~/.local/state/cbfs otherwise)."`
	Socket             string   `name:"socket" placeholder:"PATH" help:"The service's Unix socket (default: <state-dir>/cbfs.sock)."`
	RetentionDays      int      `name:"retention-days" default:"30" help:"Data retention in days for doPurge (0: keep forever)."`
	ConfigPaths        []string `name:"config-path" placeholder:"PATH" help:"Server configuration files or folders to archive once a day as the customizations backup (repeatable)."`
	Notify             []string `name:"notify" placeholder:"ADDRESS" help:"Notification addresses of every operation's report (repeatable): the report is mailed to them with --smtp, else they are only listed in it."`
	ReadErrorThreshold int      `name:"read-error-threshold" default:"0" help:"Stop scanning an account after that many unreadable messages (0: never)."`
	ScanMaxFileSize    Size     `name:"scan-max-file-size" placeholder:"SIZE" help:"A scan does not read a message larger than SIZE (bytes, or a number with K, M or G, powers of 1024; 0 for no limit): it counts it as a read error naming its size. Default: 1G, above any real message; large messages are streamed, never held in memory."`
	RestoreTarget      string   `name:"restore-target" placeholder:"URL" help:"Where restores go when they name no target: maildir:/path or imap://admin@host:port (password as --source's; default: the --source when it is an IMAP server)."`
	SMTP               string   `name:"smtp" placeholder:"HOST:PORT" help:"SMTP server that mails operation reports to their notifications addresses (default: none, the addresses are only recorded)."`
	SMTPFrom           string   `name:"smtp-from" placeholder:"ADDRESS" help:"Sender of the notification mails (default: cbfs@localhost)."`
	SMTPUser           string   `name:"smtp-user" placeholder:"NAME" help:"Log in to --smtp as NAME (AUTH PLAIN, over STARTTLS or to localhost only); its password from --smtp-password-file, $CBFS_SMTP_PASSWORD or the systemd credential smtp-password."`
	SMTPPasswordFile   string   `name:"smtp-password-file" placeholder:"FILE" help:"File holding the password of --smtp-user (its first line)."`
	Umask              string   `name:"umask" default:"077" placeholder:"OCTAL" help:"Permission bits removed from every file and folder written (Backup Path, state directory): 077 keeps backed-up mail private (files 0600, folders 0700); 027 lets the folders' group read it."`
}

// Settings are everything an operation needs.
type Settings struct {
	BackupPath string
	KeyMap     string // --keymap FILE: how to read the item and account files of another dialect ("" infers)
	Flags
	// S3 reaches s3:// Backup Paths (a restore's source): --s3-insecure,
	// --s3-endpoint ... of cbctl or cbfs serve, with the URL's own
	// parameters (endpoint=, insecure=1 ...) as s3.Open combines them.
	S3 s3.Options
}

// OpenPath opens a Backup Path (the service's, or a restore's source) with
// the keymap. An s3://bucket/prefix source (one kept by cbfs serve
// --external) has its metadata archives fetched into the state directory's
// s3-cache/ folder and its blobs fetched on demand (package external);
// credentials come from the environment or ~/.aws/credentials. If some of
// its archives could not be retrieved, it returns the Path of the others
// with an *external.PartialError (a restore goes on and reports those
// accounts failed; every other caller takes it as the error it is).
func (s *Settings) OpenPath(root string) (*backuppath.Path, error) {
	if s3.IsURL(root) {
		return s.openS3(root)
	}
	return backuppath.OpenWithKeyMap(root, s.KeyMap)
}

// openS3 opens the Backup Path kept at an s3:// URL.
func (s *Settings) openS3(rawURL string) (*backuppath.Path, error) {
	b, err := s3.Open(rawURL, s.S3)
	if err != nil {
		return nil, err
	}
	ctx := context.Background()
	if err := b.Check(ctx); err != nil {
		return nil, err
	}
	bp, _, err := external.Open(ctx, b, external.CacheRoot(filepath.Join(s.StateDir, "s3-cache"), b), 0, s.KeyMap, 16, external.Limits{})
	return bp, err
}

// Dir is the state directory (its layout: package statedir).
func (s *Settings) Dir() statedir.Dir { return statedir.Dir(s.StateDir) }

// Normalize fills the defaults (state directory, socket) and makes paths
// absolute. It checks the values but opens nothing.
func (s *Settings) Normalize() error {
	if s.StateDir == "" {
		d, err := statedir.Default()
		if err != nil {
			return err
		}
		s.StateDir = d.Path()
	}
	abs := func(p *string) error {
		if *p == "" {
			return nil
		}
		a, err := filepath.Abs(*p)
		if err != nil {
			return fmt.Errorf("%s: %w", *p, err)
		}
		*p = a
		return nil
	}
	for _, p := range []*string{&s.StateDir, &s.BackupPath, &s.AccountsFile, &s.Socket, &s.IMAPPasswordFile} {
		if err := abs(p); err != nil {
			return err
		}
	}
	if s.Socket == "" {
		s.Socket = s.Dir().Socket()
	}
	if s.RetentionDays < 0 {
		return fmt.Errorf("retention-days: want 0 or more, got %d", s.RetentionDays)
	}
	if s.RestoreTarget != "" {
		if _, err := restore.ParseTarget(s.RestoreTarget); err != nil {
			return fmt.Errorf("restore-target: %w", err)
		}
	}
	if s.SMTP != "" {
		if _, _, err := net.SplitHostPort(s.SMTP); err != nil {
			return fmt.Errorf("smtp: want HOST:PORT, got %q", s.SMTP)
		}
	}
	if _, err := s.UmaskMode(); err != nil {
		return err
	}
	if s.ReadErrorThreshold < 0 {
		return fmt.Errorf("read-error-threshold: want 0 or more, got %d", s.ReadErrorThreshold)
	}
	if _, err := grammar.ParseSize(string(s.ScanMaxFileSize)); err != nil {
		return fmt.Errorf("scan-max-file-size: %w", err)
	}
	return nil
}

// UmaskMode is --umask as a mode ("" is atomicfile.DefaultUmask, 077).
func (s *Settings) UmaskMode() (os.FileMode, error) {
	v := strings.TrimSpace(s.Umask)
	if v == "" {
		return atomicfile.DefaultUmask, nil
	}
	n, err := strconv.ParseUint(v, 8, 32)
	if err != nil || n > 0o777 {
		return 0, fmt.Errorf("umask: want an octal mask such as 077 or 027, got %q", s.Umask)
	}
	if n&0o700 != 0 {
		return 0, fmt.Errorf("umask %s would make files unreadable by cbfs itself (owner bits set)", v)
	}
	return os.FileMode(n), nil
}

// MaxAccountsFile is the most an account list (--accounts-file, a
// restore's input_file) may hold: 16 MiB, some 200,000 lines of 80 bytes,
// more than any server's accounts; a file named by mistake (/dev/zero, a
// log) fails at once instead of being read whole.
const MaxAccountsFile = 16 << 20

// ReadAccountsFile reads an account list: one account a line, "name
// [cos]", blank lines and lines starting with # ignored. The path is the
// administrator's (symbolic links followed); only a regular file of at
// most MaxAccountsFile bytes is read (confined.ReadNamed).
func ReadAccountsFile(path string) ([]scan.AccountSpec, error) {
	b, err := confined.ReadNamed(path, MaxAccountsFile)
	if err != nil {
		return nil, fmt.Errorf("accounts file: %w", err)
	}
	return ParseAccounts(bytes.NewReader(b), path)
}

// ParseAccounts parses an account list (see ReadAccountsFile); name is for
// error messages.
func ParseAccounts(r io.Reader, name string) ([]scan.AccountSpec, error) {
	var out []scan.AccountSpec
	seen := map[string]int{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) > 2 {
			return nil, fmt.Errorf("accounts file %s line %d: want \"name [cos]\", got %q", name, n, line)
		}
		acct := scan.AccountSpec{Name: fields[0]}
		if !strings.Contains(acct.Name, "@") {
			return nil, fmt.Errorf("accounts file %s line %d: %q is not an address (name@domain)", name, n, acct.Name)
		}
		if len(fields) == 2 {
			acct.COS = fields[1]
		}
		key := strings.ToLower(acct.Name)
		if prev, ok := seen[key]; ok {
			return nil, fmt.Errorf("accounts file %s line %d: %s already listed on line %d", name, n, acct.Name, prev)
		}
		seen[key] = n
		out = append(out, acct)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("accounts file %s: %w", name, err)
	}
	return out, nil
}

// ScanMaxFileSizeBytes is --scan-max-file-size as scan.Options.MaxFileSize:
// "" is the scan's default (0), "0" no limit (-1).
func (s *Settings) ScanMaxFileSizeBytes() int64 {
	if strings.TrimSpace(string(s.ScanMaxFileSize)) == "" {
		return 0
	}
	n, _ := grammar.ParseSize(string(s.ScanMaxFileSize)) // checked by Normalize
	if n == 0 {
		return -1
	}
	return n
}
