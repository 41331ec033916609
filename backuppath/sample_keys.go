package backuppath

import (
	"context"
	"path/filepath"

	"github.com/cbfs/cbfs/mailbox"
)

// SampleKeys reads a sample of the path's item files with a census: at
// most accounts accounts, spread over the sorted account ids, and at most
// perAccount item files of each, spread over its buckets and their names
// (sampleItemFiles: listings only, no stat). It returns the
// census and how many item files it read. The mount prints its Summary
// first ("read 98 % of state keys in 256 sampled item files; ..."), so an
// administrator knows at once whether cbfs understands the path; cbctl
// backup getFormatInfo reads them all. An unreadable account or item file
// is left out of the sample (getFormatInfo reports it).
func (p *Path) SampleKeys(ctx context.Context, accounts, perAccount int) (*mailbox.Census, int, error) {
	census := mailbox.NewCensus()
	dec := *p.decoder()
	dec.Census = census
	ids, err := p.AccountIDs()
	if err != nil {
		return nil, 0, err
	}
	read := 0
	for _, id := range spread(ids, accounts) {
		if checkName("account id", id) != nil {
			continue
		}
		for _, rel := range p.sampleItemFiles(id, perAccount) {
			if err := ctx.Err(); err != nil {
				return nil, read, err
			}
			b, err := p.readFile(rel.path)
			if err != nil {
				continue
			}
			if _, err := dec.ParseItem(rel.id, b); err == nil {
				read++
			}
		}
	}
	return census, read, nil
}

type sampledFile struct {
	path string
	id   int
}

// sampleItemFiles picks at most n item files of an account from its
// listings alone (no file is stat'ed: the mount calls this at start, and a
// 100,000-item account's ItemFiles stats every file): the buckets spread
// over, then the files of each picked bucket spread over, by name.
func (p *Path) sampleItemFiles(accountID string, n int) []sampledFile {
	base := filepath.Join(AccountsDir, accountID, ItemsDir)
	buckets, err := p.listDir(base)
	if err != nil {
		return nil
	}
	var dirs []string
	for _, b := range buckets {
		if b.IsDir() {
			dirs = append(dirs, b.Name())
		}
	}
	dirs = spread(dirs, n)
	var out []sampledFile
	for i, d := range dirs {
		ents, err := p.listDir(filepath.Join(base, d))
		if err != nil {
			continue
		}
		var files []sampledFile
		for _, e := range ents {
			if id, ok := mailbox.ParseItemID(e.Name()); ok {
				files = append(files, sampledFile{filepath.Join(base, d, e.Name()), id})
			}
		}
		// This bucket's share of n (the first ones take the remainder).
		share := n / len(dirs)
		if i < n%len(dirs) {
			share++
		}
		out = append(out, spread(files, share)...)
	}
	return out
}

// spread picks at most n elements of s, evenly spaced, first included.
func spread[T any](s []T, n int) []T {
	if n <= 0 || len(s) <= n {
		return s
	}
	out := make([]T, 0, n)
	for i := range n {
		out = append(out, s[i*len(s)/n])
	}
	return out
}
