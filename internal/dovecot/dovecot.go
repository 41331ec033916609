// Package dovecot runs a real, throw-away Dovecot (IMAP + LMTP) on loopback
// for tests: its own config, users, mail and ports in one folder, no
// systemd, stopped with SIGKILL to its whole process group.
//
// It installs nothing. If the dovecot binary is missing, Start skips the
// test with a message naming the packages to install (dovecot-imapd,
// dovecot-lmtpd), or fails it when CBFS_REQUIRE_DOVECOT=1 (set it in CI so
// a missing server cannot turn into a silently skipped test).
//
// Mail is stored as Maildir++ under MailRoot()/<domain>/<local>/Maildir, so
// the same tree can be read as a maildir: source.
package dovecot

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/textproto"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"
)

// Admin is the master user's name: "user*admin" logs in as any user.
const Admin = "admin"

// RequireEnv, when "1", makes Start fail instead of skip without dovecot.
const RequireEnv = "CBFS_REQUIRE_DOVECOT"

// Packages are the Debian packages that provide what this harness runs.
const Packages = "dovecot-imapd dovecot-lmtpd"

// Server is one running Dovecot.
type Server struct {
	Dir       string // everything lives here
	IMAPAddr  string // host:port
	LMTPAddr  string // host:port
	AdminPass string // the master user's password
	PID       int    // the master process (leader of its process group)

	opt Options

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// Options change the generated config.
type Options struct {
	// MailLocation replaces "maildir:~/Maildir". %-variables are Dovecot's
	// (%u: the user name); "$STATE" is replaced by StateDir(), a folder
	// the mail processes may write (for INDEX= and CONTROL= of a read-only
	// Maildir, e.g. the cbfs mount's Maildir view).
	MailLocation string
	// Extra is appended to the config ("$STATE" replaced as above).
	Extra string
}

// StateDir is a folder, writable by the mail processes, for the indexes
// and control files of mail_location's that cannot hold them.
func (s *Server) StateDir() string { return s.path("mailstate") }

// Binary returns the dovecot binary's path, or an error saying how to
// install it.
func Binary() (string, error) {
	for _, p := range []string{"dovecot", "/usr/sbin/dovecot"} {
		if path, err := exec.LookPath(p); err == nil {
			return path, nil
		}
	}
	return "", fmt.Errorf("dovecot is not installed (apt-get install -y %s)", Packages)
}

// Start runs a Dovecot for the test with the given users (address ->
// password) and stops it when the test ends, whatever its outcome.
func Start(t testing.TB, users map[string]string) *Server {
	t.Helper()
	return StartWith(t, users, Options{})
}

// StartWith is Start with Options.
func StartWith(t testing.TB, users map[string]string, opt Options) *Server {
	t.Helper()
	if _, err := Binary(); err != nil {
		if os.Getenv(RequireEnv) == "1" {
			t.Fatalf("%v (and %s=1)", err, RequireEnv)
		}
		t.Skipf("skipping: %v", err)
	}
	dir := t.TempDir()
	// t.TempDir folders are 0700; Dovecot's auth and mail processes run
	// as other users and must traverse them.
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatalf("dovecot: %v", err)
		}
	}
	s, err := NewWith(dir, users, opt)
	if err != nil {
		t.Fatalf("dovecot: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("dovecot log:\n%s", s.Log())
		}
		s.Close()
	})
	return s
}

// New starts a Dovecot whose files all live in dir (which must exist and
// be traversable by other users). Close stops it.
func New(dir string, users map[string]string) (*Server, error) {
	return NewWith(dir, users, Options{})
}

// NewWith is New with Options.
func NewWith(dir string, users map[string]string, opt Options) (*Server, error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	s := &Server{Dir: dir, opt: opt, AdminPass: "adminpw-" + strconv.FormatInt(time.Now().UnixNano()%1e9, 36)}
	if err := s.writeFiles(users); err != nil {
		return nil, err
	}
	var last error
	for attempt := 0; attempt < 5; attempt++ {
		err := s.start(bin)
		if err == nil {
			return s, nil
		}
		last = err
		if !strings.Contains(err.Error(), "in use") {
			break
		}
	}
	return nil, last
}

func (s *Server) path(name string) string { return filepath.Join(s.Dir, name) }

// MailRoot is the folder holding every user's mail: <domain>/<local>/Maildir.
func (s *Server) MailRoot() string { return s.path("mail") }

// MaildirOf is the Maildir++ folder of user ("alice@example.test").
func (s *Server) MaildirOf(user string) string {
	local, domain, _ := strings.Cut(user, "@")
	return filepath.Join(s.MailRoot(), domain, local, "Maildir")
}

// SourceURL is an imap:// URL with the master login, as scan.ParseSource
// takes it.
func (s *Server) SourceURL() string {
	return "imap://" + Admin + ":" + s.AdminPass + "@" + s.IMAPAddr
}

// Log returns Dovecot's log so far (for failure messages).
func (s *Server) Log() string {
	b, _ := os.ReadFile(s.path("dovecot.log"))
	return string(b)
}

func (s *Server) writeFiles(users map[string]string) error {
	for _, d := range []string{"run", "state", "mail", "mailstate"} {
		if err := os.MkdirAll(s.path(d), 0o755); err != nil {
			return err
		}
		if err := os.Chmod(s.path(d), 0o755); err != nil {
			return err
		}
	}
	// As root, the mail folders belong to the mail user of the config
	// (nobody:nogroup); otherwise they are already the running user's.
	if os.Geteuid() == 0 {
		for _, d := range []string{"mail", "mailstate"} {
			if err := chownName(s.path(d), "nobody", "nogroup"); err != nil {
				return err
			}
		}
	}
	var b bytes.Buffer
	for u, pw := range users {
		b.WriteString(userLine(u, pw))
	}
	// Chmod as well: the process umask may be 077 (an operations.Runner
	// sets the --umask of the files it writes), and Dovecot's auth process
	// reads these as its own user.
	for name, content := range map[string][]byte{"masters": []byte(Admin + ":{PLAIN}" + s.AdminPass + "\n"), "users": b.Bytes()} {
		if err := os.WriteFile(s.path(name), content, 0o644); err != nil {
			return err
		}
		if err := os.Chmod(s.path(name), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// userLine is a passwd-file line; Dovecot wants the trailing empty fields.
func userLine(user, pw string) string { return user + ":{PLAIN}" + pw + "::::::\n" }

func chownName(path, uname, gname string) error {
	u, err := user.Lookup(uname)
	if err != nil {
		return err
	}
	g, err := user.LookupGroup(gname)
	if err != nil {
		return err
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(g.Gid)
	return os.Chown(path, uid, gid)
}

func (s *Server) config(imapPort, lmtpPort int) string {
	uid, gid, internal, login := "nobody", "nogroup", "dovecot", "dovenull"
	if os.Geteuid() != 0 {
		if u, err := user.Current(); err == nil {
			uid, internal, login = u.Username, u.Username, u.Username
			gid = u.Gid
			if g, err := user.LookupGroupId(u.Gid); err == nil {
				gid = g.Name
			}
		}
	}
	d := s.Dir
	loc := "maildir:~/Maildir"
	if s.opt.MailLocation != "" {
		loc = strings.ReplaceAll(s.opt.MailLocation, "$STATE", s.StateDir())
	}
	return fmt.Sprintf(`# written by cbfs internal/dovecot
protocols = imap lmtp
listen = 127.0.0.1
base_dir = %[1]s/run
state_dir = %[1]s/state
instance_name = cbfs-test-%[2]d
log_path = %[1]s/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
login_trusted_networks = 127.0.0.0/8
auth_master_user_separator = *
default_internal_user = %[5]s
default_login_user = %[6]s
mail_uid = %[3]s
mail_gid = %[4]s
first_valid_uid = 0
first_valid_gid = 0
mail_home = %[1]s/mail/%%d/%%n
mail_location = %[9]s
lmtp_save_to_detail_mailbox = no
namespace inbox {
  inbox = yes
  separator = /
  prefix =
  mailbox Trash {
    special_use = \Trash
  }
  mailbox Junk {
    special_use = \Junk
  }
  mailbox Sent {
    special_use = \Sent
  }
  mailbox Drafts {
    special_use = \Drafts
  }
}
passdb {
  driver = passwd-file
  args = %[1]s/masters
  master = yes
  result_success = continue
}
passdb {
  driver = passwd-file
  args = username_format=%%u %[1]s/users
}
userdb {
  driver = passwd-file
  args = username_format=%%u %[1]s/users
  default_fields = uid=%[3]s gid=%[4]s home=%[1]s/mail/%%d/%%n
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = %[7]d
  }
  inet_listener imaps {
    port = 0
  }
  chroot =
}
service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = %[8]d
  }
}
service anvil {
  chroot =
}
protocol imap {
  mail_max_userip_connections = 100
}
`, d, os.Getpid(), uid, gid, internal, login, imapPort, lmtpPort, loc) +
		strings.ReplaceAll(s.opt.Extra, "$STATE", s.StateDir())
}

// freePort asks the kernel for a free loopback port.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (s *Server) start(bin string) error {
	ip, err := freePort()
	if err != nil {
		return err
	}
	lp, err := freePort()
	if err != nil {
		return err
	}
	if lp == ip {
		return errors.New("port in use")
	}
	conf := s.path("dovecot.conf")
	if err := os.WriteFile(conf, []byte(s.config(ip, lp)), 0o644); err != nil {
		return err
	}
	os.Remove(s.path("dovecot.log"))
	var stderr bytes.Buffer
	cmd := exec.Command(bin, "-F", "-c", conf)
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start dovecot: %w", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	s.mu.Lock()
	s.cmd, s.done, s.PID = cmd, done, cmd.Process.Pid
	s.mu.Unlock()
	s.IMAPAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(ip))
	s.LMTPAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(lp))

	deadline := time.Now().Add(15 * time.Second)
	for {
		select {
		case <-done:
			log := s.Log()
			s.kill()
			msg := strings.TrimSpace(stderr.String() + "\n" + log)
			if strings.Contains(msg, "Address already in use") {
				return fmt.Errorf("dovecot: port in use: %s", msg)
			}
			return fmt.Errorf("dovecot exited at start: %s", msg)
		default:
		}
		if ready(s.IMAPAddr) && ready(s.LMTPAddr) {
			return nil
		}
		if time.Now().After(deadline) {
			s.kill()
			return fmt.Errorf("dovecot did not listen on %s within 15s: %s", s.IMAPAddr, s.Log())
		}
		time.Sleep(3 * time.Millisecond)
	}
}

func ready(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// kill sends SIGKILL to the master's whole process group and reaps it.
func (s *Server) kill() {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
	}
}

// Close stops the server at once (SIGKILL to its process group).
func (s *Server) Close() error {
	s.kill()
	return nil
}

// AddUser adds a user. Dovecot's passwd-file driver re-reads the file
// when its size or mtime changed, but checks at most once per wall-clock
// second; AddUser therefore returns only after the next second has begun,
// so the user can log in (or receive mail) at once. Pass all users to
// Start, or use AddUsers, to pay that wait once.
func (s *Server) AddUser(user, pw string) error {
	return s.AddUsers(map[string]string{user: pw})
}

// AddUsers adds several users with one wait (see AddUser).
func (s *Server) AddUsers(users map[string]string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := os.OpenFile(s.path("users"), os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("add users: %w", err)
	}
	var b strings.Builder
	for u, pw := range users {
		b.WriteString(userLine(u, pw))
	}
	if _, err := f.WriteString(b.String()); err != nil {
		f.Close()
		return fmt.Errorf("add users: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("add users: %w", err)
	}
	now := time.Now()
	time.Sleep(now.Truncate(time.Second).Add(time.Second + 20*time.Millisecond).Sub(now))
	return nil
}

// Login opens an IMAP connection logged in as user through the master
// user ("user*admin"). The caller logs out or closes it.
func (s *Server) Login(user string) (*imapclient.Client, error) {
	c, err := imapclient.DialInsecure(s.IMAPAddr, nil)
	if err != nil {
		return nil, fmt.Errorf("imap dial %s: %w", s.IMAPAddr, err)
	}
	if err := c.Login(user+"*"+Admin, s.AdminPass).Wait(); err != nil {
		c.Close()
		return nil, fmt.Errorf("imap login as %s: %w", user, err)
	}
	return c, nil
}

// Deliver hands msg to Dovecot's LMTP service for the recipients, as an
// MTA would. Bare LF line ends are sent as CRLF.
func (s *Server) Deliver(from string, to []string, msg []byte) error {
	conn, err := net.DialTimeout("tcp", s.LMTPAddr, 5*time.Second)
	if err != nil {
		return fmt.Errorf("lmtp dial: %w", err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	tp := textproto.NewConn(conn)
	expect := func(code int) error {
		_, _, err := tp.ReadResponse(code)
		return err
	}
	cmd := func(code int, format string, args ...any) error {
		if err := tp.PrintfLine(format, args...); err != nil {
			return err
		}
		return expect(code)
	}
	if err := expect(220); err != nil {
		return fmt.Errorf("lmtp greeting: %w", err)
	}
	if err := cmd(250, "LHLO localhost"); err != nil {
		return fmt.Errorf("lmtp LHLO: %w", err)
	}
	if err := cmd(250, "MAIL FROM:<%s>", from); err != nil {
		return fmt.Errorf("lmtp MAIL FROM: %w", err)
	}
	for _, r := range to {
		if err := cmd(250, "RCPT TO:<%s>", r); err != nil {
			return fmt.Errorf("lmtp RCPT TO %s: %w", r, err)
		}
	}
	if err := cmd(354, "DATA"); err != nil {
		return fmt.Errorf("lmtp DATA: %w", err)
	}
	w := tp.DotWriter() // dot-stuffs and turns \n into \r\n
	if _, err := w.Write(bytes.ReplaceAll(msg, []byte("\r\n"), []byte("\n"))); err != nil {
		return fmt.Errorf("lmtp data: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("lmtp data: %w", err)
	}
	// LMTP answers once per recipient.
	for _, r := range to {
		if err := expect(250); err != nil {
			return fmt.Errorf("lmtp delivery to %s: %w", r, err)
		}
	}
	tp.PrintfLine("QUIT")
	return nil
}

// Users lists the users in the passwd-file, in file order.
func (s *Server) Users() ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := os.Open(s.path("users"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if u, _, ok := strings.Cut(sc.Text(), ":"); ok && u != "" {
			out = append(out, u)
		}
	}
	return out, sc.Err()
}
