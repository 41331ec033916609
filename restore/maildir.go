package restore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/cbfs/cbfs/internal/atomicfile"
	"github.com/cbfs/cbfs/internal/confined"
	"github.com/cbfs/cbfs/mailbox"
)

// Maildir is the maildir:/path target: one Maildir++ tree per account at
// <Root>/<account name>/Maildir, the layout Dovecot reads (mail_location =
// maildir:~/Maildir with the account's folder as home).
//
//   - The inbox is the Maildir itself; a folder A/B is the folder ".A.B"
//     (the inbox's subfolder Inbox/A is ".INBOX.A"), each with cur/, new/
//     and tmp/ and an empty "maildirfolder" file. Names are in IMAP's
//     modified UTF-7, as Dovecot stores them; a "." inside a name (the
//     Maildir++ separator) becomes "_". A folder name that would pass 255
//     bytes (NAME_MAX) is shortened to a readable prefix + "~" + 16 hex
//     digits of the full path's SHA-256 (mailbox.MaildirFolderName), the same on
//     every run.
//   - A folder that cannot be made or written into (any error: a name the
//     file system refuses, a file or a symbolic link in its place or in
//     place of its cur/, new/, tmp/ or maildirfolder, permissions) makes
//     its messages unrestored (ClassInvalid, with the reason); the other
//     folders and accounts go on. A Maildir that cannot be made or opened
//     (a symbolic link, a file) fails its account only.
//   - Messages are written in groups of 256 (and at every Flush): each is
//     written to tmp/ under a new, unpredictable name (O_EXCL|O_NOFOLLOW,
//     16 random hex digits) and given the internal date as mtime; then one
//     syncfs makes the whole group durable; then each is renamed into cur/
//     as <unix date>.cbfs-<unique>.restore,S=<size>:2,<flags><keywords>,
//     where <unique> is derived from the source server, account, item and
//     digest (Message.Unique); then the cur/ folders are fsynced, and only
//     then is the restore told (and the ledger written). A crash before a
//     rename leaves only a file in tmp/ (its name starts with the
//     message's <date>.cbfs-<unique>.: the next run that writes that
//     message removes it, if it is a regular file), never a file in cur/
//     whose content is not on disk. One syncfs per group instead of one
//     fsync per message took a durable restore of 23,876 messages from 687
//     to 2,325 messages/s.
//   - Flags: D (draft), F (flagged), P (forwarded), R (replied), S (seen).
//     Tags become keywords: lower-case letters a-z listed in the folder's
//     dovecot-keywords file (Dovecot's format: "<n> <name>"); a folder
//     holds at most 26, later tags are left out. A dovecot-keywords that
//     is not a regular file of at most 64 KiB (a symbolic link, a FIFO)
//     is neither read nor replaced: the folder's tagged messages are
//     unrestored, with the reason.
//   - Before writing a message not in the ledger, the folder's cur/ and
//     new/ are listed (once per folder and run) for a file with the same
//     <unique>: one is there if a run stopped between the rename and the
//     ledger record, and it is then recorded, not written again.
//
// # A tree its users can write into
//
// The Root is the admin's and trusted as given. Everything beneath it,
// from <Root>/<account> down, may belong to the mail user or to the mail
// system's user, who can plant symbolic links, FIFOs and files where cbfs
// will write, and swap them while it does. So:
//
//   - Every name beneath the Root is looked up through internal/confined:
//     no symbolic link is followed anywhere (the Maildir, a folder, cur/,
//     tmp/, a message name, maildirfolder, dovecot-keywords); files are
//     created O_EXCL|O_NOFOLLOW, renamed with renameat between the folders'
//     descriptors, and read only if regular, without blocking, and
//     bounded. The account's Maildir and the folders being written are
//     held open, so a folder swapped for a link after it was opened is not
//     followed either.
//   - Writes are done as the Maildir's owner (confined.Owner.Do): the
//     owner of the deepest of <Root>/<account>/Maildir, <Root>/<account>
//     and <Root> that exists. The kernel then refuses what that user could
//     not do (such a refusal is the folder's or the message's, never the
//     account's), and every file and folder restored belongs to them, as a
//     live Dovecot running as its mail user needs.
//
// Phase 1 writes <Root>/_provisioning.json (as the Root's owner, never
// through a link): the domains, COS, distribution lists and accounts of
// every source server restored here, by server id. Nothing is ever deleted
// from the tree but cbfs's own temporary files.
type Maildir struct {
	Root string
	// NoSync skips the fsyncs (for benchmarks of regenerable data only).
	NoSync bool

	mu sync.Mutex // _provisioning.json
}

// NewMaildir returns the Maildir target at root (an absolute path).
func NewMaildir(root string) *Maildir { return &Maildir{Root: root} }

// ProvisioningFile is the name of the provisioning records file at the root
// of a Maildir target.
const ProvisioningFile = "_provisioning.json"

// Bounds of the files a Maildir target reads back.
const (
	maxProvisioningFile = 256 << 20
	maxKeywordsFile     = 64 << 10
)

func (m *Maildir) ID() string   { return "maildir:" + m.Root }
func (m *Maildir) Close() error { return nil }

// openRoot makes the Root if need be (it is the admin's: made as the
// process) and opens it.
func (m *Maildir) openRoot() (*confined.Dir, confined.Owner, error) {
	if err := os.MkdirAll(m.Root, 0o755); err != nil {
		return nil, confined.Owner{}, fmt.Errorf("maildir target: %w", err)
	}
	root, err := confined.OpenDir(m.Root, ".")
	if err != nil {
		return nil, confined.Owner{}, fmt.Errorf("maildir target: %w", err)
	}
	owner, err := root.Owner()
	if err != nil {
		root.Close()
		return nil, confined.Owner{}, fmt.Errorf("maildir target: %w", err)
	}
	return root, owner, nil
}

// Provision writes (merges) the records into <Root>/_provisioning.json: one
// entry per source server id, replaced by a later restore of that server.
func (m *Maildir) Provision(ctx context.Context, p *Provisioning) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	root, owner, err := m.openRoot()
	if err != nil {
		return err
	}
	defer root.Close()
	path := filepath.Join(m.Root, ProvisioningFile)
	doc := struct {
		Sources map[string]json.RawMessage `json:"sources"`
	}{Sources: map[string]json.RawMessage{}}
	var b []byte
	err = owner.Do(func() (err error) {
		b, err = root.ReadFile(ProvisioningFile, maxProvisioningFile)
		return err
	})
	if err == nil {
		if err := json.Unmarshal(b, &doc); err != nil {
			return fmt.Errorf("maildir target: %s is not a provisioning file (%v): not overwriting it", path, err)
		}
		if doc.Sources == nil {
			doc.Sources = map[string]json.RawMessage{}
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("maildir target: %s: %w: not overwriting it", path, err)
	}
	rec, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("maildir target: %w", err)
	}
	doc.Sources[p.ServerID] = rec
	b, err = json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return fmt.Errorf("maildir target: %w", err)
	}
	b = append(b, '\n')
	if err := owner.Do(func() error {
		return root.WriteFile(ProvisioningFile, b, atomicfile.Mode(0o644), !m.NoSync)
	}); err != nil {
		return fmt.Errorf("maildir target: %s: %w", path, err)
	}
	return nil
}

// AccountDir is the Maildir of an account.
func (m *Maildir) AccountDir(account string) string {
	return filepath.Join(m.Root, account, "Maildir")
}

// Open makes the account's Maildir (the account name must be one path
// component) as its owner, and keeps it open until Close.
func (m *Maildir) Open(ctx context.Context, account string) (Mailbox, error) {
	if account == "" || account == "." || account == ".." || strings.ContainsAny(account, "/\x00") ||
		strings.HasPrefix(account, "_") {
		return nil, fmt.Errorf("maildir target: account name %q cannot be a folder name: %w", account, ErrRefused)
	}
	root, owner, err := m.openRoot()
	if err != nil {
		return nil, err
	}
	defer root.Close()
	refuse := func(err error) error {
		return fmt.Errorf("maildir target: account %s: %w: %w", account, err, ErrRefused)
	}
	// The owner: of the deepest folder that exists. (Stat is lstat beneath
	// the Root, as the process: a link there is seen, never followed.)
	rel := account + "/Maildir"
	for _, p := range []string{account, rel} {
		fi, err := root.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			break
		}
		if err != nil {
			return nil, refuse(err)
		}
		if !fi.IsDir() {
			return nil, refuse(fmt.Errorf("%s is %s, not a folder", filepath.Join(m.Root, p), kindOf(fi.Mode())))
		}
		owner = confined.OwnerOf(fi)
	}
	b := &maildirBox{t: m, dir: m.AccountDir(account), owner: owner, folders: map[string]*mdFolder{}, syncFD: -1}
	err = owner.Do(func() (err error) {
		b.md, err = root.MkdirAll(rel, 0o755)
		return err
	})
	if err != nil {
		return nil, refuse(err)
	}
	if _, err := b.folder([]string{InboxName}); err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
}

// kindOf names a file type for messages, with its article ("a FIFO").
func kindOf(m fs.FileMode) string { return "a " + confined.TypeName(m) }

type maildirBox struct {
	t       *Maildir
	dir     string         // the Maildir's path, for messages
	owner   confined.Owner // who the Maildir is written as
	md      *confined.Dir  // the Maildir (the inbox folder), open until Close
	folders map[string]*mdFolder
	pending []mdPending
	// open are the folders whose descriptors are open; last is the one
	// appended into last. After a group is flushed only last stays open:
	// messages come folder by folder, so an account with thousands of
	// folders holds a few descriptors, not thousands.
	open []*mdFolder
	last *mdFolder
	// syncFD is a descriptor of a file the current group wrote (-1: none
	// yet), for its syncfs: a file cbfs made is always open for writing,
	// while a folder its owner made unreadable could only be opened O_PATH,
	// which syncfs refuses.
	syncFD int
}

// mdPending is a message written to tmp/ and waiting for its group's
// syncfs and rename (f == nil: refused, or already in cur/ from an earlier
// run).
type mdPending struct {
	f          *mdFolder
	tmp, final string // names in f's tmp/ and cur/
	res        Appended
	err        error // refused (wraps ErrRefused)
	done       func(Appended, error)
}

type mdFolder struct {
	name string // "" for the inbox, ".A.B"
	// dir, cur and tmp are open while the folder is appended into (dir is
	// the box's md for the inbox).
	dir, cur, tmp *confined.Dir
	existing      map[string]string   // unique -> "cur/<name>", listed on first append
	leftover      map[string][]string // unique -> tmp/ names an earlier run left
	keywords      []string            // dovecot-keywords, index = letter - 'a'
	kwLoaded      bool
	kwErr         error // dovecot-keywords cannot be read (wraps ErrRefused)
	err           error // the folder cannot be made or opened (wraps ErrRefused)
}

// MaxMaildirName is mailbox.MaxMaildirName: the longest Maildir++ folder
// name a Maildir target writes.
const MaxMaildirName = mailbox.MaxMaildirName

// folderName is the Maildir++ folder of a path ("" for the inbox).
func folderName(path []string) string {
	if len(path) == 0 || (len(path) == 1 && path[0] == InboxName) {
		return ""
	}
	return mailbox.MaildirFolderName(path)
}

// folder makes (once per run) the Maildir++ folder of a path. A folder
// that cannot be made is remembered: its messages are refused
// (ErrRefused), the rest of the account goes on.
func (b *maildirBox) folder(path []string) (*mdFolder, error) {
	k := strings.Join(path, "\x00")
	if f, ok := b.folders[k]; ok {
		return f, f.err
	}
	f := &mdFolder{name: folderName(path)}
	b.folders[k] = f
	if err := b.owner.Do(func() error { return b.makeFolder(f) }); err != nil {
		f.err = b.folderErr(f, err)
	}
	return f, f.err
}

// folderErr is the refusal of folder f for err.
func (b *maildirBox) folderErr(f *mdFolder, err error) error {
	name := f.name
	if name == "" {
		name = "INBOX (the Maildir " + b.dir + ")"
	}
	var nr *confined.NotRegularError
	if errors.As(err, &nr) && nr.Mode.IsRegular() {
		err = fmt.Errorf("%w (a file, not a folder)", err)
	}
	return fmt.Errorf("maildir target: folder %s: %w: %w", name, err, ErrRefused)
}

// makeFolder makes f with its cur/, new/, tmp/ and (but for the inbox)
// maildirfolder. It runs as the owner.
func (b *maildirBox) makeFolder(f *mdFolder) error {
	d := b.md
	if f.name != "" {
		if err := b.md.Mkdir(f.name, 0o755); err != nil {
			return err
		}
		var err error
		if d, err = b.md.OpenDir(f.name); err != nil {
			return err
		}
		defer d.Close()
	}
	for _, sub := range []string{"cur", "new", "tmp"} {
		if err := d.Mkdir(sub, 0o755); err != nil {
			return err
		}
	}
	if f.name == "" {
		return nil
	}
	fh, err := d.Create("maildirfolder", 0o644)
	if err == nil {
		return fh.Close()
	}
	if !errors.Is(err, fs.ErrExist) || errors.Is(err, confined.ErrSymlink) {
		return err
	}
	// One from an earlier run (or Dovecot's) is fine; anything else in
	// its place is not.
	fi, serr := d.Stat("maildirfolder")
	if serr != nil {
		return serr
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("maildirfolder is %s", kindOf(fi.Mode()))
	}
	return nil
}

// openFolder opens f's folder, cur/ and tmp/ for appending (as the owner).
func (b *maildirBox) openFolder(f *mdFolder) error {
	if f.tmp != nil {
		return nil
	}
	err := b.owner.Do(func() (err error) {
		d := b.md
		if f.name != "" {
			if d, err = b.md.OpenDir(f.name); err != nil {
				return err
			}
		}
		cur, err := d.OpenDir("cur")
		if err != nil {
			if d != b.md {
				d.Close()
			}
			return err
		}
		tmp, err := d.OpenDir("tmp")
		if err != nil {
			cur.Close()
			if d != b.md {
				d.Close()
			}
			return err
		}
		f.dir, f.cur, f.tmp = d, cur, tmp
		return nil
	})
	if err != nil {
		f.err = b.folderErr(f, err)
		return f.err
	}
	b.open = append(b.open, f)
	return nil
}

// closeFolder releases f's descriptors.
func (b *maildirBox) closeFolder(f *mdFolder) {
	f.cur.Close()
	f.tmp.Close()
	if f.dir != b.md {
		f.dir.Close()
	}
	f.dir, f.cur, f.tmp = nil, nil, nil
}

// CreateFolders makes the folders; one that cannot be made is skipped (its
// messages are refused when appended).
func (b *maildirBox) CreateFolders(ctx context.Context, folders [][]string) error {
	for _, p := range folders {
		if _, err := b.folder(p); err != nil && !errors.Is(err, ErrRefused) {
			return err
		}
	}
	return nil
}

// cbfsUnique is the <unique> of a file name cbfs wrote ("" if it is not
// one): what follows ".cbfs-", up to the next ".", ":" or ",".
func cbfsUnique(n string) string {
	i := strings.Index(n, ".cbfs-")
	if i < 0 {
		return ""
	}
	u := n[i+len(".cbfs-"):]
	if j := strings.IndexAny(u, ".:,"); j >= 0 {
		u = u[:j]
	}
	return u
}

// list finds the files earlier runs wrote into the folder (as the owner):
// in cur/ and new/ (restored), and in tmp/ (left by a run that stopped).
func (b *maildirBox) list(f *mdFolder) error {
	existing, leftover := map[string]string{}, map[string][]string{}
	err := b.owner.Do(func() error {
		for _, sub := range []string{"cur", "new"} {
			ents, err := f.dir.ReadDir(sub)
			if err != nil {
				return err
			}
			for _, e := range ents {
				if u := cbfsUnique(e.Name()); u != "" {
					existing[u] = sub + "/" + e.Name()
				}
			}
		}
		// Only to tidy up: a tmp/ that cannot be listed is no reason to
		// refuse the folder. Only regular files are cbfs's (anything else
		// there was put by someone else, and is left alone).
		if ents, err := f.tmp.ReadDir("."); err == nil {
			for _, e := range ents {
				if u := cbfsUnique(e.Name()); u != "" && e.Type().IsRegular() {
					leftover[u] = append(leftover[u], e.Name())
				}
			}
		}
		return nil
	})
	if err != nil {
		return b.folderErr(f, err)
	}
	f.existing, f.leftover = existing, leftover
	return nil
}

// keywordLetters returns the keyword letters for tags, adding new
// keywords to the folder's dovecot-keywords file first.
func (b *maildirBox) keywordLetters(f *mdFolder, tags []string) (string, error) {
	if len(tags) == 0 {
		return "", nil
	}
	if !f.kwLoaded {
		f.kwLoaded = true
		var data []byte
		err := b.owner.Do(func() (err error) {
			data, err = f.dir.ReadFile("dovecot-keywords", maxKeywordsFile)
			return err
		})
		switch {
		case err == nil:
			for _, line := range strings.Split(string(data), "\n") {
				n, name, ok := strings.Cut(line, " ")
				i, err := strconv.Atoi(n)
				if !ok || err != nil || i < 0 || i >= 26 {
					continue
				}
				for len(f.keywords) <= i {
					f.keywords = append(f.keywords, "")
				}
				f.keywords[i] = name
			}
		case errors.Is(err, fs.ErrNotExist):
		default:
			// Neither read nor replaced: its letters are unknown.
			f.kwErr = b.folderErr(f, fmt.Errorf("cannot read dovecot-keywords, its tags cannot be set: %w", err))
		}
	}
	if f.kwErr != nil {
		return "", f.kwErr
	}
	var letters []byte
	added := false
	for _, t := range tags {
		k := keyword(t)
		if k == "" {
			continue
		}
		idx := -1
		for i, have := range f.keywords {
			if have == k {
				idx = i
			}
		}
		if idx < 0 {
			if len(f.keywords) >= 26 {
				continue
			}
			f.keywords = append(f.keywords, k)
			idx = len(f.keywords) - 1
			added = true
		}
		c := byte('a' + idx)
		if strings.IndexByte(string(letters), c) < 0 {
			letters = append(letters, c)
		}
	}
	if added {
		var sb strings.Builder
		for i, k := range f.keywords {
			if k != "" {
				fmt.Fprintf(&sb, "%d %s\n", i, k)
			}
		}
		if err := b.owner.Do(func() error {
			return f.dir.WriteFile("dovecot-keywords", []byte(sb.String()), atomicfile.Mode(0o644), !b.t.NoSync)
		}); err != nil {
			// The letters just given are not on disk: no later tagged
			// message may use them either.
			f.kwErr = b.folderErr(f, fmt.Errorf("cannot write dovecot-keywords, its tags cannot be set: %w", err))
			return "", f.kwErr
		}
	}
	for i := 1; i < len(letters); i++ {
		for j := i; j > 0 && letters[j] < letters[j-1]; j-- {
			letters[j], letters[j-1] = letters[j-1], letters[j]
		}
	}
	return string(letters), nil
}

// maildirGroup is how many messages are written before their cur/ folders
// are fsynced and the restore told (and the ledger written).
const maildirGroup = 256

func (b *maildirBox) Append(ctx context.Context, path []string, msg *Message, done func(Appended, error)) error {
	if msg.Unique == "" || strings.ContainsAny(msg.Unique, "/.:,\x00") {
		return fmt.Errorf("maildir target: bad unique name %q", msg.Unique)
	}
	refuse := func(err error) error {
		if !errors.Is(err, ErrRefused) {
			err = fmt.Errorf("%w: %w", err, ErrRefused)
		}
		b.pending = append(b.pending, mdPending{err: err, done: done})
		return nil
	}
	f, err := b.folder(path)
	if err != nil {
		return refuse(err)
	}
	if err := b.openFolder(f); err != nil {
		return refuse(err)
	}
	b.last = f
	if f.existing == nil {
		if err := b.list(f); err != nil {
			return refuse(err)
		}
	}
	if name, ok := f.existing[msg.Unique]; ok {
		b.pending = append(b.pending, mdPending{res: Appended{ID: name, Existing: true}, done: done})
		return nil
	}
	kw, err := b.keywordLetters(f, msg.Tags)
	if err != nil {
		return refuse(err)
	}
	base := fmt.Sprintf("%d.cbfs-%s.restore,S=%d", msg.Date.Unix(), msg.Unique, len(msg.Body))
	final := base + ":2," + mailbox.MaildirFlags(msg.Flags) + kw
	tmp, err := b.write(f, msg)
	if err != nil {
		return refuse(b.folderErr(f, err))
	}
	f.existing[msg.Unique] = "cur/" + final
	b.pending = append(b.pending, mdPending{f: f, tmp: tmp, final: final, res: Appended{ID: "cur/" + final}, done: done})
	if len(b.pending) >= maildirGroup {
		return b.Flush(ctx)
	}
	return nil
}

// write writes msg to a new file in f's tmp/ and returns its name. The
// name starts with "<date>.cbfs-<unique>." (so a later run can tell it
// and remove it if this one stops before the rename) and ends in 16
// random hex digits (so nobody can plant anything at it beforehand).
//
// It all runs as the owner, the writing and the date included: the file
// is theirs, and setting its times as root would take CAP_FOWNER, which
// the service does not keep.
func (b *maildirBox) write(f *mdFolder, msg *Message) (tmp string, err error) {
	err = b.owner.Do(func() error {
		for _, old := range f.leftover[msg.Unique] {
			f.tmp.Remove(old)
		}
		delete(f.leftover, msg.Unique)
		fh, name, err := f.tmp.CreateTemp(fmt.Sprintf("%d.cbfs-%s.", msg.Date.Unix(), msg.Unique), 0o600)
		if err != nil {
			return fmt.Errorf("tmp/: %w", err)
		}
		werr := b.fill(fh, msg)
		if cerr := fh.Close(); werr == nil && cerr != nil {
			werr = cerr
		}
		if werr != nil {
			f.tmp.Remove(name)
			return fmt.Errorf("write tmp/%s: %w", name, werr)
		}
		tmp = name
		return nil
	})
	return tmp, err
}

// fill writes msg's body into fh, gives it the internal date and keeps a
// descriptor of the group's first file for the group's syncfs.
func (b *maildirBox) fill(fh *os.File, msg *Message) error {
	if _, err := fh.Write(msg.Body); err != nil {
		return err
	}
	if !msg.Date.IsZero() {
		if err := confined.SetTimes(fh, msg.Date, msg.Date); err != nil {
			return err
		}
	}
	if !b.t.NoSync && b.syncFD < 0 {
		fd, err := unix.FcntlInt(fh.Fd(), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("dup: %w", err)
		}
		b.syncFD = fd
	}
	return nil
}

// Flush makes the written group durable (one syncfs), renames it into
// cur/ (as the owner), fsyncs those folders, and then reports the group's
// messages.
func (b *maildirBox) Flush(ctx context.Context) error {
	p := b.pending
	b.pending = nil
	if b.syncFD >= 0 {
		err := unix.Syncfs(b.syncFD)
		unix.Close(b.syncFD)
		b.syncFD = -1
		if err != nil {
			return fmt.Errorf("maildir target: syncfs %s: %w", b.dir, err)
		}
	}
	var dirty []*mdFolder
	var renamed int
	err := b.owner.Do(func() error {
		for i := range p {
			x := &p[i]
			if x.f == nil || x.err != nil {
				continue
			}
			if err := x.f.tmp.Rename(x.tmp, x.f.cur, x.final); err != nil {
				// This folder refuses writes: the message is unrestored,
				// the rest goes on.
				x.f.tmp.Remove(x.tmp)
				x.err = b.folderErr(x.f, err)
				continue
			}
			renamed++
			if len(dirty) == 0 || dirty[len(dirty)-1] != x.f {
				dirty = append(dirty, x.f)
			}
		}
		return nil
	})
	if err != nil {
		// The owner's identity could not be taken: nothing was renamed
		// (the files stay in tmp/, removed by the next run).
		for i := range p {
			if p[i].f != nil && p[i].err == nil {
				p[i].err = fmt.Errorf("maildir target: %w: %w", err, ErrRefused)
			}
		}
	}
	if !b.t.NoSync && renamed > 0 {
		synced := map[*mdFolder]bool{}
		for _, f := range dirty {
			if synced[f] {
				continue
			}
			synced[f] = true
			if err := f.cur.Sync(); err != nil {
				if !errors.Is(err, unix.EBADF) && !errors.Is(err, unix.EACCES) && !errors.Is(err, unix.EPERM) {
					return fmt.Errorf("maildir target: %w", err)
				}
				// A cur/ its owner made unreadable (opened O_PATH): its
				// messages are not known durable, so not reported.
				for i := range p {
					if p[i].f == f && p[i].err == nil {
						p[i].err = b.folderErr(f, err)
					}
				}
			}
		}
	}
	for _, x := range p {
		if x.err != nil {
			x.done(Appended{}, x.err)
			continue
		}
		x.done(x.res, nil)
	}
	// Release the folders the appends have moved on from.
	kept := b.open[:0]
	for _, f := range b.open {
		if f == b.last {
			kept = append(kept, f)
			continue
		}
		b.closeFolder(f)
	}
	b.open = kept
	return nil
}

// Close releases the account's descriptors. A group not flushed is left
// in tmp/ (removed by the next run).
func (b *maildirBox) Close() error {
	for _, f := range b.open {
		b.closeFolder(f)
	}
	b.open, b.last = nil, nil
	if b.syncFD >= 0 {
		unix.Close(b.syncFD)
		b.syncFD = -1
	}
	return b.md.Close()
}
