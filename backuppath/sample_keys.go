package backuppath

import (
	"context"

	"github.com/cbfs/cbfs/mailbox"
)

// SampleKeys reads a sample of the path's item files with a census: at
// most accounts accounts, spread over the sorted account ids, and at most
// perAccount item files of each, spread over its item ids. It returns the
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
		files, _, err := p.ItemFiles(id)
		if err != nil {
			continue
		}
		for _, f := range spread(files, perAccount) {
			if err := ctx.Err(); err != nil {
				return nil, read, err
			}
			b, err := p.readFile(f.RelPath)
			if err != nil {
				continue
			}
			if _, err := dec.ParseItem(f.ItemID, b); err == nil {
				read++
			}
		}
	}
	return census, read, nil
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
