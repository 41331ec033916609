// Package cli holds what the two command lines, cbctl (package ctl) and
// cbfs (cmd/cbfs), share: the service flags (ServiceFlags, --config), the
// site configuration and settings files (SiteConfigPaths, Configuration,
// JSONLoader), usage errors (exit status 2), the version string and the
// default Backup Paths. The grammars they read (dates, sizes) are in
// internal/grammar, below operations, which reads them too.
//
// It imports neither kong's users (ctl, cmd) nor anything that runs an
// operation: only operations' flag struct, kong and internal/confined.
package cli
