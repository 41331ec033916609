package ctl

import (
	"fmt"
	"strings"
)

// carbonioParam is one of Carbonio's documented parameters that cbctl has
// no flag for. The value that asks for what cbfs does anyway (usually
// Carbonio's default) is accepted and does nothing, so a runbook that spells
// the default out still works; any other value fails with the reason.
type carbonioParam struct {
	// noop is the accepted value ("" when none is).
	noop string
	why  string
}

// carbonioParams holds them by verb (as cmdPath names it) and by the
// parameter's normName. docs/CARBONIO-CLI.md lists each as "n/a" with the
// same reason.
var carbonioParams = map[string]map[string]carbonioParam{
	"backup doSmartScan": {
		"remotemetadataupload": remoteMetadataUpload,
		"createfakeblob":       {"false", "cbfs never stores a placeholder for a message it cannot read: the scan counts it as a read error (read_error_threshold) and reads it again next time"},
	},
	"backup doAccountScan": {
		"remotemetadataupload": remoteMetadataUpload,
	},
	"backup doBackupServerCustomizations": {
		"remotemetadataupload": remoteMetadataUpload,
	},
	"backup doCoherencyCheck": {
		"checkzimbra": {"false", "there is no Carbonio mailstore to compare the Backup Path with: cbfs checks the Backup Path alone"},
	},
	"backup doExternalRestore": {
		"restoredatasource": restoreDatasource,
		"blobsarchive":      {"", "the blobs are read from SOURCE_PATH's items/ (a Backup Path whose blobs were kept apart: copy them into its items/ first)"},
	},
	"backup doRestoreOnNewAccount": {
		"restoredatasource":  restoreDatasource,
		"restorechatbuddies": {"false", "a Maildir or IMAP target has no chat: cbfs restores no chat buddies"},
		"applyhsm":           applyHSM,
	},
	"backup doUndelete": {
		"applyhsm": applyHSM,
	},
	"backup retrieveMetadataFromArchive S3": {
		"notifications": {"", "retrieveMetadataFromArchive runs in the foreground and prints its result; there is no report to send"},
	},
	"backup retrieveMetadataFromArchive Local": {
		"notifications": {"", "retrieveMetadataFromArchive runs in the foreground and prints its result; there is no report to send"},
	},
}

var (
	remoteMetadataUpload = carbonioParam{"false", "a scan does not upload metadata itself: cbfs serve --external s3://... archives it after its first scan, daily and after each purge"}
	restoreDatasource    = carbonioParam{"false", "a Maildir or IMAP target has no data sources (external account settings): cbfs restores none"}
	applyHSM             = carbonioParam{"false", "a Maildir or IMAP target has no HSM volumes: cbfs writes every message to the target"}
)

// carbonioParamError is the error for a Carbonio parameter cbctl has no
// flag for, or nil when the pair (name, value) is the accepted no-op.
// known says whether the parameter is one of Carbonio's at all.
func carbonioParamError(verb, name, value string) (err error, known bool) {
	p, ok := carbonioParams[verb][normName(name)]
	if !ok {
		return nil, false
	}
	if p.noop != "" && strings.EqualFold(value, p.noop) {
		return nil, true
	}
	if p.noop != "" {
		return fmt.Errorf("%s: parameter %s %s does not apply to cbfs (only %s %s is accepted): %s", verb, name, value, name, p.noop, p.why), true
	}
	return fmt.Errorf("%s: parameter %s does not apply to cbfs: %s", verb, name, p.why), true
}
