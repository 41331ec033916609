package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cbfs/cbfs/internal/pathlock"
	"github.com/cbfs/cbfs/objstore/s3"
	"github.com/cbfs/cbfs/search"
)

// cacheCmd is `cbfs cache`: the index cache folder.
type cacheCmd struct {
	Prune cachePruneCmd `cmd:"" help:"Remove the index files whose Backup Path is gone or unreachable."`
}

// cachePruneCmd is `cbfs cache prune`.
type cachePruneCmd struct {
	Dir    string `name:"dir" placeholder:"DIR" help:"The cache folder (default: where cbfs mount keeps its indexes: $XDG_CACHE_HOME/cbfs, else /var/cache/cbfs for root, ~/.cache/cbfs for others)."`
	DryRun bool   `name:"dry-run" help:"Say what would be removed; remove nothing."`
}

// Help is the long help of cache prune.
func (cachePruneCmd) Help() string {
	return `Each index file of the cache folder (a mount's *.db, a search index's *.search) records the Backup Path it describes. An index whose Backup Path no longer exists, or does not answer within 10 seconds, is removed with what belongs to it: FILE, FILE.lock and the folder FILE.d/. An index in use (its lock held by a running mount, service or search index build) is never removed, nor one of an s3:// Backup Path (whose reachability this does not judge), nor a file whose Backup Path cannot be read from it.`
}

// pruneStatTimeout bounds the look at one Backup Path (a dead NFS server
// would block stat for minutes).
const pruneStatTimeout = 10 * time.Second

// Run prunes.
func (c *cachePruneCmd) Run(ctx context.Context) error {
	dir := c.Dir
	if dir == "" {
		p, err := defaultIndexPath("/x")
		if err != nil {
			return err
		}
		dir = filepath.Dir(p)
	}
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		fmt.Printf("%s: no cache folder: nothing to prune\n", dir)
		return nil
	}
	if err != nil {
		return fmt.Errorf("cache folder: %w", err)
	}
	var names []string
	for _, e := range ents {
		if e.Type().IsRegular() && (strings.HasSuffix(e.Name(), ".db") || strings.HasSuffix(e.Name(), ".search")) {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	removed, kept := 0, 0
	for _, n := range names {
		file := filepath.Join(dir, n)
		why, prune := pruneVerdict(ctx, file)
		if !prune {
			kept++
			fmt.Printf("kept %s: %s\n", file, why)
			continue
		}
		if c.DryRun {
			removed++
			fmt.Printf("would remove %s: %s\n", file, why)
			continue
		}
		if err := removeIndex(file); err != nil {
			kept++
			fmt.Printf("kept %s: %v\n", file, err)
			continue
		}
		removed++
		fmt.Printf("removed %s: %s\n", file, why)
	}
	verb := "removed"
	if c.DryRun {
		verb = "would remove"
	}
	fmt.Printf("%s: %s %d index(es), kept %d\n", dir, verb, removed, kept)
	return nil
}

// pruneVerdict says whether the index file should go, and why.
func pruneVerdict(ctx context.Context, file string) (string, bool) {
	rootOf := indexRoot
	if strings.HasSuffix(file, ".search") {
		rootOf = search.FileRoot
	}
	root, err := rootOf(file)
	if err != nil {
		return fmt.Sprintf("cannot tell its Backup Path (%v)", err), false
	}
	if s3.IsURL(root) || !filepath.IsAbs(root) {
		return "Backup Path " + root + " not judged (not a local folder)", false
	}
	type answer struct{ err error }
	done := make(chan answer, 1)
	go func() {
		fi, err := os.Stat(root)
		if err == nil && !fi.IsDir() {
			err = errors.New("not a folder")
		}
		done <- answer{err}
	}()
	select {
	case a := <-done:
		switch {
		case a.err == nil:
			return "Backup Path " + root + " exists", false
		case errors.Is(a.err, os.ErrNotExist):
			return "Backup Path " + root + " no longer exists", true
		case errors.Is(a.err, os.ErrPermission):
			return fmt.Sprintf("Backup Path %s: %v", root, a.err), false
		default:
			return fmt.Sprintf("Backup Path %s unreachable: %v", root, a.err), true
		}
	case <-time.After(pruneStatTimeout):
		return fmt.Sprintf("Backup Path %s unreachable: no answer in %s", root, pruneStatTimeout), true
	case <-ctx.Done():
		return "stopped", false
	}
}

// removeIndex removes file, file.lock and file.d/ (a mount's index has
// one, a search index not), holding the index's lock meanwhile: an index
// in use (a mount, a service, a search index build) is refused.
func removeIndex(file string) error {
	lock, err := pathlock.Take(file+".lock", "cache prune")
	var held *pathlock.HeldError
	if errors.As(err, &held) {
		return fmt.Errorf("in use (%v)", held)
	}
	if err != nil {
		return err
	}
	defer lock.Release()
	if err := os.RemoveAll(file + ".d"); err != nil {
		return err
	}
	if err := os.Remove(file); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return os.Remove(file + ".lock")
}

// indexRoot reads the Backup Path an index file records (index key
// meta:root). The file is buntdb's append-only log of Redis-protocol
// commands; the last "set meta:root VALUE" wins. It is read as a stream,
// with bounded lines, never loaded whole.
func indexRoot(file string) (string, error) {
	f, err := os.Open(file)
	if err != nil {
		return "", err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 64<<10)
	const key = "meta:root"
	var root string
	// A record: *N, then N times ($len, bytes).
	for {
		line, err := readLine(r)
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", err
		}
		if !strings.HasPrefix(line, "*") {
			continue // resync on the next record
		}
		n, err := strconv.Atoi(line[1:])
		if err != nil || n <= 0 || n > 16 {
			continue
		}
		args := make([]string, 0, n)
		for i := 0; i < n; i++ {
			h, err := readLine(r)
			if err != nil || !strings.HasPrefix(h, "$") {
				break
			}
			l, err := strconv.Atoi(h[1:])
			if err != nil || l < 0 {
				break
			}
			if i < 2 || len(args) == 2 && strings.EqualFold(args[0], "set") && args[1] == key {
				if l > 4096 {
					break
				}
				b := make([]byte, l+2)
				if _, err := io.ReadFull(r, b); err != nil {
					break
				}
				args = append(args, string(b[:l]))
			} else {
				if _, err := r.Discard(l + 2); err != nil {
					break
				}
				args = append(args, "")
			}
		}
		if len(args) >= 3 && strings.EqualFold(args[0], "set") && args[1] == key {
			root = args[2]
		}
	}
	if root == "" {
		return "", errors.New("no meta:root: not a cbfs index")
	}
	return root, nil
}

// readLine reads one \r\n-terminated line of at most 64 bytes.
func readLine(r *bufio.Reader) (string, error) {
	b, err := r.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		// Not a header line: skip the rest of it.
		for err == bufio.ErrBufferFull {
			_, err = r.ReadSlice('\n')
		}
		return "", err
	}
	if err != nil {
		return "", err
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}
