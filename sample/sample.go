// Package sample generates a deterministic, realistic Backup Path for demos,
// tests and benchmarks, including deliberately damaged items.
//
// The same Options give the same tree byte for byte: file names, contents
// and modification times. Everything is drawn from one PCG seeded with
// Options.Seed, in a fixed order, against a fixed calendar (the backup's
// history runs from 2023-01-01 to 2024-07-01 UTC); the clock is never read.
package sample

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/blob"
	"github.com/cbfs/cbfs/mailbox"
)

// Options say how big a sample to make.
type Options struct {
	Accounts int   // number of accounts (>= 3; 0 means 6)
	Messages int   // messages per account (approximate; 0 means 40)
	Seed     int64 // same seed, same Backup Path byte for byte
	// BigAttachments adds MB-sized attachments to a few messages.
	BigAttachments bool
	// FolderMessages puts that many extra messages into one folder "Bulk"
	// of the first account (for benchmarks of big folders).
	FolderMessages int
	// Dialect is the dialect of the account_info and item files:
	// DialectCBFS ("" means it) or one of the foreign test dialects of
	// Dialects (see ConvertDialect and docs/DIALECTS.md).
	Dialect string
}

// Defaults used for zero Options fields.
const (
	DefaultAccounts = 6
	DefaultMessages = 40
	maxAccounts     = 1000
)

// Damage kinds the generator plants.
const (
	DamageTruncated     = "truncated"       // blob cut short            -> broken
	DamageMismatch      = "digest-mismatch" // content != digest        -> broken
	DamageUnreadable    = "unreadable"      // a folder where the blob should be -> unreadable
	DamageMissing       = "missing"         // no blob file               -> unreadable
	DamageDoubleGzip    = "double-gzip"     // gzip inside gzip: sound, readable
	DamageMalformedJSON = "malformed-json"  // item file is not JSON      -> broken item
)

// DamageKinds lists every kind Generate plants, in the order it plants them.
var DamageKinds = []string{DamageTruncated, DamageMismatch, DamageUnreadable, DamageMissing, DamageDoubleGzip, DamageMalformedJSON}

// Damaged is one planted damaged item.
type Damaged struct {
	Kind      string
	AccountID string
	Account   string // name
	ItemID    int
	Digest    string // blob digest involved ("" for malformed-json)
}

// Report says what Generate made.
type Report struct {
	Accounts []string // account names
	Items    int      // item files
	Blobs    int      // entries under items/ (damaged ones included)
	Damaged  []Damaged
	States   int   // item states, all items
	Bytes    int64 // uncompressed bytes of the blobs written
	// Dialect is the foreign dialect the sample was written in; empty for
	// cbfs's own.
	Dialect string `json:",omitempty"`
}

// The calendar of every sample.
var (
	historyStart = time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC)
	historyEnd   = time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC)
)

// Generate writes a Backup Path into dest (which must be missing or empty).
// On error (including a cancelled ctx) dest is left partly written.
func Generate(ctx context.Context, dest string, opt Options) (*Report, error) {
	opt, err := opt.normalize()
	if err != nil {
		return nil, err
	}
	if err := prepareDest(dest); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("sample: %w", err)
	}
	g := &gen{
		ctx:   ctx,
		opt:   opt,
		r:     rand.New(rand.NewPCG(uint64(opt.Seed), 0x5ca1ab1e0cbf5)),
		start: historyStart,
		end:   historyEnd,
		rep:   &Report{},
	}
	if err := g.run(dest); err != nil {
		return nil, fmt.Errorf("sample %s: %w", dest, err)
	}
	return g.rep, nil
}

func (o Options) normalize() (Options, error) {
	if o.Accounts == 0 {
		o.Accounts = DefaultAccounts
	}
	if o.Messages == 0 {
		o.Messages = DefaultMessages
	}
	switch {
	case o.Accounts < 3 || o.Accounts > maxAccounts:
		return o, fmt.Errorf("sample: accounts must be between 3 and %d, got %d", maxAccounts, o.Accounts)
	case o.Messages < 0:
		return o, fmt.Errorf("sample: messages must not be negative, got %d", o.Messages)
	case o.FolderMessages < 0:
		return o, fmt.Errorf("sample: folder messages must not be negative, got %d", o.FolderMessages)
	case !slices.Contains(Dialects, o.Dialect) && o.Dialect != "":
		return o, fmt.Errorf("sample: unknown dialect %q (known: %s)", o.Dialect, strings.Join(Dialects, ", "))
	}
	return o, nil
}

// prepareDest makes sure dest is an empty folder.
func prepareDest(dest string) error {
	ents, err := os.ReadDir(dest)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(dest, 0o755); err != nil {
			return fmt.Errorf("sample: create destination: %w", err)
		}
		return nil
	case err != nil:
		if fi, serr := os.Stat(dest); serr == nil && !fi.IsDir() {
			return fmt.Errorf("sample: destination %s is not a folder", dest)
		}
		return fmt.Errorf("sample: destination: %w", err)
	case len(ents) > 0:
		return fmt.Errorf("sample: destination %s is not empty", dest)
	}
	return nil
}

// User folder ids: Zimbra gives user items ids from 257 up, in creation
// order; the folders are created with the account.
const (
	fProjects    = 257 + iota // Inbox/Projects
	f2024                     // Inbox/Projects/2024
	fClients                  // Inbox/Clients
	fReceipts                 // Inbox/Receipts, later renamed "Invoices"
	fArchive                  // Archive
	f2023                     // Archive/2023
	fNewsletters              // Newsletters, later moved under Archive
	fTravel                   // Travel
	fBulk                     // Bulk (first account, with FolderMessages)
	firstTagID
)

var userFolders = [...]struct {
	id, parent int
	name       string
}{
	{fProjects, mailbox.FolderInbox, "Projects"},
	{f2024, fProjects, "2024"},
	{fClients, mailbox.FolderInbox, "Clients"},
	{fReceipts, mailbox.FolderInbox, "Receipts"},
	{fArchive, mailbox.FolderRoot, "Archive"},
	{f2023, fArchive, "2023"},
	{fNewsletters, mailbox.FolderRoot, "Newsletters"},
	{fTravel, mailbox.FolderRoot, "Travel"},
}

var systemFolders = [...]int{
	mailbox.FolderRoot, mailbox.FolderInbox, mailbox.FolderTrash, mailbox.FolderJunk,
	mailbox.FolderSent, mailbox.FolderDrafts, mailbox.FolderContacts, mailbox.FolderCalendar,
}

var tagNames = [...]string{"Important", "Follow-up", "Personal"}

type gen struct {
	ctx        context.Context
	opt        Options
	r          *rand.Rand
	p          *backuppath.Path
	w          *writer
	rep        *Report
	start, end time.Time

	serverID  string
	cosIDs    [len(cosNames)]string
	domainIDs [len(domains)]string
	dlIDs     [len(domains) + 1]string

	accts     []*account
	externals []addr
	shared    sharedMsg

	m    mailer
	body []byte // the content being built
}

type account struct {
	info     mailbox.Account
	first    string
	last     string
	me       addr
	domain   int
	created  time.Time
	until    time.Time // deletion date, or the end of the history
	nextID   int
	stat     backuppath.AccountStat
	damage   []string // damage kinds this account hosts
	receiver bool     // receives the shared message
}

type sharedMsg struct {
	at        time.Time
	digest    blob.Digest
	size      int64
	spec      mailSpec
	sentCopy  blob.Digest
	sentSize  int64
	subject   string
	fromValue string
	toValue   string
}

func (g *gen) uuid() string {
	u, err := uuid.NewRandomFromReader(randReader{g.r})
	if err != nil { // randReader never fails
		panic(err)
	}
	return u.String()
}

// randReader reads from the seeded generator.
type randReader struct{ r *rand.Rand }

func (rr randReader) Read(b []byte) (int, error) {
	for i := range b {
		b[i] = byte(rr.r.Uint32())
	}
	return len(b), nil
}

// between is a random time in [a, b), whole seconds.
func (g *gen) between(a, b time.Time) time.Time {
	d := b.Sub(a)
	if d < 2*time.Second {
		return a
	}
	return a.Add(time.Duration(g.r.Int64N(int64(d/time.Second))) * time.Second)
}

// dur is a random duration in [lo, hi), whole seconds.
func (g *gen) dur(lo, hi time.Duration) time.Duration {
	return lo + time.Duration(g.r.Int64N(int64((hi-lo)/time.Second)))*time.Second
}

// logUniform is a size between lo and hi, log-uniformly distributed (so
// most messages are small and a few are large, as in a real mailbox).
func (g *gen) logUniform(lo, hi int) int {
	return int(float64(lo) * math.Exp(g.r.Float64()*math.Log(float64(hi)/float64(lo))))
}

func (g *gen) chance(p float64) bool { return g.r.Float64() < p }

func (g *gen) run(dest string) error {
	g.serverID = g.uuid()
	for i := range g.cosIDs {
		g.cosIDs[i] = g.uuid()
	}
	for i := range g.domainIDs {
		g.domainIDs[i] = g.uuid()
	}
	for i := range g.dlIDs {
		g.dlIDs[i] = g.uuid()
	}
	p, err := backuppath.Create(dest, backuppath.BackupStat{
		ServerID: g.serverID,
		Hostname: hostname,
		FirstRun: mailbox.MillisOf(g.start),
		LastScan: mailbox.MillisOf(g.end),
	})
	if err != nil {
		return err
	}
	g.p = p
	g.w = newWriter(p.Root)
	defer g.w.close()
	g.makeAccounts()
	g.makeExternals()
	if err := g.makeShared(); err != nil {
		return err
	}
	for _, a := range g.accts {
		if err := g.genAccount(a); err != nil {
			return fmt.Errorf("account %s: %w", a.info.Name, err)
		}
		g.rep.Accounts = append(g.rep.Accounts, a.info.Name)
	}
	if err := g.writeServer(); err != nil {
		return err
	}
	if err := stamp(p.Root, backuppath.BackupStatFile, g.end); err != nil {
		return err
	}
	if err := g.w.close(); err != nil {
		return err
	}
	g.rep.Blobs, g.rep.Bytes = g.w.blobs, g.w.bytes
	sort.SliceStable(g.rep.Damaged, func(i, j int) bool {
		return slices.Index(DamageKinds, g.rep.Damaged[i].Kind) < slices.Index(DamageKinds, g.rep.Damaged[j].Kind)
	})
	if d := g.opt.Dialect; d != "" && d != DialectCBFS {
		// Written in cbfs's dialect, then rewritten: the content, the
		// damage and the report stay those of the cbfs sample.
		if err := ConvertDialect(p.Root, d); err != nil {
			return err
		}
		g.rep.Dialect = d
	}
	return g.stampFolders()
}

// stampFolders gives every folder the end of the history as mtime, so that
// modification times are deterministic too.
func (g *gen) stampFolders() error {
	var dirs []string
	err := filepath.WalkDir(g.p.Root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			dirs = append(dirs, path)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("set folder times: %w", err)
	}
	for _, d := range dirs {
		if err := os.Chtimes(d, g.end, g.end); err != nil {
			return fmt.Errorf("set folder times: %w", err)
		}
	}
	return nil
}

func (g *gen) makeAccounts() {
	n := g.opt.Accounts
	used := make(map[string]bool, n)
	window := 30 * 24 * time.Hour
	for i := 0; i < n; i++ {
		a := &account{nextID: firstTagID + len(tagNames)}
		a.domain = i % len(domains)
		cos := i % len(cosNames)
		if i >= len(domains) {
			a.domain = g.r.IntN(len(domains))
			switch x := g.r.Float64(); {
			case x < 0.6:
				cos = 0
			case x < 0.75:
				cos = 1
			default:
				cos = 2
			}
		}
		for {
			a.first, a.last = firstNames[g.r.IntN(len(firstNames))], lastNames[g.r.IntN(len(lastNames))]
			name := a.first + "." + a.last + "@" + domains[a.domain]
			if !used[name] {
				used[name] = true
				break
			}
		}
		a.created = g.start.Add(window * time.Duration(i) / time.Duration(n)).Add(g.dur(time.Hour, 10*time.Hour))
		a.until = g.end
		display := title(a.first) + " " + title(a.last)
		a.me = addr{display, a.first + "." + a.last + "@" + domains[a.domain]}
		a.info = mailbox.Account{
			ID:          g.uuid(),
			Name:        a.me.email,
			Status:      mailbox.StatusActive,
			DisplayName: display,
			COSID:       g.cosIDs[cos],
			COSName:     cosNames[cos],
			Created:     mailbox.MillisOf(a.created),
		}
		locale := [...]string{"en_US", "it_IT", "de_DE", "fr_FR"}[g.r.IntN(4)]
		status := "active"
		if i == n-1 { // the last account was deleted
			a.until = g.start.Add(300*24*time.Hour + g.dur(0, 30*24*time.Hour))
			a.info.Status = mailbox.StatusDeleted
			a.info.DeletedDate = mailbox.MillisOf(a.until)
			status = "closed"
		}
		a.info.Attrs = attrs(
			"givenName", title(a.first),
			"sn", title(a.last),
			"zimbraMailHost", hostname,
			"zimbraMailDeliveryAddress", a.me.email,
			"zimbraAccountStatus", status,
			"zimbraPrefLocale", locale,
			"zimbraPrefTimeZoneId", "Europe/Rome",
			"zimbraMailQuota", fmt.Sprint([...]int64{2 << 30, 10 << 30, 512 << 20}[cos]),
		)
		g.accts = append(g.accts, a)
	}
	// Damage goes to active accounts, round robin.
	active := g.accts[:n-1]
	for i, k := range DamageKinds {
		a := active[i%len(active)]
		a.damage = append(a.damage, k)
	}
}

func (g *gen) makeExternals() {
	for i := 0; i < 16; i++ {
		d := i % (len(externalDomains) - 1) // the last domain is the newsletter's
		f, l := firstNames[g.r.IntN(len(firstNames))], lastNames[g.r.IntN(len(lastNames))]
		g.externals = append(g.externals, addr{title(f) + " " + title(l), f + "." + l + "@" + externalDomains[d]})
	}
}

// internalZone is the time zone internal users write in (Italy, roughly).
func internalZone(t time.Time) *time.Location {
	if m := t.Month(); m >= time.April && m <= time.October {
		return time.FixedZone("CEST", 2*3600)
	}
	return time.FixedZone("CET", 3600)
}

var externalZones = [...]*time.Location{
	time.FixedZone("UTC", 0), time.FixedZone("EST", -5*3600), time.FixedZone("CET", 3600), time.FixedZone("JST", 9*3600),
}

// makeShared writes the all-hands announcement: one blob delivered to every
// account but the sender, so it is deduplicated across accounts.
func (g *gen) makeShared() error {
	from := g.accts[0]
	s := &g.shared
	s.at = g.start.Add(45*24*time.Hour + 9*time.Hour + 30*time.Minute)
	s.spec = mailSpec{
		from:      from.me,
		to:        []addr{{"All Staff", "all@" + domains[0]}},
		subject:   "All-hands meeting: 2023 kickoff",
		date:      s.at.In(internalZone(s.at)),
		msgID:     msgID(g.r.Uint64(), 1, domains[from.domain]),
		layout:    layoutMixed,
		altInside: true,
		bodySeed:  g.r.Uint64(),
		bodySize:  3000,
		atts:      []attSpec{{name: "agenda_2023.pdf", ctype: "application/pdf", magic: attachmentKinds[0].magic, size: 14000, seed: g.r.Uint64()}},
		delivered: true,
		boundary:  fmt.Sprintf("=_%016x", g.r.Uint64()),
		mailer:    "Carbonio Webmail",
	}
	g.body = g.m.build(g.body[:0], &s.spec)
	d, err := g.w.put(g.body, s.at)
	if err != nil {
		return err
	}
	s.digest, s.size = d, int64(len(g.body))
	s.spec.delivered = false // the sender's own copy in Sent
	g.body = g.m.build(g.body[:0], &s.spec)
	if s.sentCopy, err = g.w.put(g.body, s.at); err != nil {
		return err
	}
	s.sentSize = int64(len(g.body))
	s.subject, s.fromValue, s.toValue = s.spec.subject, s.spec.from.String(), addrList(s.spec.to)
	for _, a := range g.accts[1:] {
		a.receiver = true
	}
	return nil
}

// Event kinds in an account's history.
const (
	evReceived = iota
	evSent
	evDraft
	evNewsletter
	evContact
	evAppointment
	evShared
	evDamage
)

type event struct {
	t      time.Time
	kind   int
	damage string
	big    bool
}

// hist is an item's state history being written.
type hist struct {
	states []mailbox.State
	until  time.Time
}

func (h *hist) last() mailbox.State {
	s := h.states[len(h.states)-1]
	s.Tags = append([]string(nil), s.Tags...)
	return s
}

// next is a copy of the last state, some time later; ok is false when that
// time falls after the end of the account's history.
func (g *gen) next(h *hist, lo, hi time.Duration) (s mailbox.State, ok bool) {
	s = h.last()
	t := s.Start.Time().Add(g.dur(lo, hi))
	if !t.Before(h.until) {
		return s, false
	}
	s.Start = mailbox.MillisOf(t)
	return s, true
}

func (h *hist) push(s mailbox.State) { h.states = append(h.states, s) }

// Flags are kept in this order.
const flagOrder = "adfrsuw"

func withFlag(flags string, f byte) string {
	if strings.IndexByte(flags, f) >= 0 {
		return flags
	}
	var b []byte
	for i := 0; i < len(flagOrder); i++ {
		if c := flagOrder[i]; c == f || strings.IndexByte(flags, c) >= 0 {
			b = append(b, c)
		}
	}
	return string(b)
}

func withoutFlag(flags string, f byte) string {
	return strings.ReplaceAll(flags, string(f), "")
}

func (g *gen) writeItem(a *account, id int, states []mailbox.State) error {
	it := &mailbox.Item{ID: id, States: states}
	if err := g.w.writeItem(a.info.ID, it); err != nil {
		return err
	}
	g.countItem(a, it)
	return nil
}

func (g *gen) countItem(a *account, it *mailbox.Item) {
	a.stat.ItemCount++
	a.stat.LastItemID = max(a.stat.LastItemID, it.ID)
	if l := it.Latest(); !l.Deleted {
		a.stat.BlobBytes += l.Size
	}
	g.rep.Items++
	g.rep.States += len(it.States)
}

func (g *gen) genAccount(a *account) error {
	if err := g.ctx.Err(); err != nil {
		return err
	}
	if err := g.p.WriteAccount(&a.info); err != nil {
		return err
	}
	if err := g.genFolders(a); err != nil {
		return err
	}
	events := g.events(a)
	for _, ev := range events {
		if err := g.ctx.Err(); err != nil {
			return err
		}
		id := a.nextID
		a.nextID++
		var err error
		switch ev.kind {
		case evReceived, evNewsletter:
			err = g.genReceived(a, id, ev)
		case evSent:
			err = g.genSent(a, id, ev)
		case evDraft:
			err = g.genDraft(a, id, ev, "")
		case evContact:
			err = g.genContact(a, id, ev)
		case evAppointment:
			err = g.genAppointment(a, id, ev)
		case evShared:
			err = g.genShared(a, id)
		case evDamage:
			err = g.genDamage(a, id, ev)
		}
		if err != nil {
			return fmt.Errorf("item %d: %w", id, err)
		}
	}
	if a == g.accts[0] && g.opt.FolderMessages > 0 {
		if err := g.genBulk(a); err != nil {
			return err
		}
	}
	a.stat.LastScan = mailbox.MillisOf(a.until)
	if err := g.p.WriteAccountStat(a.info.ID, &a.stat); err != nil {
		return err
	}
	dir := filepath.Join(backuppath.AccountsDir, a.info.ID)
	if err := stamp(g.p.Root, filepath.Join(dir, backuppath.AccountInfoFile), a.until); err != nil {
		return err
	}
	return stamp(g.p.Root, filepath.Join(dir, backuppath.AccountStatFile), a.until)
}

// genFolders writes the system and user folders and the tags, with the
// rename of Receipts and the move of Newsletters.
func (g *gen) genFolders(a *account) error {
	t := mailbox.MillisOf(a.created)
	for _, id := range systemFolders {
		s := mailbox.State{Start: t, Type: mailbox.TypeFolder, FolderID: mailbox.FolderRoot,
			ParentID: mailbox.FolderRoot, Name: mailbox.SystemFolderNames[id]}
		if id == mailbox.FolderRoot {
			s.ParentID = 0
		}
		if err := g.writeItem(a, id, []mailbox.State{s}); err != nil {
			return err
		}
	}
	// Rename and move happen in the middle of the account's life.
	mid0, mid1 := a.created.Add(30*24*time.Hour), a.until.Add(-30*24*time.Hour)
	for _, f := range userFolders {
		h := &hist{until: a.until}
		h.push(mailbox.State{Start: t, Type: mailbox.TypeFolder, FolderID: f.parent, ParentID: f.parent, Name: f.name})
		switch f.id {
		case fReceipts:
			s := h.last()
			s.Start, s.Name = mailbox.MillisOf(g.between(mid0, mid1)), "Invoices"
			h.push(s)
		case fNewsletters:
			s := h.last()
			s.Start, s.FolderID, s.ParentID = mailbox.MillisOf(g.between(mid0, mid1)), fArchive, fArchive
			h.push(s)
		}
		if err := g.writeItem(a, f.id, h.states); err != nil {
			return err
		}
	}
	if a == g.accts[0] && g.opt.FolderMessages > 0 {
		s := mailbox.State{Start: t, Type: mailbox.TypeFolder, FolderID: mailbox.FolderRoot,
			ParentID: mailbox.FolderRoot, Name: "Bulk"}
		if err := g.writeItem(a, fBulk, []mailbox.State{s}); err != nil {
			return err
		}
	}
	for i, name := range tagNames {
		s := mailbox.State{Start: t, Type: mailbox.TypeTag, FolderID: mailbox.FolderTags, Name: name}
		if err := g.writeItem(a, firstTagID+i, []mailbox.State{s}); err != nil {
			return err
		}
	}
	return nil
}

// events draws the account's history: what happens when, oldest first.
func (g *gen) events(a *account) []event {
	n := g.opt.Messages
	contacts := min(max(n/8, 3), 200)
	appts := min(max(n/10, 2), 150)
	evs := make([]event, 0, n+contacts+appts+len(a.damage)+1)
	lo, hi := a.created.Add(time.Hour), a.until.Add(-time.Hour)
	for i := 0; i < n; i++ {
		k := evReceived
		switch x := g.r.Float64(); {
		case x < 0.22:
			k = evSent
		case x < 0.30:
			k = evDraft
		case x < 0.36:
			k = evNewsletter
		}
		evs = append(evs, event{t: g.between(lo, hi), kind: k})
	}
	for i := 0; i < contacts; i++ {
		evs = append(evs, event{t: g.between(lo, hi), kind: evContact})
	}
	for i := 0; i < appts; i++ {
		evs = append(evs, event{t: g.between(lo, hi), kind: evAppointment})
	}
	for _, k := range a.damage {
		// Damaged blobs are old ones: first half of the history.
		evs = append(evs, event{t: g.between(lo, lo.Add(hi.Sub(lo)/2)), kind: evDamage, damage: k})
	}
	evs = append(evs, event{t: g.shared.at, kind: evShared})
	if g.opt.BigAttachments && a.info.Status == mailbox.StatusActive {
		var cand []int
		for i, e := range evs {
			if e.kind == evReceived || e.kind == evSent {
				cand = append(cand, i)
			}
		}
		k := 1
		if a == g.accts[0] {
			k = 2
		}
		for j := 0; j < k && len(cand) > 0; j++ {
			i := g.r.IntN(len(cand))
			evs[cand[i]].big = true
			cand = append(cand[:i], cand[i+1:]...)
		}
	}
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].t.Before(evs[j].t) })
	return evs
}

func (g *gen) otherAccount(a *account) *account {
	for {
		b := g.accts[g.r.IntN(len(g.accts))]
		if b != a {
			return b
		}
	}
}

func (g *gen) subject() string {
	s := subjects[g.r.IntN(len(subjects))]
	if strings.Contains(s, "%d") {
		n := 1000 + g.r.IntN(9000)
		if strings.Contains(s, "version") {
			n = 1 + g.r.IntN(9)
		}
		s = fmt.Sprintf(s, n)
	}
	return s
}

// shape fills layout, body size and attachments for a message of about
// the given total size.
func (g *gen) shape(s *mailSpec, total int, big bool) {
	const headers = 900
	s.bodySeed = g.r.Uint64()
	s.boundary = fmt.Sprintf("=_%016x", g.r.Uint64())
	x := g.r.Float64()
	switch {
	case big || x >= 0.75:
		s.layout = layoutMixed
	case x < 0.45:
		s.layout = layoutPlain
	default:
		s.layout = layoutAlt
	}
	switch s.layout {
	case layoutPlain:
		s.bodySize = max(total-headers, 400)
	case layoutAlt:
		s.bodySize = max((total-headers-300)/2, 300)
	default:
		s.altInside = g.chance(0.4)
		s.bodySize = 600 + g.r.IntN(2500)
		used := headers + 300 + s.bodySize
		if s.altInside {
			used += s.bodySize
		}
		natt := 1
		if g.chance(0.2) {
			natt = 2
		}
		raw := max((total-used)*3/4/natt, 300)
		for i := 0; i < natt; i++ {
			k := attachmentKinds[g.r.IntN(len(attachmentKinds))]
			size := raw
			if big && i == 0 {
				k = attachmentKinds[0] // a big PDF
				size = g.logUniform(1<<20, 5<<20)
			}
			s.atts = append(s.atts, attSpec{
				name:  attachmentNames[g.r.IntN(len(attachmentNames))] + "_" + fmt.Sprint(s.date.Year()) + "." + k.ext,
				ctype: k.ctype, magic: k.magic, size: size, seed: g.r.Uint64(),
				text: k.magic == "",
			})
		}
	}
}

// stateOf is the first state of a message item.
func stateOf(t time.Time, folder int, flags string, d blob.Digest, size int, s *mailSpec) mailbox.State {
	if s.layout == layoutMixed {
		flags = withFlag(flags, 'a')
	}
	return mailbox.State{
		Start: mailbox.MillisOf(t), Type: mailbox.TypeMessage, FolderID: folder, Flags: flags,
		Digest: d, Size: int64(size), Date: mailbox.MillisOf(s.date),
		Subject: s.subject, From: s.from.String(), To: addrList(s.to),
	}
}

// receivedSpec draws an incoming message.
func (g *gen) receivedSpec(a *account, t time.Time, newsletter, big bool, seq int) mailSpec {
	s := mailSpec{to: []addr{a.me}, delivered: true}
	var fromDomain string
	switch {
	case newsletter:
		d := externalDomains[len(externalDomains)-1]
		s.from = addr{companies[len(companies)-1], "news@" + d}
		s.subject = "Your weekly digest: " + g.subject()
		s.mailer = "Mailer 4.2"
		s.date = t.Add(-g.dur(time.Minute, 3*time.Hour)).In(externalZones[0])
		fromDomain = d
	case g.chance(0.35):
		b := g.otherAccount(a)
		s.from = b.me
		s.mailer = "Carbonio Webmail"
		s.date = t.Add(-g.dur(2*time.Second, time.Minute))
		s.date = s.date.In(internalZone(s.date))
		fromDomain = domains[b.domain]
	default:
		s.from = g.externals[g.r.IntN(len(g.externals))]
		s.mailer = [...]string{"Microsoft Outlook 16.0", "Mozilla Thunderbird", "Apple Mail (2.3731)", ""}[g.r.IntN(4)]
		s.date = t.Add(-g.dur(30*time.Second, 2*time.Hour)).In(externalZones[g.r.IntN(len(externalZones))])
		_, fromDomain, _ = strings.Cut(s.from.email, "@")
	}
	if s.subject == "" {
		s.subject = g.subject()
		if g.chance(0.25) {
			s.subject = "Re: " + s.subject
			s.inReplyTo = msgID(g.r.Uint64(), seq, domains[a.domain])
		}
	}
	if !newsletter && g.chance(0.2) {
		s.cc = []addr{g.otherAccount(a).me}
	}
	s.msgID = msgID(g.r.Uint64(), seq, fromDomain)
	g.shape(&s, g.logUniform(2<<10, 50<<10), big)
	if newsletter && s.layout == layoutPlain {
		s.layout = layoutAlt
	}
	return s
}

// evolveMessage appends the later life of a mail in a mailbox: read, flagged,
// replied, tagged, filed into a folder, moved to Trash, deleted.
func (g *gen) evolveMessage(h *hist, incoming bool) {
	step := func() (mailbox.State, bool) { return g.next(h, 10*time.Minute, 30*24*time.Hour) }
	if incoming && strings.IndexByte(h.last().Flags, 'u') >= 0 && g.chance(0.8) {
		s, ok := step()
		if !ok {
			return
		}
		s.Flags = withoutFlag(s.Flags, 'u')
		h.push(s)
		for _, f := range [...]struct {
			c byte
			p float64
		}{{'f', 0.12}, {'r', 0.15}, {'w', 0.04}} {
			if g.chance(f.p) {
				if s, ok = step(); !ok {
					return
				}
				s.Flags = withFlag(s.Flags, f.c)
				h.push(s)
			}
		}
	}
	if g.chance(0.12) {
		s, ok := step()
		if !ok {
			return
		}
		s.Tags = append(s.Tags, tagNames[g.r.IntN(len(tagNames))])
		h.push(s)
	}
	if g.chance(0.15) {
		s, ok := step()
		if !ok {
			return
		}
		to := [...]int{fClients, fReceipts, fTravel, fArchive}[g.r.IntN(4)]
		if g.chance(0.5) {
			to = f2023
			if s.Date.Time().Year() >= 2024 {
				to = f2024
			}
		}
		s.FolderID = to
		h.push(s)
	}
	switch x := g.r.Float64(); {
	case x < 0.07:
		s, ok := step()
		if !ok {
			return
		}
		s.FolderID = mailbox.FolderTrash
		h.push(s)
		if g.chance(0.6) {
			if s, ok = step(); ok {
				s.Deleted = true
				h.push(s)
			}
		}
	case x < 0.10:
		if s, ok := step(); ok {
			s.Deleted = true
			h.push(s)
		}
	}
}

func (g *gen) genReceived(a *account, id int, ev event) error {
	s := g.receivedSpec(a, ev.t, ev.kind == evNewsletter, ev.big, id)
	g.body = g.m.build(g.body[:0], &s)
	d, err := g.w.put(g.body, ev.t)
	if err != nil {
		return err
	}
	folder := mailbox.FolderInbox
	switch {
	case ev.kind == evNewsletter:
		folder = fNewsletters
	case g.chance(0.1):
		folder = fClients // a filter rule
	}
	h := &hist{until: a.until}
	h.push(stateOf(ev.t, folder, "u", d, len(g.body), &s))
	g.evolveMessage(h, true)
	return g.writeItem(a, id, h.states)
}

func (g *gen) sentSpec(a *account, t time.Time, big bool, seq int) mailSpec {
	s := mailSpec{from: a.me, subject: g.subject(), mailer: "Carbonio Webmail"}
	if g.chance(0.5) {
		s.to = []addr{g.otherAccount(a).me}
	} else {
		s.to = []addr{g.externals[g.r.IntN(len(g.externals))]}
	}
	if g.chance(0.2) {
		s.to = append(s.to, g.externals[g.r.IntN(len(g.externals))])
	}
	if g.chance(0.3) {
		s.cc = []addr{g.otherAccount(a).me}
	}
	if g.chance(0.3) {
		s.subject = "Re: " + s.subject
		s.inReplyTo = msgID(g.r.Uint64(), seq, "partner.test")
	}
	s.date = t.In(internalZone(t))
	s.msgID = msgID(g.r.Uint64(), seq, domains[a.domain])
	g.shape(&s, g.logUniform(2<<10, 50<<10), big)
	return s
}

func (g *gen) genSent(a *account, id int, ev event) error {
	s := g.sentSpec(a, ev.t, ev.big, id)
	g.body = g.m.build(g.body[:0], &s)
	d, err := g.w.put(g.body, ev.t)
	if err != nil {
		return err
	}
	h := &hist{until: a.until}
	h.push(stateOf(ev.t.Add(2*time.Second), mailbox.FolderSent, "s", d, len(g.body), &s))
	g.evolveMessage(h, false)
	return g.writeItem(a, id, h.states)
}

// genDraft writes a draft edited several times (a new blob per edit). With
// damage set, the last edit's blob is damaged that way and the draft stays
// live; the earlier edits are sound.
func (g *gen) genDraft(a *account, id int, ev event, damage string) error {
	s := g.sentSpec(a, ev.t, false, id)
	edits := 2 + g.r.IntN(3)
	if damage != "" {
		edits = 2 + g.r.IntN(2)
	}
	h := &hist{until: a.until}
	t := ev.t
	var last blob.Digest
	for e := 0; e < edits; e++ {
		if e > 0 {
			t = t.Add(g.dur(2*time.Minute, 3*24*time.Hour))
			if !t.Before(a.until) && damage == "" {
				break
			}
			s.bodySize += 300 + g.r.IntN(1200)
		}
		s.date = t.In(internalZone(t))
		g.body = g.m.build(g.body[:0], &s)
		var d blob.Digest
		var err error
		if damage != "" && e == edits-1 {
			d, err = g.w.putDamaged(damage, g.body, t)
		} else {
			d, err = g.w.put(g.body, t)
		}
		if err != nil {
			return err
		}
		h.push(stateOf(t, mailbox.FolderDrafts, "d", d, len(g.body), &s))
		last = d
	}
	if damage != "" {
		g.rep.Damaged = append(g.rep.Damaged, Damaged{Kind: damage, AccountID: a.info.ID, Account: a.info.Name, ItemID: id, Digest: string(last)})
	} else if g.chance(0.55) { // sent: the draft goes away
		if st, ok := g.next(h, time.Minute, 2*24*time.Hour); ok {
			st.Deleted = true
			h.push(st)
		}
	}
	return g.writeItem(a, id, h.states)
}

func (g *gen) genShared(a *account, id int) error {
	sh := &g.shared
	base := mailbox.State{
		Type: mailbox.TypeMessage, Date: mailbox.MillisOf(sh.spec.date),
		Subject: sh.subject, From: sh.fromValue, To: sh.toValue,
	}
	h := &hist{until: a.until}
	if !a.receiver {
		base.Start, base.FolderID, base.Flags = mailbox.MillisOf(sh.at.Add(2*time.Second)), mailbox.FolderSent, "as"
		base.Digest, base.Size = sh.sentCopy, sh.sentSize
		h.push(base)
	} else {
		base.Start, base.FolderID, base.Flags = mailbox.MillisOf(sh.at.Add(7*time.Second)), mailbox.FolderInbox, "au"
		base.Digest, base.Size = sh.digest, sh.size
		h.push(base)
		g.evolveMessage(h, true)
	}
	return g.writeItem(a, id, h.states)
}

// genDamage writes an item that carries a planted damage.
func (g *gen) genDamage(a *account, id int, ev event) error {
	switch ev.damage {
	case DamageTruncated, DamageMismatch, DamageUnreadable, DamageMissing:
		return g.genDraft(a, id, ev, ev.damage)
	}
	s := g.receivedSpec(a, ev.t, false, false, id)
	g.body = g.m.build(g.body[:0], &s)
	var d blob.Digest
	var err error
	if ev.damage == DamageDoubleGzip {
		d, err = g.w.putDamaged(DamageDoubleGzip, g.body, ev.t)
	} else {
		d, err = g.w.put(g.body, ev.t)
	}
	if err != nil {
		return err
	}
	h := &hist{until: a.until}
	h.push(stateOf(ev.t, mailbox.FolderInbox, "u", d, len(g.body), &s))
	// Read, then flagged: an item with several states.
	for _, f := range [...]func(*mailbox.State){
		func(s *mailbox.State) { s.Flags = withoutFlag(s.Flags, 'u') },
		func(s *mailbox.State) { s.Flags = withFlag(s.Flags, 'f') },
	} {
		st := h.last()
		st.Start = mailbox.MillisOf(st.Start.Time().Add(g.dur(time.Hour, 5*24*time.Hour)))
		f(&st)
		h.push(st)
	}
	dm := Damaged{Kind: ev.damage, AccountID: a.info.ID, Account: a.info.Name, ItemID: id}
	if ev.damage == DamageDoubleGzip {
		dm.Digest = string(d)
		g.rep.Damaged = append(g.rep.Damaged, dm)
		return g.writeItem(a, id, h.states)
	}
	// Malformed JSON: the item file was cut mid-write by some other tool.
	it := &mailbox.Item{ID: id, States: h.states}
	b, err := it.Encode()
	if err != nil {
		return err
	}
	b = b[:len(b)*2/3]
	if err := g.w.writeRaw(backuppath.ItemRelPath(a.info.ID, id), b, it.Latest().Start.Time()); err != nil {
		return err
	}
	g.countItem(a, it)
	g.rep.Damaged = append(g.rep.Damaged, dm)
	return nil
}

func (g *gen) genContact(a *account, id int, ev event) error {
	var first, last, email, org string
	if g.chance(0.4) {
		b := g.otherAccount(a)
		first, last, email, org = b.first, b.last, b.me.email, "Example Corp"
	} else {
		i := g.r.IntN(len(g.externals))
		e := g.externals[i]
		f, l, _ := strings.Cut(e.name, " ")
		first, last, email = strings.ToLower(f), strings.ToLower(l), e.email
		org = companies[i%(len(companies)-1)]
	}
	c := contactSpec{
		first: first, last: last, email: email, org: org,
		title: [...]string{"Sales Manager", "Engineer", "Accountant", "Director", "Consultant"}[g.r.IntN(5)],
		uid:   g.uuid(), phone: g.r.IntN(1 << 30), rev: ev.t,
		note: "Met at the " + [...]string{"trade fair", "kickoff", "conference", "customer visit"}[g.r.IntN(4)],
	}
	h := &hist{until: a.until}
	put := func(t time.Time) error {
		g.body = vcard(g.body[:0], &c)
		d, err := g.w.put(g.body, t)
		if err != nil {
			return err
		}
		h.push(mailbox.State{
			Start: mailbox.MillisOf(t), Type: mailbox.TypeContact, FolderID: mailbox.FolderContacts,
			Digest: d, Size: int64(len(g.body)), Date: mailbox.MillisOf(t),
			Name: title(first) + " " + title(last),
		})
		return nil
	}
	if err := put(ev.t); err != nil {
		return err
	}
	if g.chance(0.25) { // new phone number
		if s, ok := g.next(h, time.Hour, 90*24*time.Hour); ok {
			c.phone, c.rev = g.r.IntN(1<<30), s.Start.Time()
			if err := put(c.rev); err != nil {
				return err
			}
		}
	}
	if g.chance(0.08) {
		if s, ok := g.next(h, time.Hour, 90*24*time.Hour); ok {
			s.Deleted = true
			h.push(s)
		}
	}
	return g.writeItem(a, id, h.states)
}

func (g *gen) genAppointment(a *account, id int, ev event) error {
	e := eventSpec{
		uid:       g.uuid(),
		summary:   appointmentTitles[g.r.IntN(len(appointmentTitles))],
		location:  rooms[g.r.IntN(len(rooms))],
		organizer: a.me,
		start:     ev.t.Add(g.dur(24*time.Hour, 14*24*time.Hour)).Truncate(time.Hour),
		dur:       time.Duration(1+g.r.IntN(4)) * 30 * time.Minute,
		stamp:     ev.t,
	}
	if g.chance(0.5) {
		e.attendees = append(e.attendees, g.otherAccount(a).me)
	}
	if g.chance(0.3) {
		e.weekly = 4 + g.r.IntN(20)
	}
	e.description = string(appendText(nil, g.r.Uint64(), 120+g.r.IntN(400)))
	h := &hist{until: a.until}
	put := func(t time.Time) error {
		g.body = icalendar(g.body[:0], &e)
		d, err := g.w.put(g.body, t)
		if err != nil {
			return err
		}
		h.push(mailbox.State{
			Start: mailbox.MillisOf(t), Type: mailbox.TypeAppointment, FolderID: mailbox.FolderCalendar,
			Digest: d, Size: int64(len(g.body)), Date: mailbox.MillisOf(e.start), Subject: e.summary,
		})
		return nil
	}
	if err := put(ev.t); err != nil {
		return err
	}
	if g.chance(0.2) { // rescheduled
		if s, ok := g.next(h, time.Hour, 5*24*time.Hour); ok {
			e.sequence++
			e.stamp = s.Start.Time()
			e.start = e.start.Add(time.Duration(1+g.r.IntN(48)) * time.Hour)
			if err := put(e.stamp); err != nil {
				return err
			}
		}
	}
	if g.chance(0.06) { // cancelled
		if s, ok := g.next(h, time.Hour, 5*24*time.Hour); ok {
			s.Deleted = true
			h.push(s)
		}
	}
	return g.writeItem(a, id, h.states)
}

// genBulk fills the Bulk folder of the first account with FolderMessages
// small messages, one state each, spread over the whole history. It keeps
// per-message work low: plain text or alternative bodies from the cheap
// word generator, buffers reused.
func (g *gen) genBulk(a *account) error {
	n := g.opt.FolderMessages
	span := a.until.Sub(a.created.Add(time.Hour))
	step := span / time.Duration(n+1)
	states := make([]mailbox.State, 1)
	for i := 0; i < n; i++ {
		if i%256 == 0 {
			if err := g.ctx.Err(); err != nil {
				return err
			}
		}
		t := a.created.Add(time.Hour + step*time.Duration(i+1)).Truncate(time.Second)
		s := mailSpec{to: []addr{a.me}, delivered: true, subject: g.subject()}
		if g.chance(0.3) {
			b := g.otherAccount(a)
			s.from, s.mailer = b.me, "Carbonio Webmail"
		} else {
			s.from = g.externals[g.r.IntN(len(g.externals))]
		}
		s.date = t.Add(-time.Duration(1+g.r.IntN(600)) * time.Second)
		s.date = s.date.In(internalZone(s.date))
		id := a.nextID
		a.nextID++
		s.msgID = msgID(g.r.Uint64(), id, domains[a.domain])
		s.bodySeed = g.r.Uint64()
		s.bodySize = g.logUniform(1200, 12<<10)
		if g.chance(0.15) {
			s.layout = layoutAlt
			s.boundary = fmt.Sprintf("=_%016x", g.r.Uint64())
		}
		g.body = g.m.build(g.body[:0], &s)
		d, err := g.w.put(g.body, t)
		if err != nil {
			return err
		}
		flags := ""
		switch x := g.r.Float64(); {
		case x < 0.12:
			flags = "u"
		case x < 0.15:
			flags = "f"
		}
		states[0] = stateOf(t, fBulk, flags, d, len(g.body), &s)
		if err := g.writeItem(a, id, states); err != nil {
			return fmt.Errorf("item %d: %w", id, err)
		}
	}
	return nil
}
