package ctl

import (
	"context"
	"errors"
	"fmt"
	"text/tabwriter"

	"github.com/alecthomas/kong"

	"github.com/cbfs/cbfs/internal/cli"
	"github.com/cbfs/cbfs/service"
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

// NotApplicableCmd is one of Carbonio's verbs that does not apply to cbfs:
// it accepts any arguments and fails with the reason (exit status 2).
type NotApplicableCmd struct {
	Args []string `arg:"" optional:"" passthrough:"" help:"Ignored."`
}

func (c *NotApplicableCmd) Run(kctx *kong.Context) error {
	verb := kctx.Selected().Name
	why, ok := notApplicable[verb]
	if !ok {
		why = "it does not apply to cbfs"
	}
	return cli.Usagef("backup %s does not apply to cbfs: %s", verb, why)
}

// GetServicesCmd is Carbonio's "backup getServices": whether the backup
// service (cbfs serve) runs.
type GetServicesCmd struct {
	OpFlags
}

// Help is the long help of getServices.
func (c *GetServicesCmd) Help() string {
	return "cbfs has one service, cbfs serve (the backup service: the operation queue and the schedules). It runs when it answers on the state directory's socket. Exit status 0 whether it runs or not."
}

// serviceStatus is one line of getServices.
type serviceStatus struct {
	Name    string `json:"name"`
	Running bool   `json:"running"`
	Version string `json:"version,omitempty"`
	Socket  string `json:"socket"`
	Detail  string `json:"detail,omitempty"`
}

func (c *GetServicesCmd) Run(ctx context.Context, g *Globals) error {
	s, err := c.settings(g)
	if err != nil {
		return err
	}
	st := serviceStatus{Name: "backup", Socket: s.Socket}
	cl, err := service.Dial(s.Socket)
	switch {
	case err == nil:
		v, verr := cl.Version(ctx)
		if verr != nil {
			return fmt.Errorf("cbfs serve on %s: %w", s.Socket, verr)
		}
		st.Running, st.Version = true, v
	case errors.Is(err, service.ErrNoService):
		st.Detail = "no cbfs serve answers (systemctl start cbfs-serve)"
	default:
		return err
	}
	if g.JSON {
		return printJSON(g.Stdout, []serviceStatus{st})
	}
	tw := tabwriter.NewWriter(g.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVICE\tSTATUS\tDETAIL")
	status, detail := "stopped", st.Detail
	if st.Running {
		status, detail = "running", fmt.Sprintf("%s on %s", st.Version, st.Socket)
	}
	fmt.Fprintf(tw, "%s\t%s\t%s\n", st.Name, status, detail)
	return tw.Flush()
}
