package rpc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/iris-helper/iris-helper/registry"
	"github.com/iris-helper/iris-helper/workspace"
	"github.com/iris-helper/iris-helper/workspace/dotenv"
)

// Methods the helper answers (client → server); the table in methods.go says what each does.
const (
	MethodInitialize     = "initialize"
	MethodInitialized    = "initialized"
	MethodShutdown       = "shutdown"
	MethodExit           = "exit"
	MethodCancelRequest  = "$/cancelRequest"
	MethodExecuteCommand = "workspace/executeCommand"
	MethodStart          = "iris/start"
	MethodStop           = "iris/stop"
	MethodRestart        = "iris/restart"
	MethodStatus         = "iris/status" // also the server → client notification
	MethodPorts          = "iris/ports"
	MethodRelease        = "iris/release"
)

// Methods the helper sends (server → client).
const (
	MethodShowMessage    = "window/showMessage"
	MethodLogMessage     = "window/logMessage"
	MethodProgressCreate = "window/workDoneProgress/create"
	MethodProgress       = "$/progress"
)

// InitializeParams is the part of LSP's InitializeParams the helper reads; the rest is ignored.
type InitializeParams struct {
	ProcessID             *int                  `json:"processId"`
	RootURI               *string               `json:"rootUri"`
	RootPath              *string               `json:"rootPath"`
	WorkspaceFolders      []WorkspaceFolder     `json:"workspaceFolders"`
	ClientInfo            *ClientInfo           `json:"clientInfo"`
	Capabilities          ClientCapabilities    `json:"capabilities"`
	InitializationOptions InitializationOptions `json:"initializationOptions"`
}

// WorkspaceFolder is an LSP workspace folder.
type WorkspaceFolder struct {
	URI  string `json:"uri"`
	Name string `json:"name"`
}

// ClientInfo names the editor.
type ClientInfo struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// ClientCapabilities is the part of the client's capabilities the helper uses.
type ClientCapabilities struct {
	Window struct {
		WorkDoneProgress bool `json:"workDoneProgress"`
	} `json:"window"`
}

// InitializationOptions are the editor settings, with the same names as the VS Code settings.
// Unset fields take the defaults: autoStart true, stopOnExit false, commandProvider true,
// syncEnv/image/bindAddress from .iris-helper.json and the helper's defaults.
type InitializationOptions struct {
	AutoStart       *bool   `json:"autoStart"`
	Image           string  `json:"image"`
	SyncEnv         SyncEnv `json:"syncEnv"`
	BindAddress     string  `json:"bindAddress"`
	StopOnExit      *bool   `json:"stopOnExit"`
	CommandProvider *bool   `json:"commandProvider"`
	// The user's own allowances: the extension sends only settings made at user scope
	// (inspect().globalValue), never a workspace's or folder's.
	AllowEnvFileOutsideProject bool `json:"allowEnvFileOutsideProject"`
	AllowNetworkBind           bool `json:"allowNetworkBind"`
	// DockerPath is the docker CLI whose compose plugin runs compose projects
	// (irisHelper.dockerPath, user scope only: it names a program to run); "" = docker on PATH.
	DockerPath string `json:"dockerPath"`
}

// UnmarshalJSON accepts null, {} and an empty array (what some clients send for "no options").
func (o *InitializationOptions) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	if string(data) == "null" || string(data) == "[]" {
		*o = InitializationOptions{}
		return nil
	}
	type plain InitializationOptions
	var p plain
	if err := json.Unmarshal(data, &p); err != nil {
		return err
	}
	*o = InitializationOptions(p)
	return nil
}

func boolOr(b *bool, def bool) bool {
	if b == nil {
		return def
	}
	return *b
}

// SyncEnv is the syncEnv setting: "auto", "true" or "false" ("" = not set). JSON booleans are
// accepted too.
type SyncEnv string

// UnmarshalJSON accepts "auto|true|false", true, false and null.
func (s *SyncEnv) UnmarshalJSON(data []byte) error {
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	switch v := v.(type) {
	case nil:
		*s = ""
	case bool:
		*s = SyncEnv(fmt.Sprint(v))
	case string:
		if v == "" {
			*s = ""
			break
		}
		mode, err := dotenv.ParseSyncMode(v) // the one rule, as for .iris-helper.json's env.sync
		if err != nil {
			return &fieldError{Field: "syncEnv", Msg: err.Error()}
		}
		*s = SyncEnv(mode)
	default:
		return &fieldError{Field: "syncEnv", Msg: fmt.Sprintf("must be \"auto\", \"true\" or \"false\", not %s", data)}
	}
	return nil
}

// folder returns the folder the helper serves: the first workspace folder, else rootUri, else
// rootPath; "" when the client opened no folder.
func (p InitializeParams) folder() (string, error) {
	if len(p.WorkspaceFolders) > 0 {
		dir, err := uriToPath(p.WorkspaceFolders[0].URI)
		if err != nil {
			return "", &fieldError{Field: "workspaceFolders[0].uri", Msg: err.Error()}
		}
		return dir, nil
	}
	if p.RootURI != nil && *p.RootURI != "" {
		dir, err := uriToPath(*p.RootURI)
		if err != nil {
			return "", &fieldError{Field: "rootUri", Msg: err.Error()}
		}
		return dir, nil
	}
	if p.RootPath != nil && *p.RootPath != "" {
		return filepath.Clean(*p.RootPath), nil
	}
	return "", nil
}

// uriToPath turns a file: URI into a local path.
func uriToPath(uri string) (string, error) {
	u, err := url.Parse(uri)
	if err != nil {
		return "", fmt.Errorf("not a URI: %v", err)
	}
	if u.Scheme != "file" {
		return "", fmt.Errorf("%q is not a file: URI; iris-helper serves local folders only", uri)
	}
	p := u.Path
	if runtime.GOOS == "windows" {
		// file:///c:/x → c:/x ; file://server/share/x → //server/share/x
		if u.Host != "" && u.Host != "localhost" {
			p = "//" + u.Host + p
		} else if len(p) >= 3 && p[0] == '/' && p[2] == ':' {
			p = p[1:]
		}
	}
	if p == "" {
		return "", fmt.Errorf("%q names no folder", uri)
	}
	return filepath.Clean(filepath.FromSlash(p)), nil
}

// InitializeResult answers initialize.
type InitializeResult struct {
	Capabilities ServerCapabilities `json:"capabilities"`
	ServerInfo   ServerInfo         `json:"serverInfo"`
	// Status is the project's first status; null when the client opened no folder.
	Status *workspace.Status `json:"status"`
}

// ServerCapabilities declares no text-document features: only commands and the iris/status
// notification.
type ServerCapabilities struct {
	ExecuteCommandProvider *ExecuteCommandOptions `json:"executeCommandProvider,omitempty"`
	Experimental           Experimental           `json:"experimental"`
}

// ExecuteCommandOptions lists the workspace/executeCommand commands.
type ExecuteCommandOptions struct {
	Commands []string `json:"commands"`
}

// Experimental tells the client that the helper sends iris/status notifications.
type Experimental struct {
	IrisStatus bool `json:"irisStatus"`
}

// ServerInfo names the helper.
type ServerInfo struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// StopResult is iris/stop's answer: the status object with the volumes a purge removed.
type StopResult struct {
	Status         workspace.Status
	RemovedVolumes []string // never null
}

// MarshalJSON writes the status object's fields and removedVolumes beside them.
func (r StopResult) MarshalJSON() ([]byte, error) {
	b, err := json.Marshal(r.Status)
	if err != nil {
		return nil, err
	}
	vols := r.RemovedVolumes
	if vols == nil {
		vols = []string{}
	}
	v, err := json.Marshal(vols)
	if err != nil {
		return nil, err
	}
	out := append(b[:len(b)-1:len(b)-1], []byte(`,"removedVolumes":`)...)
	out = append(out, v...)
	return append(out, '}'), nil
}

// StopParams are iris/stop's params (and iris.stop's first argument).
type StopParams struct {
	Remove        bool            `json:"remove"`
	Purge         bool            `json:"purge"`
	WorkDoneToken json.RawMessage `json:"workDoneToken,omitempty"`
}

// ReleaseParams are iris/release's params.
type ReleaseParams struct {
	Force bool `json:"force"`
	Purge bool `json:"purge"`
}

// StartParams are iris/start's and iris/restart's params.
type StartParams struct {
	// Build (iris/start): rebuild what the project builds and recreate its containers (a
	// Rebuild, "IRIS: Rebuild"); the image kind ignores it.
	Build bool `json:"build,omitempty"`
	// WorkDoneToken is an LSP progress token made by the client; when absent and the client
	// supports window.workDoneProgress, the helper creates one.
	WorkDoneToken json.RawMessage `json:"workDoneToken,omitempty"`
	// Confirm (iris/restart): the user agreed that the container named in a CodeConfirmRequired
	// answer, whose data is not on the durable volume, may be recreated (its data is lost).
	// Without it such a restart fails with CodeConfirmRequired.
	Confirm bool `json:"confirm,omitempty"`
	// Container (iris/restart, with Confirm): the container the user confirmed, as error.data
	// named it. Absent: the container named in this session's last CodeConfirmRequired answer.
	// A restart that would remove another one answers CodeConfirmRequired naming it.
	Container string `json:"container,omitempty"`
	// Allow (iris/start, iris/restart): the ids of the items of a CodeConsentRequired answer the
	// user allowed (workspace.ConsentChoice.IDs); kept for the project once the start goes ahead.
	Allow []string `json:"allow,omitempty"`
}

// PortsResult answers iris/ports: the listing `ports list --json` prints (assignments, and the
// notes and invalid entries when there are any).
type PortsResult = workspace.PortList

// ReleaseResult answers iris/release.
type ReleaseResult struct {
	Released registry.Assignment `json:"released"`
}

// ExecuteCommandParams are workspace/executeCommand's params.
type ExecuteCommandParams struct {
	Command   string            `json:"command"`
	Arguments []json.RawMessage `json:"arguments"`
}

// CancelParams are $/cancelRequest's params.
type CancelParams struct {
	ID json.RawMessage `json:"id"`
}

// ShowMessageParams are window/showMessage's and window/logMessage's params.
type ShowMessageParams struct {
	Type    int    `json:"type"`
	Message string `json:"message"`
}

// LSP message types.
const (
	MessageError   = 1
	MessageWarning = 2
	MessageInfo    = 3
	MessageLog     = 4
)

// ProgressParams are $/progress's params.
type ProgressParams struct {
	Token json.RawMessage `json:"token"`
	Value ProgressValue   `json:"value"`
}

// ProgressValue is a WorkDoneProgressBegin, Report or End.
type ProgressValue struct {
	Kind        string `json:"kind"` // begin|report|end
	Title       string `json:"title,omitempty"`
	Cancellable *bool  `json:"cancellable,omitempty"`
	Message     string `json:"message,omitempty"`
	Percentage  *int   `json:"percentage,omitempty"`
}

// ErrorData is error.data of the helper's own errors.
type ErrorData struct {
	Status *workspace.Status `json:"status,omitempty"`
	// CodeConfirmRequired: the container a confirmed iris/restart would recreate, and why.
	Container string `json:"container,omitempty"`
	Reason    string `json:"reason,omitempty"`
	// CodeConsentRequired: what the compose project does beyond the allow-list.
	Items []workspace.ConsentItem `json:"items,omitempty"`
}

// fieldError is a params problem naming the field.
type fieldError struct {
	Field string
	Msg   string
}

func (e *fieldError) Error() string { return e.Field + ": " + e.Msg }

// decodeParams decodes raw into v (params absent or null leave v zero). The error names the
// field in question, e.g. `params.remove: expected a boolean, got string "yes"`.
func decodeParams(raw *json.RawMessage, prefix string, v any) error {
	if raw == nil {
		return nil
	}
	data := bytes.TrimSpace(*raw)
	if len(data) == 0 || string(data) == "null" {
		return nil
	}
	if data[0] != '{' {
		return &fieldError{Field: prefix, Msg: fmt.Sprintf("expected an object, got %s", describeJSON(data))}
	}
	if err := json.Unmarshal(data, v); err != nil {
		return paramsError(prefix, err)
	}
	return nil
}

// paramsError turns a json error into a fieldError naming the field.
func paramsError(prefix string, err error) error {
	var fe *fieldError
	if errors.As(err, &fe) {
		return &fieldError{Field: joinField(prefix, strings.TrimPrefix(fe.Field, prefix+".")), Msg: fe.Msg}
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := te.Field
		return &fieldError{Field: joinField(prefix, field), Msg: fmt.Sprintf("expected %s, got %s", goTypeToJSON(te.Type.String()), te.Value)}
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return &fieldError{Field: prefix, Msg: "not valid JSON: " + se.Error()}
	}
	return &fieldError{Field: prefix, Msg: err.Error()}
}

func joinField(prefix, field string) string {
	if field == "" {
		return prefix
	}
	return prefix + "." + field
}

func goTypeToJSON(t string) string {
	switch {
	case t == "bool" || t == "*bool":
		return "a boolean"
	case t == "string" || t == "*string" || strings.HasSuffix(t, "SyncEnv"):
		return "a string"
	case strings.Contains(t, "int"):
		return "an integer"
	case strings.HasPrefix(t, "[]"):
		return "an array"
	default:
		return "an object"
	}
}

func describeJSON(data []byte) string {
	switch data[0] {
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	default:
		return string(data)
	}
}
