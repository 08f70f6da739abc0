package workspace

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"github.com/iris-helper/iris-helper/registry"
	"github.com/iris-helper/iris-helper/workspace/projfile"
)

// Knob names one thing that only the user's own choice may allow (docs/config.md, "Whose word
// counts"): a command-line flag, an environment variable, a key of $IRIS_HELPER_HOME/config.json,
// or an editor setting at user scope. A file in the project (.iris-helper.json, .vscode/settings.json)
// never turns a knob on. Errors that a knob would lift carry it, and each front end words it.
type Knob string

// The knobs.
const (
	// KnobEnvFileOutsideProject lets the .env that iris-helper keeps in step resolve outside the
	// project folder or into IRIS_HELPER_HOME (env.file, or a .env symbolic link).
	KnobEnvFileOutsideProject Knob = "allowEnvFileOutsideProject"
	// KnobNetworkBind lets a project's bindAddress be a non-loopback address.
	KnobNetworkBind Knob = "allowNetworkBind"
)

// Flag is the CLI flag that turns the knob on for one command.
func (k Knob) Flag() string {
	switch k {
	case KnobEnvFileOutsideProject:
		return "--allow-env-outside-project"
	case KnobNetworkBind:
		return "--allow-network-bind"
	}
	return ""
}

// Env is the environment variable that turns the knob on (value 1 or true).
func (k Knob) Env() string {
	switch k {
	case KnobEnvFileOutsideProject:
		return "IRIS_HELPER_ALLOW_ENV_OUTSIDE_PROJECT"
	case KnobNetworkBind:
		return "IRIS_HELPER_ALLOW_NETWORK_BIND"
	}
	return ""
}

// EditorSetting is the VS Code user setting that turns the knob on.
func (k Knob) EditorSetting() string { return "irisHelper." + string(k) }

// UserPolicy is what the user allows beyond the safe defaults. Only the user's own choices fill it.
type UserPolicy struct {
	AllowEnvFileOutsideProject bool `json:"allowEnvFileOutsideProject,omitempty"`
	AllowNetworkBind           bool `json:"allowNetworkBind,omitempty"`
}

// Allows reports whether the policy turns knob k on.
func (p UserPolicy) Allows(k Knob) bool {
	switch k {
	case KnobEnvFileOutsideProject:
		return p.AllowEnvFileOutsideProject
	case KnobNetworkBind:
		return p.AllowNetworkBind
	}
	return false
}

// Or is the policy that allows what either allows.
func (p UserPolicy) Or(o UserPolicy) UserPolicy {
	return UserPolicy{
		AllowEnvFileOutsideProject: p.AllowEnvFileOutsideProject || o.AllowEnvFileOutsideProject,
		AllowNetworkBind:           p.AllowNetworkBind || o.AllowNetworkBind,
	}
}

// LoadUserPolicy reads the knobs from the environment and from home's config.json (the registry
// home). A knob is on when either says so; flags and editor settings are OR-ed in by the caller
// (ProjectOptions.Policy).
func LoadUserPolicy(home string) (UserPolicy, error) {
	var p UserPolicy
	path := filepath.Join(home, registry.ConfigFileName)
	data, err := projfile.ReadFile(path, projfile.ConfigLimit, projfile.FollowLinks)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return UserPolicy{}, fmt.Errorf("read the user's settings: %w", err)
	default:
		if err := json.Unmarshal(data, &p); err != nil {
			return UserPolicy{}, fmt.Errorf("parse %s: %w", path, err)
		}
	}
	for _, k := range []Knob{KnobEnvFileOutsideProject, KnobNetworkBind} {
		v := os.Getenv(k.Env())
		if v == "" {
			continue
		}
		on, err := strconv.ParseBool(v)
		if err != nil {
			return UserPolicy{}, fmt.Errorf("environment variable %s=%q: want 1, true, 0 or false", k.Env(), v)
		}
		if on {
			p = p.Or(policyOf(k))
		}
	}
	return p, nil
}

func policyOf(k Knob) UserPolicy {
	switch k {
	case KnobEnvFileOutsideProject:
		return UserPolicy{AllowEnvFileOutsideProject: true}
	case KnobNetworkBind:
		return UserPolicy{AllowNetworkBind: true}
	}
	return UserPolicy{}
}
