package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/external"
	"github.com/cbfs/cbfs/objstore"
	"github.com/cbfs/cbfs/objstore/s3"
	"github.com/cbfs/cbfs/operations"
)

// ExternalFlags are cbfs serve's settings for keeping the Backup Path on
// S3-compatible storage too (Carbonio's "Backup on External Storage").
type ExternalFlags struct {
	External        string        `name:"external" placeholder:"s3://BUCKET/PREFIX" help:"Also keep the Backup Path on S3-compatible storage: new blobs are uploaded after each scan, the metadata archives (one per account, and the server's) at start, after each purge and every --external-archive-every (see docs/FORMAT.md § 17). Credentials as --s3-credentials says."`
	ArchiveEvery    time.Duration `name:"external-archive-every" default:"24h" placeholder:"DURATION" help:"With --external: how often the metadata archives are written (default: ${default})."`
	ExternalThreads int           `name:"external-threads" default:"8" placeholder:"N" help:"With --external: uploads at a time (default: ${default})."`
	S3              s3.Flags      `embed:""`
}

// externalSync uploads to the external store; one upload at a time.
type externalSync struct {
	mu      sync.Mutex
	root    string
	objs    objstore.Store
	threads int
	log     *slog.Logger
}

// startExternal checks the store (wrong credentials: one line, the
// service does not start) and starts the periodic archive (first at
// start).
func startExternal(ctx context.Context, f ExternalFlags, root string, log *slog.Logger) (*externalSync, error) {
	b, err := f.S3.Open(f.External)
	if err != nil {
		return nil, err
	}
	if err := b.Check(ctx); err != nil {
		return nil, err
	}
	x := &externalSync{root: root, objs: b, threads: max(f.ExternalThreads, 1), log: log}
	if f.ArchiveEvery > 0 {
		go func() {
			// Once at start too: a service restarted more often than
			// --external-archive-every would otherwise never archive.
			x.metadata(ctx)
			t := time.NewTicker(f.ArchiveEvery)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					x.metadata(ctx)
				}
			}
		}()
	}
	return x, nil
}

// afterWrite is the hook run when an operation that wrote the Backup Path
// ends: blobs after a scan, blobs and archives after a purge.
func (x *externalSync) afterWrite(ctx context.Context, kind string) {
	switch kind {
	case operations.KindSmartScan, operations.KindAccountScan:
		x.blobs(ctx)
	case operations.KindPurge:
		x.metadata(ctx)
	}
}

func (x *externalSync) blobs(ctx context.Context) {
	x.mu.Lock()
	defer x.mu.Unlock()
	start := time.Now()
	rep, err := external.UploadBlobs(ctx, x.root, x.objs, x.threads)
	if err != nil {
		x.log.Error("external: upload blobs", "store", x.objs.String(), "err", err)
		return
	}
	x.log.Info("external: blobs uploaded", "store", x.objs.String(), "new", rep.Blobs, "present", rep.BlobsSkipped,
		"bytes", rep.Bytes, "took", time.Since(start).Round(time.Millisecond))
}

// metadata uploads the blobs the bucket lacks, then the archives: an
// archive never names a blob the bucket does not hold (a scan running
// while the timer fires may have written states since its last upload).
func (x *externalSync) metadata(ctx context.Context) {
	if _, err := os.Stat(filepath.Join(x.root, backuppath.BackupStatFile)); err != nil {
		return // no Backup Path yet (before the first scan): nothing to archive
	}
	x.blobs(ctx)
	x.mu.Lock()
	defer x.mu.Unlock()
	start := time.Now()
	rep, err := external.UploadMetadata(ctx, x.root, x.objs, x.threads)
	if err != nil {
		x.log.Error("external: metadata archives", "store", x.objs.String(), "err", err)
		return
	}
	x.log.Info("external: metadata archived", "store", x.objs.String(), "archives", rep.Archives, "files", rep.Files,
		"bytes", rep.Bytes, "took", time.Since(start).Round(time.Millisecond))
}
