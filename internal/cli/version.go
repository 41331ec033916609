package cli

import "runtime/debug"

// Version is set at build time with
// -ldflags "-X github.com/cbfs/cbfs/internal/cli.Version=...".
var Version = ""

// VersionString is cbctl's and cbfs's version: Version when set at build
// time, else the VCS revision the binary was built from (12 digits,
// "-dirty" when the tree had changes), else the module's version, else
// "(devel)".
func VersionString() string {
	if Version != "" {
		return Version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "(devel)"
	}
	rev, dirty := "", ""
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "-dirty"
			}
		}
	}
	if rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		return rev + dirty
	}
	if bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}
