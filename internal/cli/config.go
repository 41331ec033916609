package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/alecthomas/kong"

	"github.com/cbfs/cbfs/internal/confined"
	"github.com/cbfs/cbfs/operations"
)

// ServiceFlags are the service settings as flags: --config and
// operations.Flags. cbfs serve and cbctl's operation commands take them.
type ServiceFlags struct {
	Config ConfigFlag `name:"config" placeholder:"FILE" help:"JSON file of settings whose keys are these flags' names (\"source\", \"accounts-file\", ...); flags given on the command line win."`
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
// else SiteConfig (Configuration skips it when it does not exist).
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

// MaxConfigFile is the most a settings file (--config, the site
// configuration) may hold: 1 MiB. A settings file is a JSON object of a
// few dozen flags; a file named by mistake (/dev/zero, a log) fails at
// once instead of being read whole.
const MaxConfigFile = 1 << 20

// ConfigFlag is --config FILE: kong.ConfigFlag, except that the file is
// read as every file an administrator names is (confined.ReadNamed): the
// path is theirs, symbolic links followed, but only a regular file of at
// most MaxConfigFile bytes is read, and a FIFO or device fails at once
// (kong's own opens it with os.Open, which blocks on a FIFO).
type ConfigFlag string

// BeforeResolve loads the file and adds it as a resolver, as
// kong.ConfigFlag does.
func (c ConfigFlag) BeforeResolve(k *kong.Kong, ctx *kong.Context, trace *kong.Path) error {
	path, _ := ctx.FlagValue(trace.Flag).(ConfigFlag)
	r, err := loadConfig(string(path))
	if err != nil {
		return err
	}
	ctx.AddResolver(r)
	return nil
}

// loadConfig reads a settings file (JSONLoader's format).
func loadConfig(path string) (kong.Resolver, error) {
	b, err := confined.ReadNamed(kong.ExpandPath(path), MaxConfigFile)
	if err != nil {
		return nil, fmt.Errorf("configuration file: %w", err)
	}
	r, err := JSONLoader(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}

// Configuration is kong.Configuration(JSONLoader, paths...) reading each
// file as ConfigFlag does: a file that does not exist, or that this user
// may not read, is skipped (as kong skips it); any other failure (a FIFO,
// a device, a file over MaxConfigFile bytes, bad JSON) is an error naming
// the file.
func Configuration(paths ...string) kong.Option {
	return kong.OptionFunc(func(k *kong.Kong) error {
		for _, p := range paths {
			r, err := loadConfig(p)
			if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
				continue
			}
			if err != nil {
				return err
			}
			if err := kong.Resolvers(r).Apply(k); err != nil {
				return err
			}
		}
		return nil
	})
}

// JSONLoader is kong's JSON configuration loader (kong.JSON) accepting the
// flags' own spelling as keys ("backup-path") as well as kong's
// ("backup_path", "backupPath"). Use it as kong.Configuration(JSONLoader).
func JSONLoader(r io.Reader) (kong.Resolver, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxConfigFile+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxConfigFile {
		return nil, fmt.Errorf("configuration file: more than %d bytes", MaxConfigFile)
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
