package ctl

import (
	"context"

	"github.com/cbfs/cbfs/operations"
)

// doExportMessagesCmd is "backup doExportMessages DEST_PATH [account A
// [folder F]] [query Q] [date D] [deleted true] [format mbox|eml]".
type doExportMessagesCmd struct {
	OpFlags
	operations.ExportMessagesParams
	WaitFlag
}

// Help is the long help of doExportMessages.
func (c *doExportMessagesCmd) Help() string {
	return `Hands messages over as files any mail program reads: every account, one account, one folder of an account (with its subfolders), or exactly what a full-text query finds, each message as it was at DATE (default: its latest state; deleted messages left out unless deleted true). format mbox writes one mboxrd file per folder (<account>/<folder path>.mbox: Thunderbird's ImportExportTools, doveadm import mbox:...); format eml one file per message (<account>/<folder path>/<id>.eml, the bytes as backed up). At the top of DEST: MANIFEST.sha256 (check it with sha256sum -c MANIFEST.sha256 in DEST), and REPORT.txt and report.json, which list every message left out and why (blob missing, broken or a bomb, unreadable, too large, unreadable item file); the exit status is then 3. cbfs's own operation (Carbonio has none).

Example: cbctl backup doExportMessages /srv/ediscovery/case-42 query 'from:john invoice after:2024-03-01'`
}

func (c *doExportMessagesCmd) Run(ctx context.Context, g *Globals) error {
	return runOp(ctx, g, &c.OpFlags, c.Wait, &c.ExportMessagesParams)
}
