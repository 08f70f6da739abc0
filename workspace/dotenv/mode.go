package dotenv

import (
	"fmt"
	"strings"
)

// Default names of the keys the helper manages.
const (
	DefaultHostKey        = "IRIS_HOST"
	DefaultSuperserverKey = "IRIS_PORT"
	DefaultWebKey         = "IRIS_WEB_PORT"
)

// Names are the names of the managed keys as configured (.iris-helper.json "env"). nil = not set
// (the default name, or a well-known alias the file already uses); a pointer to "" = do not
// write this key.
type Names struct {
	Host            *string `json:"host,omitempty"`
	SuperserverPort *string `json:"superserverPort,omitempty"`
	WebPort         *string `json:"webPort,omitempty"`
}

// SyncMode says when the helper writes the project's .env file.
type SyncMode string

const (
	SyncAuto  SyncMode = "auto"  // update an existing file, create none (the default)
	SyncTrue  SyncMode = "true"  // update, and create the file (0644) when missing
	SyncFalse SyncMode = "false" // never touch the file
)

// ParseSyncMode accepts "auto", "true" and "false" (case-insensitive, surrounding
// spaces ignored); "" gives SyncAuto.
func ParseSyncMode(s string) (SyncMode, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "auto":
		return SyncAuto, nil
	case "true":
		return SyncTrue, nil
	case "false":
		return SyncFalse, nil
	}
	return "", fmt.Errorf("env sync mode %q is not valid: use \"auto\" (update an existing .env), \"true\" (also create it) or \"false\" (never touch it)", s)
}
