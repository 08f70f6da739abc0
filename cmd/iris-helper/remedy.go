package main

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/iris-helper/iris-helper/registry"
	"github.com/iris-helper/iris-helper/workspace"
)

// knobError is an error that the user's own choice would lift (docs/config.md, "Whose word counts").
type knobError interface {
	error
	Knob() workspace.Knob
}

// knobRemedy words, for the command line, how the user allows what err refused: the flag, the
// environment variable or the key of $IRIS_HELPER_HOME/config.json. "" when no knob applies.
func knobRemedy(err error) string {
	var ke knobError
	if !errors.As(err, &ke) || ke.Knob() == "" {
		return ""
	}
	k := ke.Knob()
	config := filepath.Join("$"+registry.EnvHome, registry.ConfigFileName)
	if home, herr := registry.DefaultHome(); herr == nil {
		config = filepath.Join(home, registry.ConfigFileName)
	}
	return fmt.Sprintf("To allow it, pass %s, or set %s=1, or put \"%s\": true in %s.", k.Flag(), k.Env(), k, config)
}
