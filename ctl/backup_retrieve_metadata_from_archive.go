package ctl

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/cbfs/cbfs/external"
	"github.com/cbfs/cbfs/internal/atomicfile"
	"github.com/cbfs/cbfs/internal/cli"
	"github.com/cbfs/cbfs/internal/grammar"
	"github.com/cbfs/cbfs/objstore"
	"github.com/cbfs/cbfs/objstore/s3"
	"github.com/cbfs/cbfs/operations"
)

// retrieveMetadataFromArchiveCmd is "backup retrieveMetadataFromArchive":
// Carbonio's verb that rebuilds a local metadata tree from the archives a
// Backup Path on external storage keeps (docs/FORMAT.md § 17).
type retrieveMetadataFromArchiveCmd struct {
	S3    RetrieveS3Cmd    `cmd:"" name:"S3" help:"Rebuild a local metadata tree from the archives in an S3-compatible bucket."`
	Local retrieveLocalCmd `cmd:"" name:"Local" help:"Rebuild a local metadata tree from the archives in a folder (a copy of the bucket)."`
}

// retrieveCommon are the parameters both sources take.
type retrieveCommon struct {
	Destination string `arg:"" name:"destination" help:"The folder to rebuild the metadata tree in (created if needed)."`
	Threads     int    `name:"threads" default:"10" help:"Archives fetched at a time; pair form: threads N (default: ${default})."`
	// MaxArchiveFiles lowers external.DefaultLimits.Files (tests; an
	// administrator who knows the largest account).
	MaxArchiveFiles int64 `name:"max-archive-files" hidden:"" help:"Refuse an archive of more entries than this (default: external.DefaultLimits)."`
}

// RetrieveS3Cmd takes Carbonio's parameters for the S3 source.
type RetrieveS3Cmd struct {
	retrieveCommon
	BucketName   string   `name:"bucket-name" placeholder:"BUCKET" help:"The bucket; pair form: bucket_name BUCKET. Or give --url s3://BUCKET/PREFIX."`
	URL          string   `name:"url" placeholder:"URL" help:"The S3 API endpoint (http://host:port, https://host) or a whole s3://bucket/prefix URL; pair form: url URL."`
	Prefix       string   `name:"prefix" placeholder:"PREFIX" help:"Prefix of the object names in the bucket; pair form: prefix PREFIX."`
	VolumePrefix string   `name:"volume-prefix" placeholder:"PREFIX" help:"Appended to --prefix (Carbonio's per-server volume prefix); pair form: volume_prefix PREFIX."`
	Region       string   `name:"region" placeholder:"REGION" help:"The region; pair form: region REGION."`
	AccessKey    string   `name:"access-key" hidden:"" help:"Refused: credentials never go on the command line."`
	Secret       string   `name:"secret" hidden:"" help:"Refused: credentials never go on the command line."`
	BucketConfig string   `name:"bucket-configuration-id" hidden:"" help:"Not supported: give the bucket and endpoint."`
	S3           s3.Flags `embed:""`
}

// Help is the long help of retrieveMetadataFromArchive S3.
func (c *RetrieveS3Cmd) Help() string {
	return `Fetches every metadata archive (accounts/<id>.tar.gz and server.tar.gz) of a Backup Path kept on S3 (cbfs serve --external), in parallel, and unpacks them into DESTINATION: the accounts, items' metadata and server files, without the blobs (they stay in the bucket: cbfs mount s3://... reads them on demand). Credentials come from the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY), ~/.aws/credentials or --s3-credentials FILE, never from the command line. Example: cbctl backup retrieveMetadataFromArchive S3 /srv/restore bucket_name backups url http://minio:9000 prefix mail01`
}

func (c *RetrieveS3Cmd) Run(ctx context.Context, g *Globals) error {
	if c.AccessKey != "" || c.Secret != "" {
		return cli.Usagef("access_key and secret are not taken on the command line (they would show in ps and shell history): set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, write ~/.aws/credentials, or pass --s3-credentials FILE")
	}
	if c.BucketConfig != "" {
		return cli.Usagef("bucket_configuration_id names a Carbonio server's stored configuration, which cbfs does not have: give bucket_name and url")
	}
	raw, err := c.location()
	if err != nil {
		return err
	}
	b, err := c.S3.Open(raw)
	if err != nil {
		return cli.Usagef("%v", err)
	}
	return retrieve(ctx, g, b, c.retrieveCommon)
}

// location builds the s3:// URL from Carbonio's parameters.
func (c *RetrieveS3Cmd) location() (string, error) {
	if s3.IsURL(c.URL) {
		return c.URL, nil
	}
	if c.BucketName == "" {
		return "", cli.Usagef("no bucket: give bucket_name BUCKET (and url http://HOST:PORT for a store other than AWS), or url s3://BUCKET/PREFIX")
	}
	q := url.Values{}
	if c.URL != "" {
		u, err := url.Parse(c.URL)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return "", cli.Usagef("url %q: want http://HOST:PORT or https://HOST", c.URL)
		}
		q.Set("endpoint", u.Host)
		q.Set("path-style", "1")
		if u.Scheme == "http" {
			q.Set("insecure", "1")
		}
	}
	if c.Region != "" {
		q.Set("region", c.Region)
	}
	prefix := strings.Trim(strings.Trim(c.Prefix, "/")+"/"+strings.Trim(c.VolumePrefix, "/"), "/")
	raw := "s3://" + c.BucketName + "/" + prefix
	if len(q) > 0 {
		raw += "?" + q.Encode()
	}
	return raw, nil
}

// retrieveLocalCmd is Carbonio's Local variant: the same layout in a folder.
type retrieveLocalCmd struct {
	Source string `arg:"" name:"source" help:"The folder holding accounts/<id>.tar.gz and server.tar.gz."`
	retrieveCommon
}

func (c *retrieveLocalCmd) Run(ctx context.Context, g *Globals) error {
	abs, err := filepath.Abs(c.Source)
	if err != nil {
		return err
	}
	return retrieve(ctx, g, &objstore.Dir{Root: abs}, c.retrieveCommon)
}

// storeChecker is a store that can check its credentials before the work.
type storeChecker interface{ Check(context.Context) error }

func retrieve(ctx context.Context, g *Globals, objs objstore.Store, c retrieveCommon) error {
	if ch, ok := objs.(storeChecker); ok {
		if err := ch.Check(ctx); err != nil {
			return err
		}
	}
	dest, err := filepath.Abs(c.Destination)
	if err != nil {
		return err
	}
	start := time.Now()
	rep, err := external.Retrieve(ctx, objs, dest, max(c.Threads, 1), atomicfile.Options{}, external.Limits{Files: c.MaxArchiveFiles})
	var partial *external.PartialError
	if err != nil && !errors.As(err, &partial) {
		return err
	}
	if partial != nil {
		// One line per archive that failed; the others were retrieved.
		for _, f := range partial.Failed {
			g.warnf("%s", grammar.OneLine(f.Error()))
		}
		err = fmt.Errorf("%d archives not retrieved (see above), %d retrieved: %w", rep.Failed, rep.Archives+rep.Unchanged, operations.ErrPartial)
		if rep.Archives+rep.Unchanged == 0 {
			err = fmt.Errorf("no archive retrieved: %s", grammar.OneLine(partial.Failed[0].Error()))
		}
	}
	if g.JSON {
		if perr := printJSON(g.Stdout, map[string]any{"source": objs.String(), "destination": dest,
			"archives": rep.Archives, "unchanged": rep.Unchanged, "failed": rep.Failed, "files": rep.Files, "bytes": rep.Bytes}); perr != nil {
			return perr
		}
		return err
	}
	fmt.Fprintf(g.Stdout, "retrieved %d archives (%d files, %d bytes; %d unchanged since the last retrieval) from %s into %s in %s\n",
		rep.Archives, rep.Files, rep.Bytes, rep.Unchanged, objs, dest, time.Since(start).Round(time.Millisecond))
	return err
}
