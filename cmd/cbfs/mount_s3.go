package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/blob"
	"github.com/cbfs/cbfs/external"
	"github.com/cbfs/cbfs/internal/cli"
	"github.com/cbfs/cbfs/internal/grammar"
	"github.com/cbfs/cbfs/objstore/s3"
)

// archiveThreads is how many metadata archives are fetched at a time.
const archiveThreads = 16

// openS3Path makes the Backup Path kept at an s3:// URL mountable, lazily:
// the accounts are named from one listing and their summaries
// (external.OpenLazy), an account's metadata archive is fetched when the
// account is first used (the returned Lazy's Account, the index's
// Prepare hook), and the blob store of the local tree gets the bucket as
// its remote tier, with the same folder as its bounded cache. Wrong
// credentials or an unreachable store fail here, in one line. ctx bounds
// the Lazy's fetches: the mount's life.
func openS3Path(ctx context.Context, rawURL string, f s3.Flags, cacheDir, cacheSize, keyMap string, lim external.Limits) (*backuppath.Path, *blob.Remote, *external.Lazy, error) {
	size, err := grammar.ParseSize(cacheSize)
	if err != nil || size <= 0 {
		return nil, nil, nil, cli.Usagef("--cache-size %q: want a positive size such as 512M or 2G", cacheSize)
	}
	bucket, err := f.Open(rawURL)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := bucket.Check(ctx); err != nil {
		return nil, nil, nil, err
	}
	if cacheDir == "" {
		idx, err := defaultIndexPath(bucket.String())
		if err != nil {
			return nil, nil, nil, fmt.Errorf("no cache folder (%w): use --cache-dir DIR", err)
		}
		cacheDir = strings.TrimSuffix(idx, ".db") + ".s3"
	}
	bp, remote, lazy, err := external.OpenLazy(ctx, bucket, external.CacheRoot(cacheDir, bucket), size, keyMap, archiveThreads, lim)
	var partial *external.PartialError
	if errors.As(err, &partial) && bp != nil {
		// The mount shows what was retrieved and says what it lacks,
		// one line per archive.
		for _, f := range partial.Failed {
			fmt.Fprintf(os.Stderr, "cbfs: warning: %s: not shown: %s\n", bucket, grammar.OneLine(f.Error()))
		}
		return bp, remote, lazy, nil
	}
	if err != nil {
		return nil, nil, nil, err
	}
	return bp, remote, lazy, nil
}
