package operations

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/cbfs/cbfs/internal/pathlock"
	"github.com/cbfs/cbfs/msgexport"
	"github.com/cbfs/cbfs/opqueue"
	"github.com/cbfs/cbfs/search"
)

// KindExportMessages is doExportMessages, cbfs's own operation (issue
// #23): messages handed over as mbox or .eml files (msgexport). It is an
// operation like doExport, not a direct command like doItemSearch: it
// writes a whole folder tree that can take long, so it is queued (one
// writer at a time), shows progress, can be stopped with doStopOperation,
// is recorded with its report, and holds its destination's writer lock.
const KindExportMessages = "doExportMessages"

// ExportMessagesParams: doExportMessages DEST_PATH [account A [folder F]] |
// [account A] query Q; [date D] [deleted true] [format mbox|eml], msgexport.Run.
type ExportMessagesParams struct {
	DestPath    string     `pair:"destPath" required:"" what:"destination path" arg:"" name:"DEST_PATH" help:"Folder to write the export into: missing or empty (a stopped export is removed and run again), outside the Backup Path; the files belong to its owner."`
	Account     string     `pair:"account" name:"account" placeholder:"ACCOUNT" help:"Export this account (name or id) only; with query, only its matches. Default: every account."`
	Folder      string     `pair:"folder" name:"folder" placeholder:"FOLDER" help:"With account: export this folder (its path as the mount shows it, e.g. Inbox/Projects; case ignored) and, unless subfolders false, its subfolders."`
	Subfolders  bool       `pair:"subfolders" name:"subfolders" default:"true" negatable:"" help:"With folder: its subfolders too (default true)."`
	Query       string     `pair:"query" name:"query" placeholder:"QUERY" help:"Export exactly the messages this full-text query finds (doItemSearch query's language and index, which doIndexMessages builds), each in the state it found (a deleted one in its last state before the deletion). Not with folder, date or deleted: say them in the query."`
	Date        DateOrLast `pair:"date" name:"date" placeholder:"DATE" help:"Export each message as it was at DATE (default: its latest state). ${date_help}; ${moment_help}."`
	Deleted     bool       `pair:"deleted" name:"deleted" help:"Also export the messages deleted at DATE, in their last state before the deletion (default: left out)."`
	Format      string     `pair:"format" name:"format" enum:"mbox,eml" default:"mbox" placeholder:"mbox|eml" help:"mbox: one mboxrd file per folder, <account>/<folder path>.mbox (Thunderbird, doveadm import); eml: <account>/<folder path>/<id>.eml, each message's bytes as backed up."`
	MaxFileSize Size       `pair:"max_file_size" name:"max-file-size" placeholder:"SIZE" help:"Leave out (and report) messages larger than SIZE (bytes, or with K, M, G; default and 0: no limit)."`
	Notify
}

func (*ExportMessagesParams) Kind() string { return KindExportMessages }
func (p *ExportMessagesParams) Check() error {
	switch {
	case p.Query != "" && (p.Folder != "" || !p.Date.Time().IsZero() || p.Deleted):
		return errors.New("query selects on its own: say the folder, dates and deletion in it (folder:, before:, after:, is:deleted), not as folder, date or deleted")
	case p.Folder != "" && p.Account == "":
		return errors.New("folder needs an account")
	case !p.Subfolders && p.Folder == "":
		return errors.New("subfolders false needs a folder")
	}
	if p.Query != "" {
		if _, err := search.Parse(p.Query); err != nil {
			return fmt.Errorf("query: %w", err)
		}
	}
	return nil
}

// checks what Run would refuse before its destination is made: an
// account that is not there, a folder it does not have at DATE, a query
// without a search index.
func (p *ExportMessagesParams) checks(r *Runner) error {
	if p.Account == "" && p.Query == "" {
		return nil
	}
	bp, err := r.openPath()
	if err != nil {
		return err
	}
	if p.Query != "" {
		file, err := search.DefaultFile(bp.Root)
		if err != nil {
			return err
		}
		if _, err := os.Stat(file); err != nil {
			return fmt.Errorf("no search index of %s (%s): build it with doIndexMessages", bp.Root, file)
		}
	}
	if p.Account == "" {
		return nil
	}
	a, err := bp.FindAccount(p.Account)
	if err != nil {
		return err
	}
	if p.Folder != "" {
		return msgexport.CheckFolder(bp, a.ID, p.Folder, p.Date.Time())
	}
	return nil
}

// Localize makes DEST_PATH absolute.
func (p *ExportMessagesParams) Localize() { p.DestPath = absPath(p.DestPath) }

// lock locks the destination as doExport's.
func (p *ExportMessagesParams) lock(r *Runner) (*pathlock.Lock, error) {
	return msgexport.LockDest(r.s.BackupPath, p.DestPath, p.Kind())
}

// writesBackupPath: the export writes its destination only.
func (*ExportMessagesParams) writesBackupPath() bool { return false }

func (p *ExportMessagesParams) run(ctx context.Context, r *Runner, progress opqueue.ProgressFunc) (string, error) {
	bp, err := r.openPath()
	if err != nil {
		return "", err
	}
	opt := msgexport.Options{Format: strings.ToLower(p.Format), At: p.Date.Time(), Deleted: p.Deleted,
		NoSubfolders: !p.Subfolders, Folder: p.Folder}
	if p.MaxFileSize != "" {
		opt.MaxFileSize = p.MaxFileSize.Bytes()
	}
	if p.Query != "" {
		hits, err := searchHits(bp, p.Account, p.Query)
		if err != nil {
			return "", err
		}
		opt.Search = true
		for _, h := range hits {
			opt.Selected = append(opt.Selected, msgexport.Selected{AccountID: h.AccountID, ItemID: h.ItemID, At: h.StateDate})
		}
	} else if p.Account != "" {
		a, err := bp.FindAccount(p.Account)
		if err != nil {
			return "", err
		}
		opt.Accounts = []string{a.ID}
	}
	opt.Progress = func(done, total int) {
		progress(opqueue.Progress{Done: int64(done), Total: int64(total), Unit: "messages", Phase: "messages"})
	}
	res, err := msgexport.Run(ctx, bp, p.DestPath, opt)
	text := ""
	if res != nil {
		res.Query = p.Query
		text = res.Report()
	}
	if err != nil {
		return text, err
	}
	if n := len(res.LeftOut); n > 0 {
		l := res.LeftOut[0]
		return text, fmt.Errorf("%w: %d messages exported, %d left out (see %s); first: %s item %d: %s %s: %s",
			ErrPartial, res.Messages, n, msgexport.ReportFile, l.Account, l.ItemID, l.Class, l.What, l.Reason)
	}
	return text, nil
}
