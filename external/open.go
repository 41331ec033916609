package external

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/cbfs/cbfs/backuppath"
	"github.com/cbfs/cbfs/blob"
	"github.com/cbfs/cbfs/internal/atomicfile"
	"github.com/cbfs/cbfs/objstore"
)

// CacheRoot is the folder under dir that holds the local tree of the
// Backup Path kept in objs (named from a hash of its location, so one
// cache folder serves several stores).
func CacheRoot(dir string, objs objstore.Store) string {
	sum := sha256.Sum256([]byte(objs.String()))
	return filepath.Join(dir, hex.EncodeToString(sum[:8]))
}

// Open makes the Backup Path kept in objs readable here: its metadata
// archives are fetched (threads at a time) and unpacked into root, and the
// blob store of that tree gets objs as its remote tier, with root as its
// cache (at most cacheBytes; 0: blob.DefaultCacheBytes). keyMap is as
// backuppath.OpenWithKeyMap's; lim bounds each archive (see Retrieve).
//
// When some archives could not be retrieved (refused past lim, or their
// fetch failed) and the others were, it returns the Path of what was
// retrieved with a *PartialError naming each archive that failed: the
// caller decides whether to go on (a mount does, and says which accounts
// it lacks).
func Open(ctx context.Context, objs objstore.Store, root string, cacheBytes int64, keyMap string, threads int, lim Limits) (*backuppath.Path, *blob.Remote, error) {
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, nil, fmt.Errorf("cache folder: %w", err)
	}
	_, rerr := Retrieve(ctx, objs, root, threads, atomicfile.Options{NoSync: true}, lim)
	var partial *PartialError
	if rerr != nil && !errors.As(rerr, &partial) {
		return nil, nil, fmt.Errorf("metadata archives of %s: %w", objs, rerr)
	}
	remote, err := blob.NewRemote(objs, root, cacheBytes)
	if err != nil {
		return nil, nil, err
	}
	bp, err := backuppath.OpenWithKeyMap(root, keyMap)
	if err != nil {
		return nil, nil, err
	}
	bp.Blobs.SetRemote(remote)
	if partial != nil {
		return bp, remote, partial
	}
	return bp, remote, nil
}
