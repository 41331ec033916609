package main

// What --help cannot hold: cbfs's mount options (mount -t fuse.cbfs,
// /etc/fstab, systemd mount units: mount.fuse3 runs `cbfs BACKUP_PATH
// MOUNTPOINT -o OPTIONS`, which cmd/cbfs/fstab.go maps onto cbfs mount's
// flags; mountoptions_test.go holds this list to that file), and each
// page's examples beyond the commands' own "Example:" lines.

// mountOptions is the MOUNT OPTIONS section of cbfs.1 (roff).
const mountOptions = `With
.B mount \-t fuse.cbfs
(an /etc/fstab line, a systemd .mount unit), mount.fuse3 runs
.B cbfs BACKUP_PATH MOUNTPOINT \-o OPTIONS\fR,
which is
.B cbfs mount BACKUP_PATH MOUNTPOINT \-\-daemon
with these options mapped onto its flags:
.TP
.B allow_other
\-\-allow\-other: other local users may use the mount (a user other than root needs user_allow_other in /etc/fuse.conf).
.TP
.BI uid= USER
\-\-uid: the owner the files show (a name or a number).
.TP
.BI gid= GROUP
\-\-gid: the group the files show (a name or a number).
.TP
.BI umask= MASK
\-\-umask: the permission bits taken away (octal; default 077).
.TP
.BI index= FILE
\-\-index: the index file (default: one per Backup Path, in /var/cache/cbfs for root, named from the Backup Path and kept current by cbfs serve).
.TP
.BI keymap= FILE
\-\-keymap: how to read item and account files of another dialect.
.TP
.BI log= FILE
\-\-log\-file: append the mount's messages to FILE (SIGHUP reopens it).
.TP
.BI refresh= DURATION
\-\-refresh\-every: look this often whether the Backup Path changed and show new backups without unmounting (default 1m; 0 turns it off).
.TP
.B rebuild
\-\-rebuild: build the index again from scratch.
.TP
.B ro, rw, defaults, auto, noauto, user, nouser, users, dev, nodev, suid, nosuid, exec, noexec, _netdev, nofail, default_permissions, async, atime, noatime, relatime, fsname=, subtype=, comment=, x\-*
accepted and ignored (the mount is always read\-only); any other option is refused with the list above.
`

// extraExamples are the EXAMPLES a page gives before its commands' own.
var extraExamples = map[string]string{
	"cbfs": `# Mount a Backup Path (foreground; Ctrl-C unmounts):
cbfs mount /opt/zextras/backup/zextras /mnt/backup

# Detach once mounted, for scripts and units ($? says whether it is up):
cbfs mount /srv/backup /mnt/backup --daemon --log-file /var/log/cbfs-mount-backup.log

# The same through mount(8), and as an /etc/fstab line:
mount -t fuse.cbfs /srv/backup /mnt/backup -o ro,allow_other,umask=027,gid=adm
/srv/backup  /mnt/backup  fuse.cbfs  ro,allow_other,umask=027,gid=adm,log=/var/log/cbfs-mount-backup.log,_netdev  0 0

# A message as it was on a day, and the deleted ones:
ls /mnt/backup/accounts/john@example.com/at/2023-07-25/Inbox
ls /mnt/backup/accounts/john@example.com/deleted

# Why a message cannot be read:
getfattr -d /mnt/backup/accounts/john@example.com/items/286/2023-07-26T03:17:46Z/message.eml

# The backup service, with a Prometheus textfile:
cbfs serve --backup-path /srv/backup --source imap://admin@127.0.0.1:143 \
  --accounts-file /etc/cbfs/accounts --metrics-file /var/lib/node_exporter/textfile/cbfs.prom

# Unmount:
fusermount3 -u /mnt/backup
`,
	"cbctl": `# What a Backup Path holds:
cbctl backup getBackupInfo backup_path /srv/backup
cbctl backup getAvailableAccounts backup_path /srv/backup

# One item's history, and its content as an .eml:
cbctl backup getItem john@example.com 286 date all
cbctl backup getItem john@example.com 286 date 2023-07-25 --output /tmp/286.eml

# What a restore would do, then the restore:
cbctl backup doUndelete john@example.com 01/07/2023 last target imap://admin@127.0.0.1:143 dry_run true
cbctl backup doUndelete john@example.com 01/07/2023 last target imap://admin@127.0.0.1:143 --wait

# The queue of cbfs serve, and errors as JSON for scripts:
cbctl backup getAllOperations
cbctl backup monitor --json
`,
}
