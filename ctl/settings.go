package ctl

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/alecthomas/kong"

	"github.com/cbfs/cbfs/operations"
)

// ServiceFlags are the service settings as flags: --config and
// operations.Flags. cbfs serve and cbctl's operation commands take them.
type ServiceFlags struct {
	Config kong.ConfigFlag `name:"config" placeholder:"FILE" help:"JSON file of settings whose keys are these flags' names (\"source\", \"accounts-file\", ...); flags given on the command line win."`
	operations.Flags
}

// SiteConfig is the settings file of the machine: cbfs serve and cbctl both
// read it when it exists, so that cbctl's read verbs find the Backup Path
// and the state directory the service uses, and a line from Carbonio's
// documentation needs no flags. Its keys are the flags' names, as for
// --config; a --config file wins over it, the command line over both.
const SiteConfig = "/etc/cbfs/cbfs.json"

// ConfigEnv names another site configuration file (which must exist)
// instead of SiteConfig; "none" reads none.
const ConfigEnv = "CBFS_CONFIG"

// SiteConfigPaths are the site configuration files to load: $CBFS_CONFIG,
// else SiteConfig (kong skips it when it does not exist).
func SiteConfigPaths() ([]string, error) {
	p, ok := os.LookupEnv(ConfigEnv)
	switch {
	case !ok || p == "":
		return []string{SiteConfig}, nil
	case p == "none":
		return nil, nil
	}
	if _, err := os.Stat(p); err != nil {
		return nil, fmt.Errorf("$%s: %w", ConfigEnv, err)
	}
	return []string{p}, nil
}

// JSONLoader is kong's JSON configuration loader (kong.JSON) accepting the
// flags' own spelling as keys ("backup-path") as well as kong's
// ("backup_path", "backupPath"). Use it as kong.Configuration(JSONLoader).
func JSONLoader(r io.Reader) (kong.Resolver, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	var values map[string]any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&values); err != nil {
		return nil, fmt.Errorf("configuration file: %w", err)
	}
	if values == nil {
		return nil, errors.New("configuration file: want a JSON object")
	}
	norm := make(map[string]any, len(values))
	for k, v := range values {
		if n, ok := v.(json.Number); ok {
			v = n.String() // kong parses numbers from strings
		}
		norm[strings.ReplaceAll(k, "-", "_")] = v
	}
	b, err = json.Marshal(norm)
	if err != nil {
		return nil, err
	}
	return kong.JSON(bytes.NewReader(b))
}
