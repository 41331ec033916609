// Package operations is the application layer of cbfs's backup service:
// the operation kinds, registered once (params.go, kinds.go), and Runner,
// which runs them for both `cbfs serve` (as opqueue handlers) and cbctl's
// foreground mode (under the state directory's lock). It imports neither
// kong nor the socket protocol.
//
// A kind is one struct: SmartScanParams, AccountScanParams, PurgeParams,
// ExportParams, ExportMessagesParams, CoherencyCheckParams, ExternalRestoreParams,
// RestoreOnNewAccountParams, UndeleteParams, ItemRestoreParams. Its fields
// are its parameters, their tags say the pair name, required, enum and
// default (Params); Encode and Decode turn it into and from Carbonio's
// "name value" pairs, the map cbctl sends and the queue stores; its run
// calls the library:
//
//	doSmartScan                         scan.Run over the whole source
//	doAccountScan      account          scan.Run with Only
//	doPurge            [purgeDays N]    purge.Run (default: --retention-days)
//	doExport           destPath [domains d1,d2] [cos c1,c2]   export.Run
//	doExportMessages   destPath [account A [folder F]] | [query Q] [date D] [format mbox|eml]   msgexport.Run
//	doCoherencyCheck   [fixBackup true] [fixDoubleGzip check|fix]   coherency.Check
//	doExternalRestore, doRestoreOnNewAccount, doUndelete, doItemRestore   package restore (restore.go)
//
// Writers exclude each other per Backup Path, not per state directory:
// scans, purges, coherency checks that fix and exports (on their
// destination) hold internal/pathlock's <path>/.cbfs-writer.lock while they
// run, and a second writer fails at once naming the first. Restores and
// plain checks only read and take nothing.
//
// No secret is stored or printed: the service stores parameters through
// Runner.Redact (a URL's password removed: imap://admin@host:port; any
// *password*/*secret* parameter "<redacted>") and keeps the password in
// memory for the run; after a restart, a stored restore gets it from
// --restore-target or --source when they name the same login and server,
// else it fails asking for it again (secrets.go).
//
// Every kind also takes "notifications" (addresses); they, and the
// --notify addresses, are listed at the end of the report, and the report
// is mailed to them (internal/notify) when --smtp names an SMTP server.
//
// Parameters travel as strings, as on Carbonio's command line and in the
// queue; Runner.Validate decodes them when an operation is enqueued, so a
// bad one is refused at once (ErrInvalid, which is opqueue.ErrInvalid and
// service.ErrInvalid). Reports are the libraries'
// "- stats -" texts. A stopped operation returns what it did so far and an
// error wrapping the context's; running it again resumes it (scans are
// incremental, purge and coherency check idempotent; an export must be
// given a new, empty destination).
//
// The backupEnabled toggles (toggles.Store, statedir.Dir.Toggles)
// are read afresh by every operation and applied to the Backup Path
// (toggles.Policy.Apply) before each scan and purge; Runner.Config changes them at
// once (never queued) and applies them.
//
// Settings (Flags plus the Backup Path) are the service's: source, account
// list ("name [cos]" per line), state directory (statedir.Default), socket
// (statedir.Dir.Socket), retention days, configuration paths, notification
// addresses. Both binaries read them from flags and from a JSON --config
// file whose keys are the flag names (cli.ServiceFlags, cli.JSONLoader).
package operations
