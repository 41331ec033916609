package ctl

import (
	"github.com/alecthomas/kong"

	"github.com/cbfs/cbfs/internal/cli"
)

// notApplicable says why each of Carbonio's backup verbs that cbfs has no
// use for does not apply, so that a line copied from Carbonio's
// documentation gets a reason instead of "unexpected argument". The keys
// are the verbs as Carbonio spells them.
var notApplicable = map[string]string{
	"check-ldap-dump":     "cbfs backs up mailboxes, not Carbonio's LDAP: check an LDAP dump with slapcat/slapadd -u",
	"doBackupLDAP":        "cbfs backs up mailboxes, not Carbonio's LDAP (slapcat makes an LDAP dump)",
	"doBackupCluster":     "cbfs backs up one mail source into one Backup Path; there is no cluster to back up",
	"doRestoreBlobs":      "cbfs has no Carbonio mailstore volumes to restore blobs into: doExternalRestore, doRestoreOnNewAccount and doItemRestore restore messages into a Maildir or IMAP target",
	"doStartService":      "cbfs serve is started by systemd: systemctl start cbfs-serve (getServices shows whether it runs)",
	"doStopService":       "cbfs serve is stopped by systemd: systemctl stop cbfs-serve (doStopAllOperations stops what it runs)",
	"doRestartService":    "cbfs serve is restarted by systemd: systemctl restart cbfs-serve",
	"migrateBackupVolume": "the Backup Path is a folder given as --backup-path (cbfs serve --external s3://... for object storage); move it with cp -a or rsync and point --backup-path at it",
	"setBackupVolume":     "the Backup Path is a folder given as --backup-path (cbfs serve --external s3://... for object storage)",
	"updateBackupVolume":  "cbfs sets no storage-class options on a bucket; set lifecycle rules on the bucket itself",
}

// notApplicableCmd is one of Carbonio's verbs that does not apply to cbfs:
// it accepts any arguments and fails with the reason (exit status 2).
type notApplicableCmd struct {
	Args []string `arg:"" optional:"" passthrough:"" help:"Ignored."`
}

func (c *notApplicableCmd) Run(kctx *kong.Context) error {
	verb := kctx.Selected().Name
	why, ok := notApplicable[verb]
	if !ok {
		why = "it does not apply to cbfs"
	}
	return cli.Usagef("backup %s does not apply to cbfs: %s", verb, why)
}
