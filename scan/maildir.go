package scan

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/cbfs/cbfs/mailbox"
)

// Maildir is a tree of Maildir++ accounts. Accounts are discovered as
//
//	<root>/<domain>/<user>/Maildir   (Dovecot's mail_home=%d/%n, ~/Maildir)
//	<root>/<domain>/<user>           (a Maildir directly)
//	<root>/<user@domain>/Maildir
//	<root>/<user@domain>
//
// where a Maildir is a folder holding cur/. Its own cur/new are the Inbox;
// each ".A.B" sub-folder holding cur/ is the folder A/B (names in IMAP's
// modified UTF-7, as Dovecot writes them).
//
// A message's key is its unique base name (the file name before ":2,"),
// which stays the same when its flags change and when a mail client or
// server moves the file to another folder. Flags come from the ":2,"
// suffix, lower-case letters are keywords named in dovecot-keywords, the
// internal date is the file's mtime.
type Maildir struct {
	Root string
	// RacyWindow: a folder changed this recently is always re-listed,
	// because another change within the file system's time granularity
	// would not move its mtime (git's "racy" rule). Default 2s.
	RacyWindow time.Duration
}

// NewMaildir returns the Maildir source rooted at root.
func NewMaildir(root string) *Maildir { return &Maildir{Root: root, RacyWindow: 2 * time.Second} }

func (m *Maildir) String() string { return "maildir:" + m.Root }

func (m *Maildir) Close() error { return nil }

func isMaildir(dir string) bool {
	fi, err := os.Stat(filepath.Join(dir, "cur"))
	return err == nil && fi.IsDir()
}

func subdirs(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		if e.IsDir() || e.Type()&fs.ModeSymlink != 0 {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

// accountDirs maps account names to their Maildir folders.
func (m *Maildir) accountDirs() (map[string]string, error) {
	top, err := subdirs(m.Root)
	if err != nil {
		return nil, fmt.Errorf("maildir source %s: %w", m.Root, err)
	}
	out := map[string]string{}
	add := func(name, dir string) {
		for _, d := range []string{filepath.Join(dir, "Maildir"), dir} {
			if isMaildir(d) {
				out[strings.ToLower(name)] = d
				return
			}
		}
	}
	for _, t := range top {
		if strings.Contains(t, "@") {
			add(t, filepath.Join(m.Root, t))
			continue
		}
		users, err := subdirs(filepath.Join(m.Root, t))
		if err != nil {
			continue // a file or unreadable folder: not an account
		}
		for _, u := range users {
			add(u+"@"+t, filepath.Join(m.Root, t, u))
		}
	}
	return out, nil
}

// Accounts lists the discovered accounts, sorted.
func (m *Maildir) Accounts(ctx context.Context) ([]string, error) {
	dirs, err := m.accountDirs()
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(dirs))
	for n := range dirs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names, nil
}

// Open opens one account's Maildir.
func (m *Maildir) Open(ctx context.Context, account string) (Mailbox, error) {
	dirs, err := m.accountDirs()
	if err != nil {
		return nil, err
	}
	dir, ok := dirs[strings.ToLower(account)]
	if !ok {
		return nil, fmt.Errorf("maildir source %s: no account %s", m.Root, account)
	}
	return &maildirBox{src: m, dir: dir}, nil
}

type maildirBox struct {
	src *Maildir
	dir string
}

func (b *maildirBox) Close() error { return nil }

// Folders lists the Inbox and every ".A.B" folder.
func (b *maildirBox) Folders(ctx context.Context) ([]*Folder, error) {
	ents, err := os.ReadDir(b.dir)
	if err != nil {
		return nil, fmt.Errorf("list folders of %s: %w", b.dir, err)
	}
	out := []*Folder{b.folder([]string{"INBOX"}, b.dir)}
	out[0].Special = mailbox.FolderInbox
	for _, e := range ents {
		n := e.Name()
		if !strings.HasPrefix(n, ".") || n == "." || n == ".." || !e.IsDir() {
			continue
		}
		dir := filepath.Join(b.dir, n)
		if !isMaildir(dir) {
			continue
		}
		var path []string
		for _, p := range strings.Split(n[1:], ".") {
			path = append(path, decodeMUTF7(p))
		}
		f := b.folder(path, dir)
		f.Special = specialOf(path)
		out = append(out, f)
	}
	sortFolders(out)
	return out, nil
}

func (b *maildirBox) folder(path []string, dir string) *Folder {
	f := &Folder{Path: path, ref: dir, Key: uidlistGUID(dir)}
	f.Token = b.token(dir)
	return f
}

// uidlistGUID reads the mailbox GUID from Dovecot's dovecot-uidlist header
// ("3 V1700000000 N5 G<guid>"); it survives renames. "" if none.
func uidlistGUID(dir string) string {
	f, err := os.Open(filepath.Join(dir, "dovecot-uidlist"))
	if err != nil {
		return ""
	}
	defer f.Close()
	line, _ := bufio.NewReader(f).ReadString('\n')
	for _, w := range strings.Fields(line) {
		if len(w) > 1 && w[0] == 'G' {
			return "g" + w[1:]
		}
	}
	return ""
}

// token is the folder's change token: the mtimes of cur/, new/ and
// dovecot-keywords (any delivery, flag change, move or expunge renames or
// removes a file in cur/ or new/). A folder changed within RacyWindow gets
// no token, so it is always listed.
func (b *maildirBox) token(dir string) string {
	var parts []string
	newest := time.Time{}
	for _, n := range []string{"cur", "new", "dovecot-keywords"} {
		fi, err := os.Stat(filepath.Join(dir, n))
		if err != nil {
			if n == "dovecot-keywords" {
				parts = append(parts, "-")
				continue
			}
			return ""
		}
		if fi.ModTime().After(newest) {
			newest = fi.ModTime()
		}
		parts = append(parts, strconv.FormatInt(fi.ModTime().UnixNano(), 36))
	}
	if time.Since(newest) < b.src.RacyWindow {
		return ""
	}
	return strings.Join(parts, ".")
}

type maildirRef struct{ path string }

// Messages lists cur/ and new/.
func (b *maildirBox) Messages(ctx context.Context, f *Folder, prior *FolderEntry) ([]*Message, error) {
	dir := f.ref.(string)
	kw := readKeywords(dir)
	var out []*Message
	for _, sub := range []string{"new", "cur"} {
		d := filepath.Join(dir, sub)
		ents, err := os.ReadDir(d)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && sub == "new" {
				continue
			}
			return nil, fmt.Errorf("list %s: %w", d, err)
		}
		for _, e := range ents {
			name := e.Name()
			if strings.HasPrefix(name, ".") || e.IsDir() {
				continue
			}
			base, info, _ := strings.Cut(name, ":")
			msg := &Message{Key: base, ref: maildirRef{filepath.Join(d, name)}}
			msg.Size = sizeFromName(base)
			if msg.Size < 0 {
				fi, err := e.Info()
				if err != nil {
					continue // gone since readdir
				}
				msg.Size = fi.Size()
			}
			msg.Flags, msg.Tags = maildirFlags(info, kw)
			out = append(out, msg)
		}
	}
	return out, nil
}

// sizeFromName reads Dovecot's ",S=<size>" from a base name, or -1.
func sizeFromName(base string) int64 {
	for _, p := range strings.Split(base, ",")[1:] {
		if v, ok := strings.CutPrefix(p, "S="); ok {
			if n, err := strconv.ParseInt(v, 10, 64); err == nil && n >= 0 {
				return n
			}
		}
	}
	return -1
}

// maildirFlags turns "2,FRS" (and keyword letters) into Zimbra flags and tags.
func maildirFlags(info string, kw map[byte]string) (string, []string) {
	letters, kl := mailbox.FlagsFromMaildir(info)
	tags := map[string]bool{}
	for _, c := range kl {
		if name, ok := kw[c]; ok {
			tags[name] = true
		}
	}
	return letters, sortedTags(tags)
}

// readKeywords reads Dovecot's dovecot-keywords ("0 $Label1" lines: index
// 0 is letter a).
func readKeywords(dir string) map[byte]string {
	b, err := os.ReadFile(filepath.Join(dir, "dovecot-keywords"))
	if err != nil {
		return nil
	}
	kw := map[byte]string{}
	for _, line := range strings.Split(string(b), "\n") {
		n, name, ok := strings.Cut(strings.TrimSpace(line), " ")
		i, err := strconv.Atoi(n)
		if !ok || err != nil || i < 0 || i >= 26 {
			continue
		}
		kw['a'+byte(i)] = name
	}
	return kw
}

// Fetch reads the files; a file renamed since the listing (a flag change)
// is looked up again by base name.
func (b *maildirBox) Fetch(ctx context.Context, f *Folder, msgs []*Message, fn func(*Message, []byte, error) error) error {
	// Read ahead: up to fetchAhead files are read concurrently (the disk
	// queue stays full on a cold cache), and handed to fn in order.
	type result struct {
		data []byte
		mt   time.Time
		err  error
	}
	slots := make([]chan result, len(msgs))
	for i := range slots {
		slots[i] = make(chan result, 1)
	}
	stop := make(chan struct{})
	defer close(stop)
	sem := make(chan struct{}, fetchAhead)
	go func() {
		for i, m := range msgs {
			select {
			case sem <- struct{}{}:
			case <-stop:
				return
			}
			go func(i int, m *Message) {
				path := m.ref.(maildirRef).path
				data, mt, err := readWithMtime(path)
				if errors.Is(err, fs.ErrNotExist) {
					if p := findBase(f.ref.(string), m.Key); p != "" {
						data, mt, err = readWithMtime(p)
					}
					if errors.Is(err, fs.ErrNotExist) {
						err = ErrVanished
					}
				}
				slots[i] <- result{data, mt, err}
			}(i, m)
		}
	}()
	for i, m := range msgs {
		if err := ctx.Err(); err != nil {
			return err
		}
		r := <-slots[i]
		slots[i] = nil
		<-sem
		if r.err == nil {
			m.Date = r.mt
			m.Size = int64(len(r.data))
		}
		if err := fn(m, r.data, r.err); err != nil {
			return err
		}
	}
	return nil
}

// fetchAhead is how many message files a Maildir fetch reads ahead.
const fetchAhead = 8

func readWithMtime(path string) ([]byte, time.Time, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, time.Time{}, err
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		return nil, time.Time{}, err
	}
	var buf bytes.Buffer
	buf.Grow(int(fi.Size()) + bytes.MinRead)
	if _, err := buf.ReadFrom(fh); err != nil {
		return nil, time.Time{}, err
	}
	data := buf.Bytes()
	return data, fi.ModTime(), nil
}

func findBase(dir, base string) string {
	for _, sub := range []string{"cur", "new"} {
		ents, err := os.ReadDir(filepath.Join(dir, sub))
		if err != nil {
			continue
		}
		for _, e := range ents {
			if b, _, _ := strings.Cut(e.Name(), ":"); b == base {
				return filepath.Join(dir, sub, e.Name())
			}
		}
	}
	return ""
}

// decodeMUTF7 decodes IMAP's modified UTF-7 (RFC 3501 5.1.3); a malformed
// name is returned as it is.
func decodeMUTF7(s string) string {
	if !strings.Contains(s, "&") {
		return s
	}
	var b strings.Builder
	for len(s) > 0 {
		i := strings.IndexByte(s, '&')
		if i < 0 {
			b.WriteString(s)
			break
		}
		b.WriteString(s[:i])
		s = s[i+1:]
		j := strings.IndexByte(s, '-')
		if j < 0 {
			return b.String() + "&" + s
		}
		enc := s[:j]
		s = s[j+1:]
		if enc == "" {
			b.WriteByte('&')
			continue
		}
		raw, err := base64.RawStdEncoding.DecodeString(strings.ReplaceAll(enc, ",", "/"))
		if err != nil || len(raw)%2 != 0 {
			b.WriteString("&" + enc + "-")
			continue
		}
		u := make([]uint16, len(raw)/2)
		for k := range u {
			u[k] = uint16(raw[2*k])<<8 | uint16(raw[2*k+1])
		}
		b.WriteString(string(utf16.Decode(u)))
	}
	return b.String()
}
