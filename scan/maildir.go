package scan

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf16"

	"github.com/cbfs/cbfs/internal/confined"
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
//
// # Reading what users control
//
// cbfs runs as root; the folders beneath Root belong to the mail users (or
// to the mail system's user), who may plant anything there. Root itself is
// trusted (the administrator names it); nothing beneath it is:
//
//   - Every lookup beneath Root goes through internal/confined: no
//     symbolic link is followed in any component (account folders,
//     Maildir, folders, cur/ and new/, messages, dovecot-keywords,
//     dovecot-uidlist), only regular files are read, and opening never
//     blocks (a FIFO is refused at once). A symbolic link where a domain
//     folder should be is reported as an error of the run (Unlisted), one
//     where an account folder or its Maildir should be fails that
//     account, one where a folder, its cur/ or new/, dovecot-keywords or
//     dovecot-uidlist should be fails that folder (Folder.Err, or its
//     listing), and one in cur/ or new/ is a read error of that message.
//   - An account's Maildir is read as its owner (the owner of the Maildir
//     folder; confined.Owner.Do around every lookup and listing), as
//     Dovecot's own delivery does: what the owner may not read (a hard
//     link to a root-only file, a folder they made unreadable) is refused
//     by the kernel and reported, never read with root's rights. A Maildir
//     owned by root is read as root.
//   - Every read is bounded. A message is read up to the size fstat gives
//     for the open file (more or less than that is a read error: the file
//     changed while read), and one larger than MaxFileSize is a read error
//     naming its size, never read. The ",S=" of a file name is only a
//     listing's claim, used to notice changes. A message over bigMessage
//     bytes is not held in memory: the scan stores it as it reads it.
//     dovecot-keywords is read up to maxKeywordsFile bytes, dovecot-uidlist
//     only for its first line (at most uidlistHead bytes).
//   - Folder names are decoded as strict modified UTF-7 (RFC 3501 5.1.3,
//     decodeMUTF7): a folder whose name is not is reported and skipped
//     (Folder.Err), the rest of the account is backed up.
type Maildir struct {
	Root string
	// RacyWindow: a folder changed this recently is always re-listed,
	// because another change within the file system's time granularity
	// would not move its mtime (git's "racy" rule). Default 2s.
	RacyWindow time.Duration
	// MaxFileSize: a message file larger than this (fstat) is a read error
	// and is not read. 0 is DefaultMaxFileSize, negative no limit. Run sets
	// it from Options.MaxFileSize.
	MaxFileSize int64

	mu       sync.Mutex
	found    map[string]accountDir // the last discovery, for Open
	unlisted []string
}

// NewMaildir returns the Maildir source rooted at root.
func NewMaildir(root string) *Maildir { return &Maildir{Root: root, RacyWindow: 2 * time.Second} }

func (m *Maildir) String() string { return "maildir:" + m.Root }

func (m *Maildir) Close() error { return nil }

// limitFileSize takes Options.MaxFileSize (see Run).
func (m *Maildir) limitFileSize(n int64) { m.MaxFileSize = n }

func (m *Maildir) maxFileSize() int64 {
	switch {
	case m.MaxFileSize == 0:
		return DefaultMaxFileSize
	case m.MaxFileSize < 0:
		return 0
	}
	return m.MaxFileSize
}

// Bounds of the small files read beside the messages.
const (
	// maxKeywordsFile: dovecot-keywords holds at most 26 short lines.
	maxKeywordsFile = 64 << 10
	// uidlistHead: the header line of dovecot-uidlist is under 100 bytes.
	uidlistHead = 4 << 10
	// summaryHead: how much of a streamed message's start summarize sees.
	summaryHead = 256 << 10
)

// bigMessage: a message larger than this is streamed into the blob store
// rather than read whole (see Fetch); with fetchAhead files read ahead, at
// most fetchAhead*bigMessage bytes of content are held by the read-ahead.
// 1 MiB is where the blob store's small path ends: larger content is
// compressed by pgzip block by block either way, and streamed it costs
// less than read whole (no large buffers to allocate and collect): a
// first scan of 200 messages of 1.5 MB took 1.2 s of CPU and 46 MiB of
// peak RSS streamed, 2.1 s and 117 MiB read whole. (A variable for
// tests.)
var bigMessage int64 = 1 << 20

// accountDir is a discovered account: its Maildir beneath Root, or why it
// cannot be read.
type accountDir struct {
	rel string
	err error
}

// discover maps account names to their Maildir folders. It runs as the
// process (root): it only looks at names and types, reads no file.
func (m *Maildir) discover() (map[string]accountDir, []string, error) {
	top, err := confined.OpenDir(m.Root, ".")
	if err != nil {
		return nil, nil, fmt.Errorf("maildir source %s: %w", m.Root, err)
	}
	defer top.Close()
	ents, err := top.ReadDir(".")
	if err != nil {
		return nil, nil, fmt.Errorf("maildir source %s: %w", m.Root, err)
	}
	out := map[string]accountDir{}
	var unlisted []string
	for _, e := range ents {
		t := e.Name()
		if strings.HasPrefix(t, ".") {
			continue
		}
		if strings.Contains(t, "@") {
			m.addAccount(top, out, t, t, e.Type())
			continue
		}
		if e.Type()&fs.ModeSymlink != 0 {
			unlisted = append(unlisted, fmt.Sprintf("maildir source %s: %s is a symbolic link: not followed, its accounts are not backed up", m.Root, strconv.Quote(t)))
			continue
		}
		if !e.IsDir() {
			continue
		}
		users, err := top.ReadDir(t)
		if err != nil {
			unlisted = append(unlisted, fmt.Sprintf("maildir source %s: %v: its accounts are not backed up", m.Root, err))
			continue
		}
		for _, u := range users {
			if strings.HasPrefix(u.Name(), ".") {
				continue
			}
			m.addAccount(top, out, u.Name()+"@"+t, t+"/"+u.Name(), u.Type())
		}
	}
	return out, unlisted, nil
}

// addAccount records the account folder rel (of type typ) if it is one: a
// Maildir, or a folder holding a Maildir.
func (m *Maildir) addAccount(top *confined.Dir, out map[string]accountDir, name, rel string, typ fs.FileMode) {
	name = strings.ToLower(name)
	if typ&fs.ModeSymlink != 0 {
		out[name] = accountDir{rel: rel, err: &fs.PathError{Op: "open", Path: rel, Err: errNotFollowed}}
		return
	}
	if !typ.IsDir() {
		return
	}
	for _, d := range []string{rel + "/Maildir", rel} {
		fi, err := top.Stat(d)
		if err != nil {
			continue
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			out[name] = accountDir{rel: d, err: &fs.PathError{Op: "open", Path: d, Err: errNotFollowed}}
			return
		}
		if !fi.IsDir() {
			continue
		}
		if _, err := top.Stat(d + "/cur"); err == nil { // cur/ of any type: checked as a folder's
			out[name] = accountDir{rel: d}
			return
		}
	}
}

// errNotFollowed: a symbolic link where a folder or file of a Maildir
// should be.
var errNotFollowed = fmt.Errorf("%w: not followed", confined.ErrSymlink)

// Unlisted says what under Root could not be searched for accounts (a
// domain folder that is a symbolic link): Run reports each as an error.
func (m *Maildir) Unlisted() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.unlisted...)
}

// Accounts lists the discovered accounts, sorted.
func (m *Maildir) Accounts(ctx context.Context) ([]string, error) {
	dirs, unlisted, err := m.discover()
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	m.found, m.unlisted = dirs, unlisted
	m.mu.Unlock()
	names := make([]string, 0, len(dirs))
	for n := range dirs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names, nil
}

// Open opens one account's Maildir (as found by the last Accounts, or
// found again).
func (m *Maildir) Open(ctx context.Context, account string) (Mailbox, error) {
	name := strings.ToLower(account)
	m.mu.Lock()
	a, ok := m.found[name]
	m.mu.Unlock()
	b, err := m.open(a, ok)
	if ok && errors.Is(err, fs.ErrNotExist) {
		// Moved since the listing: look again.
		ok = false
	}
	if !ok {
		dirs, _, derr := m.discover()
		if derr != nil {
			return nil, derr
		}
		a, ok = dirs[name]
		if !ok {
			return nil, fmt.Errorf("maildir source %s: no account %s", m.Root, account)
		}
		b, err = m.open(a, true)
	}
	if err != nil {
		return nil, fmt.Errorf("maildir source %s: %w", m.Root, err)
	}
	return b, nil
}

func (m *Maildir) open(a accountDir, ok bool) (*maildirBox, error) {
	if !ok {
		return nil, nil
	}
	if a.err != nil {
		return nil, a.err
	}
	dir, err := confined.OpenDir(m.Root, a.rel)
	if err != nil {
		return nil, err
	}
	owner, err := dir.Owner()
	if err != nil {
		dir.Close()
		return nil, err
	}
	return &maildirBox{src: m, dir: dir, owner: owner, max: m.maxFileSize()}, nil
}

type maildirBox struct {
	src   *Maildir
	dir   *confined.Dir  // the Maildir, opened beneath src.Root
	owner confined.Owner // every lookup beneath dir is done as this owner
	max   int64          // the largest message read; 0: no limit
}

func (b *maildirBox) Close() error { return b.dir.Close() }

// Folders lists the Inbox and every ".A.B" folder (as the owner). A folder
// that cannot be backed up (a name that is not modified UTF-7, a symbolic
// link, cur/ not a folder, a dovecot-uidlist that may not be read) is
// listed with its Err; one whose new/ or dovecot-keywords may not be read
// fails its listing (Messages).
func (b *maildirBox) Folders(ctx context.Context) ([]*Folder, error) {
	var out []*Folder
	err := b.owner.Do(func() error {
		ents, err := b.dir.ReadDir(".")
		if err != nil {
			return fmt.Errorf("list folders of %s: %w", b.dir.Path(), err)
		}
		cur, err := b.dir.Stat("cur")
		inbox := b.folder([]string{"INBOX"}, ".", cur, err)
		inbox.Special = mailbox.FolderInbox
		out = append(out, inbox)
		for _, e := range ents {
			n := e.Name()
			if !strings.HasPrefix(n, ".") || n == "." || n == ".." {
				continue
			}
			symlink := e.Type()&fs.ModeSymlink != 0
			if !symlink && !e.IsDir() {
				continue
			}
			var cur fs.FileInfo
			var err error
			if !symlink {
				if cur, err = b.dir.Stat(n + "/cur"); errors.Is(err, fs.ErrNotExist) {
					continue // not a folder of messages (a parent only implied)
				}
			}
			raw := strings.Split(n[1:], ".")
			path, derr := decodeFolderName(raw)
			if derr != nil {
				out = append(out, &Folder{Path: raw, Err: fmt.Errorf("%s: %w", strconv.Quote(n), derr)})
				continue
			}
			if symlink {
				out = append(out, &Folder{Path: path, Err: &fs.PathError{Op: "open", Path: n, Err: errNotFollowed}})
				continue
			}
			f := b.folder(path, n, cur, err)
			f.Special = specialOf(path)
			out = append(out, f)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sortFolders(out)
	return out, nil
}

// folder describes the folder rel of the Maildir (as the owner), given
// the lstat of its cur/.
func (b *maildirBox) folder(path []string, rel string, cur fs.FileInfo, err error) *Folder {
	f := &Folder{Path: path, ref: rel}
	if err == nil && !cur.IsDir() {
		err = &fs.PathError{Op: "open", Path: path2(rel, "cur"), Err: notFolder(cur.Mode())}
	}
	if err != nil {
		f.Err = err
		return f
	}
	if f.Key, err = b.uidlistGUID(rel); err != nil {
		f.Err = err
		return f
	}
	f.Token = b.token(rel, cur)
	return f
}

// notFolder is the error for something that should be a folder.
func notFolder(m fs.FileMode) error {
	if m&fs.ModeSymlink != 0 {
		return errNotFollowed
	}
	return &confined.NotRegularError{Mode: m} // names its type
}

// path2 joins a folder rel of the Maildir ("." for the Inbox) and a name.
func path2(rel, name string) string {
	if rel == "." {
		return name
	}
	return rel + "/" + name
}

// uidlistGUID reads the mailbox GUID from Dovecot's dovecot-uidlist header
// ("3 V1700000000 N5 G<guid>"); it survives renames. "" if there is no
// such file or header; an error if the file is there but may not be read
// (not a regular file, a symbolic link, refused to the owner).
func (b *maildirBox) uidlistGUID(rel string) (string, error) {
	name := path2(rel, "dovecot-uidlist")
	f, err := b.dir.Open(name)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	defer f.Close()
	buf := make([]byte, uidlistHead)
	n, err := io.ReadFull(f, buf)
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		return "", &fs.PathError{Op: "read", Path: name, Err: err}
	}
	line, _, _ := bytes.Cut(buf[:n], []byte("\n"))
	for _, w := range strings.Fields(string(line)) {
		if len(w) > 1 && w[0] == 'G' {
			return "g" + w[1:], nil
		}
	}
	return "", nil
}

// token is the folder's change token: the mtimes of cur/, new/ and
// dovecot-keywords (any delivery, flag change, move or expunge renames or
// removes a file in cur/ or new/). A folder changed within RacyWindow gets
// no token, so it is always listed. cur is cur/'s lstat.
func (b *maildirBox) token(rel string, cur fs.FileInfo) string {
	parts := []string{strconv.FormatInt(cur.ModTime().UnixNano(), 36)}
	newest := cur.ModTime()
	for _, n := range []string{"new", "dovecot-keywords"} {
		fi, err := b.dir.Stat(path2(rel, n))
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

// maildirRef is a listed message: its file beneath the folder.
type maildirRef struct{ rel string } // "cur/<name>" or "new/<name>"

// Messages lists cur/ and new/ (as the owner).
func (b *maildirBox) Messages(ctx context.Context, f *Folder, prior *FolderEntry) ([]*Message, error) {
	rel := f.ref.(string)
	var out []*Message
	err := b.owner.Do(func() error {
		kw, err := b.readKeywords(rel)
		if err != nil {
			return err
		}
		for _, sub := range []string{"new", "cur"} {
			d, err := b.dir.OpenDir(path2(rel, sub))
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) && sub == "new" {
					continue
				}
				return err
			}
			ents, err := d.ReadDir(".")
			if err != nil {
				d.Close()
				return &fs.PathError{Op: "readdir", Path: path2(rel, sub), Err: errors.Unwrap(err)}
			}
			for _, e := range ents {
				name := e.Name()
				if strings.HasPrefix(name, ".") || e.IsDir() {
					continue
				}
				base, info, _ := strings.Cut(name, ":")
				msg := &Message{Key: base, ref: maildirRef{sub + "/" + name}}
				msg.Size = sizeFromName(base)
				if msg.Size < 0 {
					fi, err := d.Stat(name)
					if err != nil {
						continue // gone since readdir
					}
					msg.Size = fi.Size()
				}
				msg.Flags, msg.Tags = maildirFlags(info, kw)
				out = append(out, msg)
			}
			d.Close()
		}
		return nil
	})
	if err != nil {
		return nil, err
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
// 0 is letter a) of the folder rel; none if there is no such file.
func (b *maildirBox) readKeywords(rel string) (map[byte]string, error) {
	data, err := b.dir.ReadFile(path2(rel, "dovecot-keywords"), maxKeywordsFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return parseKeywords(data), nil
}

func parseKeywords(b []byte) map[byte]string {
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
// is looked up again by base name. Each file is opened and read as the
// owner, up to its fstat size; one over bigMessage bytes is passed as a
// stream (Message.body) for fn to read.
func (b *maildirBox) Fetch(ctx context.Context, f *Folder, msgs []*Message, fn func(*Message, []byte, error) error) error {
	// Read ahead: up to fetchAhead files are read concurrently (the disk
	// queue stays full on a cold cache), and handed to fn in order.
	rel := f.ref.(string)
	slots := make([]chan fetched, len(msgs))
	for i := range slots {
		slots[i] = make(chan fetched, 1)
	}
	stop := make(chan struct{})
	sem := make(chan struct{}, fetchAhead)
	var wg sync.WaitGroup
	defer func() {
		// No goroutine may outlive Fetch: they look files up beneath
		// b.dir, which the caller closes after. Files opened for a
		// stream nobody read are closed.
		close(stop)
		wg.Wait()
		for _, s := range slots {
			select {
			case r := <-s:
				if r.body != nil {
					r.body.Close()
				}
			default:
			}
		}
	}()
	// The messages go out in order, at most fetchAhead ahead of fn, to
	// fetchAhead readers; each reader stays its owner's for the whole
	// Fetch (one identity switch per reader, not per message).
	next := make(chan int)
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(next)
		for i := range msgs {
			select {
			case sem <- struct{}{}:
			case <-stop:
				return
			}
			select {
			case next <- i:
			case <-stop:
				return
			}
		}
	}()
	for range min(fetchAhead, len(msgs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := b.owner.Do(func() error {
				for i := range next {
					slots[i] <- b.read(rel, msgs[i])
				}
				return nil
			})
			if err != nil { // the owner's identity could not be taken
				for i := range next {
					slots[i] <- fetched{err: err}
				}
			}
		}()
	}
	for i, m := range msgs {
		if err := ctx.Err(); err != nil {
			return err
		}
		r := <-slots[i]
		slots[i] = nil
		<-sem
		if r.err == nil {
			m.Date = r.mt
			m.Size = r.size
		}
		var err error
		if r.body != nil {
			m.body = &body{r: r.body, size: r.size, name: r.name}
			err = fn(m, nil, nil)
			m.body = nil
			r.body.Close()
		} else {
			err = fn(m, r.data, r.err)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// fetchAhead is how many message files a Maildir fetch reads ahead.
const fetchAhead = 8

// fetched is a message file read ahead: its content, or (over bigMessage)
// the open file, or why it could not be read.
type fetched struct {
	data []byte
	body *os.File
	name string // the file beneath the Maildir (for errors)
	size int64
	mt   time.Time
	err  error
}

// read opens a listed message of the folder rel, and reads it unless it
// is big. It runs as the owner (inside Do).
func (b *maildirBox) read(rel string, m *Message) fetched {
	fh, err := b.dir.Open(path2(rel, m.ref.(maildirRef).rel))
	if errors.Is(err, fs.ErrNotExist) {
		if p := b.findBase(rel, m.Key); p != "" {
			fh, err = b.dir.Open(path2(rel, p))
		}
		if errors.Is(err, fs.ErrNotExist) {
			err = ErrVanished
		}
	}
	if err != nil {
		return fetched{err: err}
	}
	fi, err := fh.Stat()
	if err != nil {
		fh.Close()
		return fetched{err: err}
	}
	name := path2(rel, m.ref.(maildirRef).rel)
	size := fi.Size()
	if b.max > 0 && size > b.max {
		fh.Close()
		return fetched{err: fmt.Errorf("%s: %d bytes, over the scan's max file size of %d bytes: not read", name, size, b.max)}
	}
	if size > bigMessage {
		return fetched{body: fh, name: name, size: size, mt: fi.ModTime()}
	}
	defer fh.Close()
	data, err := readSized(fh, size, name)
	if err != nil {
		return fetched{err: err}
	}
	return fetched{data: data, size: size, mt: fi.ModTime()}
}

// readSized reads f, which fstat said holds size bytes: exactly that many
// (a file that turns out shorter or longer changed while it was read, and
// is an error), never more than size+1.
func readSized(f *os.File, size int64, name string) ([]byte, error) {
	data := make([]byte, size)
	if _, err := io.ReadFull(f, data); err != nil {
		if err == io.ErrUnexpectedEOF || err == io.EOF {
			return nil, fmt.Errorf("%s: %w", name, errShrank)
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	var one [1]byte
	if n, _ := f.Read(one[:]); n > 0 {
		return nil, fmt.Errorf("%s: %w", name, errGrew)
	}
	return data, nil
}

var (
	errShrank = errors.New("shorter than its size: changed while read")
	errGrew   = errors.New("longer than its size: changed while read")
)

// findBase looks the message base up in the folder's cur/ and new/ (as
// the owner: called inside Do) and returns its name beneath the folder.
func (b *maildirBox) findBase(rel, base string) string {
	for _, sub := range []string{"cur", "new"} {
		ents, err := b.dir.ReadDir(path2(rel, sub))
		if err != nil {
			continue
		}
		for _, e := range ents {
			if n, _, _ := strings.Cut(e.Name(), ":"); n == base {
				return sub + "/" + e.Name()
			}
		}
	}
	return ""
}

// decodeFolderName decodes the components of a Maildir++ folder name
// (".A.B" split at the dots, without the first): each must be non-empty
// and valid modified UTF-7.
func decodeFolderName(raw []string) ([]string, error) {
	out := make([]string, len(raw))
	for i, p := range raw {
		if p == "" {
			return nil, errors.New("an empty name")
		}
		s, err := decodeMUTF7(p)
		if err != nil {
			return nil, err
		}
		out[i] = s
	}
	return out, nil
}

// errMUTF7 is wrapped by every decodeMUTF7 error.
var errMUTF7 = errors.New("not valid modified UTF-7")

// decodeMUTF7 decodes IMAP's modified UTF-7 (RFC 3501 5.1.3) strictly:
// printable US-ASCII (0x20-0x7e) stands for itself but "&", which is
// written "&-"; anything else is "&", the modified base64 ("," for "/",
// no padding, unused bits zero) of its UTF-16BE with every surrogate
// paired, then "-". An encoded run never holds a printable US-ASCII
// character and never directly follows another (a canonical encoder
// merges them), so every name has one encoding, the one
// mailbox.EncodeMUTF7 gives. Raw 8-bit bytes and control characters are
// errors. (go-imap v2's decoder is internal to it, and accepts raw UTF-8.)
func decodeMUTF7(s string) (string, error) {
	if !strings.Contains(s, "&") {
		for i := 0; i < len(s); i++ {
			if c := s[i]; c < 0x20 || c > 0x7e {
				return "", fmt.Errorf("%w: byte 0x%02x at %d", errMUTF7, c, i)
			}
		}
		return s, nil
	}
	var b strings.Builder
	afterRun := false
	for i := 0; i < len(s); {
		c := s[i]
		if c < 0x20 || c > 0x7e {
			return "", fmt.Errorf("%w: byte 0x%02x at %d", errMUTF7, c, i)
		}
		if c != '&' {
			b.WriteByte(c)
			afterRun = false
			i++
			continue
		}
		j := strings.IndexByte(s[i+1:], '-')
		if j < 0 {
			return "", fmt.Errorf("%w: \"&\" at %d is not closed by \"-\"", errMUTF7, i)
		}
		enc := s[i+1 : i+1+j]
		if enc == "" {
			b.WriteByte('&')
			afterRun = false
			i += 2
			continue
		}
		if afterRun {
			return "", fmt.Errorf("%w: two encoded runs in a row at %d", errMUTF7, i)
		}
		r, err := decodeRun(enc)
		if err != nil {
			return "", fmt.Errorf("%w: %q at %d: %v", errMUTF7, "&"+enc+"-", i, err)
		}
		b.WriteString(r)
		afterRun = true
		i += j + 2
	}
	return b.String(), nil
}

var mbase64 = base64.NewEncoding("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,").WithPadding(base64.NoPadding).Strict()

// decodeRun decodes one encoded run of modified UTF-7 (between "&" and
// "-").
func decodeRun(enc string) (string, error) {
	for i := 0; i < len(enc); i++ {
		// encoding/base64 skips CR and LF: check the alphabet first.
		if c := enc[i]; !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == ',') {
			return "", fmt.Errorf("bad base64: byte 0x%02x", c)
		}
	}
	raw, err := mbase64.DecodeString(enc) // Strict: unused bits must be zero
	if err != nil {
		return "", errors.New("bad base64")
	}
	if len(raw) == 0 || len(raw)%2 != 0 {
		return "", errors.New("not a whole number of UTF-16 units")
	}
	u := make([]uint16, len(raw)/2)
	for k := range u {
		u[k] = uint16(raw[2*k])<<8 | uint16(raw[2*k+1])
	}
	for k := 0; k < len(u); k++ {
		c := u[k]
		switch {
		case c >= 0xd800 && c < 0xdc00:
			if k+1 == len(u) || u[k+1] < 0xdc00 || u[k+1] > 0xdfff {
				return "", errors.New("an unpaired surrogate")
			}
			k++
		case c >= 0xdc00 && c <= 0xdfff:
			return "", errors.New("an unpaired surrogate")
		case c >= 0x20 && c <= 0x7e:
			return "", fmt.Errorf("encodes %q, which stands for itself", rune(c))
		}
	}
	return string(utf16.Decode(u)), nil
}
