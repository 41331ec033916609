package fusefs

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/cbfs/cbfs/mailbox"
)

// ---- accounts/<name>/Maildir/ and at/<moment>/Maildir/ ----
//
// A Maildir++ view of a folders view (view), for a stock Dovecot to serve
// read-only over IMAP (docs/dovecot-cbfs-view.conf):
//
//	Maildir/{cur,new,tmp}/                the Inbox (new/ and tmp/ always empty)
//	Maildir/.<A>.<B>/{cur,new,tmp}/       the folder A/B, and an empty maildirfolder
//	Maildir/.INBOX.<A>/                   the Inbox's subfolder A
//	.../cur/<id>.<start ms>.cbfs,S=<size>:2,<flags>
//
// Folder names are mailbox.MaildirFolderName's, the maildir: restore's rule
// (IMAP modified UTF-7, a "." inside a name becomes "_", names over 255
// bytes shortened with a hash); two folders that still map to one name (a
// sibling "a.b" and "a_b") keep the first, the other gets "~<folder id>"
// appended, again until the name is free (uniqueMaildirName). Only mail folders are shown: the tags folder, address books,
// calendars, tasks and briefcase (and their subtrees) are left out. The
// files are the live messages and chats of the folder, as folders/ shows
// them; the unique part of the name is the item id and its state's start
// (stable across mounts, unique in the account), S= the recorded size (left
// out when the index does not know it), the info the state's flags
// (mailbox.MaildirFlags). Each file is the very node folders/ serves (same
// inode number: a hard link), so bytes, caches and read-ahead are shared.
//
// accounts/<name>/Maildir (not the at/ views) also holds a folder of its
// own, `.Deleted Items` (mdDeletedName; `.Deleted Items~0` if the account
// has a folder of that name), so that a user in a mail client finds the
// messages and chats deleted/ shows: the items whose latest state is
// deleted, in the last content they had, each the very node deleted/
// serves. Like the whole mount it is read-only: a client can read and
// copy out of it, nothing more. Its inode numbers are hashed from the
// account id (no folder id is free to number it by).

// mdHidden are the folders (and their subtrees) that hold no mail.
var mdHidden = map[int]bool{
	mailbox.FolderTags: true, mailbox.FolderContacts: true, mailbox.FolderCalendar: true,
	13: true, mailbox.FolderTasks: true, mailbox.FolderBriefcase: true,
}

// Sub-numbers of a Maildir folder's nodes.
const (
	mdSubDir = iota
	mdSubCur
	mdSubNew
	mdSubTmp
	mdSubMarker
)

// mdFolder is one Maildir++ folder: the Inbox (name "") or ".A.B".
type mdFolder struct {
	name string // "" for the Maildir itself
	fid  int    // folder id (0: no such folder, e.g. an account without Inbox)
	path string // folder path as folders/ shows it
	// deleted: the Deleted Items folder (deleted/'s messages), fid 0.
	deleted bool
}

// mdDeletedName is the folder of deleted items in accounts/<name>/Maildir.
const mdDeletedName = "Deleted Items"

// mdView is the Maildir view of a folders view.
type mdView struct {
	v *view

	once    sync.Once
	inbox   mdFolder
	folders []mdFolder     // sorted by name, the Inbox not included
	byName  map[string]int // name -> index in folders
	err     error
}

func (m *mdView) load() error {
	m.once.Do(func() {
		if err := m.v.load(); err != nil {
			m.err = err
			return
		}
		m.byName = map[string]int{}
		var walk func(n *folderNode, path []string, fsPath string)
		walk = func(n *folderNode, path []string, fsPath string) {
			for _, c := range n.children {
				if mdHidden[c.id] {
					continue
				}
				p := append(append([]string(nil), path...), c.name)
				fp := joinPath(fsPath, c.name)
				if c.id == mailbox.FolderInbox && len(path) == 0 {
					m.inbox = mdFolder{fid: c.id, path: fp}
					p[0] = "INBOX"
				} else {
					name := uniqueMaildirName(mailbox.MaildirFolderName(p), c.id, m.byName)
					m.byName[name] = len(m.folders)
					m.folders = append(m.folders, mdFolder{name: name, fid: c.id, path: fp})
				}
				walk(c, p, fp)
			}
		}
		walk(m.v.root, nil, "")
		if m.v.at.IsZero() && m.v.key == "" {
			// The account's own view: its deleted items too.
			name := uniqueMaildirName(mailbox.MaildirFolderName([]string{mdDeletedName}), 0, m.byName)
			m.byName[name] = len(m.folders)
			m.folders = append(m.folders, mdFolder{name: name, path: "deleted", deleted: true})
		}
		sort.Slice(m.folders, func(i, j int) bool { return m.folders[i].name < m.folders[j].name })
		for i, f := range m.folders {
			m.byName[f.name] = i
		}
	})
	return m.err
}

// uniqueMaildirName is name, or, when another folder has it already or it
// is the Inbox's (".INBOX", in any case), name + "~<id>" (then "~<id>~2",
// "~<id>~3"... until one is free), name's end cut so that the result stays
// within mailbox.MaxMaildirName bytes (between characters: never inside a
// modified UTF-7 "&...-" run).
func uniqueMaildirName(name string, id int, taken map[string]int) string {
	used := func(n string) bool {
		_, ok := taken[n]
		return ok || strings.EqualFold(n, ".INBOX")
	}
	base := name
	for n := 1; used(name); n++ {
		suffix := "~" + strconv.Itoa(id)
		if n > 1 {
			suffix += "~" + strconv.Itoa(n)
		}
		name = cutMUTF7(base, mailbox.MaxMaildirName-len(suffix)) + suffix
	}
	return name
}

// cutMUTF7 is the longest prefix of the modified UTF-7 name s of at most n
// bytes that does not end inside a "&...-" run.
func cutMUTF7(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	if amp := strings.LastIndexByte(s, '&'); amp >= 0 && !strings.Contains(s[amp:], "-") {
		s = s[:amp]
	}
	return s
}

// ino numbers a node of the Maildir folder fid (the Maildir itself: fid 0,
// also for its cur/, new/, tmp/).
func (m *mdView) ino(fid, sub int) uint64 {
	f := m.v.fsys
	key := fmt.Sprintf("maildir:%s:%d:%d", m.v.acct.ID, fid, sub)
	if m.v.key != "" {
		return f.hashed.ino(m.v.key + ":" + key)
	}
	n, ok := inoState(kindMaildir, m.v.acct.Seq, fid, sub)
	return f.ino(n, ok, key)
}

// folderIno numbers a node of the Maildir folder f (sub: mdSubDir, ...).
func (m *mdView) folderIno(f mdFolder, sub int) uint64 {
	if f.deleted {
		return m.v.fsys.hashed.ino(fmt.Sprintf("maildir-deleted:%s:%d", m.v.acct.ID, sub))
	}
	return m.ino(f.fid, sub)
}

// newMaildirDir makes the Maildir node of a Maildir view.
func newMaildirDir(m *mdView) *maildirDir {
	v := m.v
	d := &maildirDir{m: m, top: true}
	d.init(v.fsys, m.ino(0, mdSubDir), true, 0, v.fsys.mtime)
	if !v.at.IsZero() {
		d.mtime = v.at
	}
	return d
}

// maildirDir is the Maildir (top) or one of its .A.B folders.
type maildirDir struct {
	node
	m   *mdView
	top bool
	f   mdFolder
}

var (
	_ = (fs.NodeLookuper)((*maildirDir)(nil))
	_ = (fs.NodeOpendirHandler)((*maildirDir)(nil))
)

func (d *maildirDir) folder() mdFolder {
	if d.top {
		return d.m.inbox
	}
	return d.f
}

// subIno numbers this folder's node sub (the Maildir's own: fid 0).
func (d *maildirDir) subIno(sub int) uint64 {
	if d.top {
		return d.m.ino(0, sub)
	}
	return d.m.folderIno(d.f, sub)
}

var mdSubs = []struct {
	name string
	sub  int
}{{"cur", mdSubCur}, {"new", mdSubNew}, {"tmp", mdSubTmp}}

func (d *maildirDir) OpendirHandle(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	if err := d.m.load(); err != nil {
		return openList(nil, errno(err))
	}
	var out []fuse.DirEntry
	for _, s := range mdSubs {
		out = append(out, dirEntry(s.name, true, d.subIno(s.sub)))
	}
	if d.top {
		for _, f := range d.m.folders {
			out = append(out, dirEntry(f.name, true, d.m.folderIno(f, mdSubDir)))
		}
	} else {
		out = append(out, dirEntry("maildirfolder", false, d.subIno(mdSubMarker)))
	}
	sortEntries(out)
	return openList(out, 0)
}

func (d *maildirDir) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if err := d.m.load(); err != nil {
		return nil, errno(err)
	}
	for _, s := range mdSubs {
		if s.name == name {
			c := &mdCurDir{m: d.m, f: d.folder(), empty: s.sub != mdSubCur, tmp: s.sub == mdSubTmp}
			c.init(d.fsys, d.subIno(s.sub), true, 0, d.mtime)
			return newChild(ctx, &d.Inode, c, out), 0
		}
	}
	if !d.top {
		if name != "maildirfolder" {
			return nil, syscall.ENOENT
		}
		mf := &dataFile{}
		mf.init(d.fsys, d.subIno(mdSubMarker), false, 0, d.mtime)
		return newChild(ctx, &d.Inode, mf, out), 0
	}
	i, ok := d.m.byName[name]
	if !ok {
		return nil, syscall.ENOENT
	}
	sub := &maildirDir{m: d.m, f: d.m.folders[i]}
	sub.init(d.fsys, d.m.folderIno(sub.f, mdSubDir), true, 0, d.mtime)
	return newChild(ctx, &d.Inode, sub, out), 0
}

// mdCurDir is cur/ (the folder's messages) or an always empty new/ or tmp/.
type mdCurDir struct {
	node
	m     *mdView
	f     mdFolder
	empty bool
	tmp   bool // tmp/: see fill

	once   sync.Once
	fd     *folderDir // the folders/ node of the same folder (not in the tree)
	list   *listing   // its listing, kept by cur/ (not under the budget: names index it)
	names  []string
	byName map[string]int // file name -> index in list.files
	err    error

	del     *deletedDir        // Deleted Items: the deleted/ node (not in the tree)
	delRefs map[string]fileRef // Deleted Items: file name -> its item
}

var (
	_ = (fs.NodeLookuper)((*mdCurDir)(nil))
	_ = (fs.NodeOpendirHandler)((*mdCurDir)(nil))
)

var _ = (fs.NodeGetattrer)((*mdCurDir)(nil))

// fill gives tmp/ a ctime of 1970: Dovecot cleans a Maildir's tmp/ when
// its atime is more than 36 hours old, and ends that with a utime() of
// tmp/, which fails on the read-only mount and is logged as an error on
// every SELECT; it leaves alone a tmp/ whose atime is more than 36 hours
// past its ctime (maildir_check_tmp).
func (c *mdCurDir) fill(a *fuse.Attr) {
	c.node.fill(a)
	if c.tmp {
		a.Ctime, a.Ctimensec = 0, 0
	}
}

func (c *mdCurDir) Getattr(ctx context.Context, fh fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	c.fill(&out.Attr)
	return 0
}

// maildirFileName is a message's name in cur/.
func maildirFileName(r fileRef) string {
	var b strings.Builder
	b.WriteString(strconv.Itoa(r.id))
	b.WriteByte('.')
	b.WriteString(strconv.FormatInt(r.state.Start.Time().UnixMilli(), 10))
	b.WriteString(".cbfs")
	if r.cs().Size > 0 {
		b.WriteString(",S=")
		b.WriteString(strconv.FormatInt(r.cs().Size, 10))
	}
	b.WriteString(":2,")
	b.WriteString(mailbox.MaildirFlags(r.state.Flags))
	return b.String()
}

func (c *mdCurDir) load() error {
	c.once.Do(func() {
		c.byName = map[string]int{}
		if !c.empty && c.f.deleted {
			c.err = c.loadDeleted()
			return
		}
		if c.empty || c.f.fid == 0 {
			return
		}
		v := c.m.v
		fd := &folderDir{v: v, fid: c.f.fid, path: c.f.path}
		fd.init(c.fsys, 0, true, 0, c.mtime)
		l, err := fd.loadFiles()
		if err != nil {
			c.err = err
			return
		}
		c.fd, c.list = fd, l
		for i, r := range l.files {
			if r.state.Type != mailbox.TypeMessage && r.state.Type != mailbox.TypeChat {
				continue
			}
			n := maildirFileName(r)
			c.byName[n] = i
			c.names = append(c.names, n)
		}
	})
	return c.err
}

// loadDeleted lists Deleted Items' cur/: the messages and chats of
// deleted/.
func (c *mdCurDir) loadDeleted() error {
	d := &deletedDir{acct: c.m.v.acct}
	d.init(c.fsys, 0, true, 0, c.mtime)
	if err := d.load(); err != nil {
		return err
	}
	c.del, c.delRefs = d, map[string]fileRef{}
	for _, r := range d.byName {
		if r.state.Type != mailbox.TypeMessage && r.state.Type != mailbox.TypeChat {
			continue
		}
		n := maildirFileName(r)
		c.delRefs[n] = r
		c.names = append(c.names, n)
	}
	return nil
}

func (c *mdCurDir) OpendirHandle(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	if err := c.load(); err != nil {
		return openList(nil, errno(err))
	}
	if c.del != nil {
		out := make([]fuse.DirEntry, 0, len(c.names))
		for _, n := range c.names {
			out = append(out, dirEntry(n, false, c.del.ino(c.delRefs[n].id)))
		}
		sortEntries(out)
		return openList(out, 0)
	}
	out := make([]fuse.DirEntry, 0, len(c.names))
	for _, n := range c.names {
		out = append(out, dirEntry(n, false, c.fd.fileIno(c.list.files[c.byName[n]].id)))
	}
	sortEntries(out)
	if len(out) > 0 {
		c.fsys.blobs.Prefetch(c.fd.sequence(), -1)
	}
	return openList(out, 0)
}

func (c *mdCurDir) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if err := c.load(); err != nil {
		return nil, errno(err)
	}
	if c.del != nil {
		r, ok := c.delRefs[name]
		if !ok {
			return nil, syscall.ENOENT
		}
		// deleted/'s own node (deletedDir.Lookup).
		file := c.fsys.itemFile(c.m.v.acct, r, c.del.ino(r.id), "", false, true)
		return newChild(ctx, &c.Inode, file, out), 0
	}
	i, ok := c.byName[name]
	if !ok {
		return nil, syscall.ENOENT
	}
	ref := c.list.files[i]
	file := c.fsys.itemFile(c.m.v.acct, ref, c.fd.fileIno(ref.id), c.f.path, true, false)
	file.seq, file.seqKey = c.fd.sequence(), ref.id
	return newChild(ctx, &c.Inode, file, out), 0
}
