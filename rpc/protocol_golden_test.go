package rpc

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/iris-helper/iris-helper/registry"
	"github.com/iris-helper/iris-helper/workspace"
)

var updateProtocolGolden = flag.Bool("update", false, "rewrite the golden files under testdata/protocol")

// protocolGoldenDir holds one JSON file per protocol object. The extension's unit tests
// (extension/test/unit/protocol.test.ts) read the same files, so that Go and TypeScript agree on
// every field name and type.
var protocolGoldenDir = filepath.Join("..", "testdata", "protocol")

// goldenStatus is a ready project's status, every field set.
func goldenStatus() workspace.Status {
	started := time.Date(2026, 11, 26, 16, 40, 12, 0, time.UTC)
	return workspace.Status{
		Project: "/home/ada/src/orders", IsIrisProject: true, State: workspace.StateReady,
		SuperserverPort: 1973, WebPort: 52774, BindAddress: "127.0.0.2", Host: workspace.ConnectHost("127.0.0.2"),
		Namespace: "APP", Username: "dev",
		Kind: workspace.KindCompose, ComposeProject: "orders", IrisService: "iris",
		Ports: []workspace.PublishedPort{
			{Service: "iris", ContainerPort: 1972, Protocol: "tcp", HostPort: 1972, HostIP: "127.0.0.2", PinnedHostPort: 1972, State: "running"},
			{Service: "iris", ContainerPort: 52773, Protocol: "tcp", HostPort: 52773, HostIP: "127.0.0.2", PinnedHostPort: 52773, State: "running"},
			{Service: "iris", ContainerPort: 53773, Protocol: "tcp", HostPort: 12000, HostIP: "127.0.0.2", PinnedHostPort: 0, State: "running"},
			{Service: "web", ContainerPort: 80, Protocol: "tcp", HostPort: 12001, HostIP: "127.0.0.2", PinnedHostPort: 8080, State: "exited"},
		},
		Container: "orders-iris-1", Image: "containers.intersystems.com/intersystems/iris-community:latest-em",
		StartedAt: &started, ExitCode: nil, Phase: "", EnvFile: "/home/ada/src/orders/.env",
		RestartNeeded: true, Message: "the container still uses 1972/52773; restart to use 1973/52774",
	}
}

// TestProtocolGolden marshals a value of each protocol type and compares the whole JSON with its
// golden file (go test ./rpc -run TestProtocolGolden -update rewrites them), then decodes the
// golden file into the type, refusing unknown fields, and marshals it again: every field of the
// file is one the Go type reads.
func TestProtocolGolden(t *testing.T) {
	slot := 1
	st := goldenStatus()
	entry := workspace.PortEntry{
		Assignment: registry.Assignment{Project: "/home/ada/src/orders", Slot: &slot, SuperserverPort: 1973, WebPort: 52774,
			Type: registry.TypeAuto, Status: registry.StatusActive, Container: "iris_5f3a9c1e_1973", Engine: "unix:///var/run/docker.sock",
			AssignedAt: time.Date(2026, 11, 26, 16, 40, 2, 0, time.UTC), LastUsedAt: time.Date(2026, 11, 26, 16, 40, 12, 0, time.UTC)},
		ContainerState: "running", State: workspace.StateReady,
		Ports: []workspace.PublishedPort{
			{ContainerPort: 1972, Protocol: "tcp", HostPort: 1973, HostIP: "127.0.0.1", State: "running"},
			{ContainerPort: 52773, Protocol: "tcp", HostPort: 52774, HostIP: "127.0.0.1", State: "running"},
		},
	}
	// a compose project: the pair from the file's pin 52773:52773, its other published ports on extra ports
	composeEntry := workspace.PortEntry{
		Assignment: registry.Assignment{Project: "/home/ada/src/shop", SuperserverPort: 1972, WebPort: 52773,
			Type: registry.TypeManual, Status: registry.StatusActive, Container: "shop-iris-1", Engine: "unix:///var/run/docker.sock",
			AssignedAt: time.Date(2026, 11, 26, 16, 41, 0, 0, time.UTC), LastUsedAt: time.Date(2026, 11, 26, 16, 41, 9, 0, time.UTC),
			Extra: []registry.ExtraPort{
				{Key: "iris/53773/tcp", Port: 12000, AssignedAt: time.Date(2026, 11, 26, 16, 41, 0, 0, time.UTC)},
				{Key: "web/80/tcp", Port: 12001, AssignedAt: time.Date(2026, 11, 26, 16, 41, 0, 0, time.UTC)},
			}},
		ContainerState: "running", State: workspace.StateReady,
		Ports: []workspace.PublishedPort{
			{Service: "iris", ContainerPort: 1972, Protocol: "tcp", HostPort: 1972, HostIP: "127.0.0.1", State: "running"},
			{Service: "iris", ContainerPort: 52773, Protocol: "tcp", HostPort: 52773, HostIP: "127.0.0.1", PinnedHostPort: 52773, State: "running"},
			{Service: "iris", ContainerPort: 53773, Protocol: "tcp", HostPort: 12000, HostIP: "127.0.0.1", State: "running"},
			{Service: "web", ContainerPort: 80, Protocol: "tcp", HostPort: 12001, HostIP: "127.0.0.1", PinnedHostPort: 8080, State: "running"},
		},
	}
	tru, fals := true, false
	cases := []struct {
		file  string
		value any
		into  func() any // a pointer to a zero value of the type
	}{
		{"status.json", st, func() any { return new(workspace.Status) }},
		{"port-entry.json", entry, func() any { return new(workspace.PortEntry) }},
		// iris/ports and `ports list --json`: an image-kind entry, a compose one with extra ports, a key
		// detection no longer reaches, an invalid entry.
		{"ports-result.json", PortsResult{
			Assignments: []workspace.PortEntry{entry, composeEntry},
			Notes:       []workspace.KeyNote{{Project: "/home/ada/src", Stop: workspace.StopHome}},
			Invalid: []registry.InvalidEntry{{Index: 2, Project: "/home/ada/src/old", Reason: "its web port 70000 is not between 1 and 65535",
				Entry: json.RawMessage(`{"project":"/home/ada/src/old","superserverPort":1980,"webPort":70000}`)}},
		}, func() any { return new(PortsResult) }},
		{"initialize-result.json", InitializeResult{
			Capabilities: ServerCapabilities{Experimental: Experimental{IrisStatus: true}},
			ServerInfo:   ServerInfo{Name: "iris-helper", Version: "0.1.0"},
			Status:       &st,
		}, func() any { return new(InitializeResult) }},
		{"initialize-result-commands.json", InitializeResult{
			Capabilities: ServerCapabilities{ExecuteCommandProvider: &ExecuteCommandOptions{Commands: Commands()}, Experimental: Experimental{IrisStatus: true}},
			ServerInfo:   ServerInfo{Name: "iris-helper", Version: "0.1.0"},
			Status:       nil,
		}, func() any { return new(InitializeResult) }},
		{"initialization-options.json", InitializationOptions{
			AutoStart: &tru, Image: "", SyncEnv: "auto", BindAddress: "", StopOnExit: &fals, CommandProvider: &fals,
			AllowEnvFileOutsideProject: false, AllowNetworkBind: true,
		}, func() any { return new(InitializationOptions) }},
		{"stop-params.json", StopParams{Remove: true, Purge: true}, func() any { return new(StopParams) }},
		{"restart-params.json", StartParams{Confirm: true, Container: "iris_5f3a9c1e_1973"}, func() any { return new(StartParams) }},
		{"error-data.json", ErrorData{Status: &st, Container: "iris_5f3a9c1e_1973",
			Reason: "it was created with image iris-helper/iris-stub:dev instead of containers.intersystems.com/intersystems/iris-community:latest-em",
			Items:  []workspace.ConsentItem{{ID: "bind:iris:/home/ada/iris.key", Service: "iris", Text: "service iris mounts /home/ada/iris.key (outside the project)"}}},
			func() any { return new(ErrorData) }},
		// Not an object on the wire: the method table (methods.go), for the extension's Methods.
		{"methods.json", listMethods(), func() any { return new(methodList) }},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			got, err := json.MarshalIndent(tc.value, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			path := filepath.Join(protocolGoldenDir, tc.file)
			if *updateProtocolGolden {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./rpc -run TestProtocolGolden -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("%s differs from the marshalled value:\n--- got\n%s--- want\n%s", path, got, want)
			}
			dec := json.NewDecoder(bytes.NewReader(want))
			dec.DisallowUnknownFields()
			v := tc.into()
			if err := dec.Decode(v); err != nil {
				t.Fatalf("decode %s: %v", path, err)
			}
			again, err := json.MarshalIndent(reflect.ValueOf(v).Elem().Interface(), "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			if string(again)+"\n" != string(want) {
				t.Fatalf("%s does not survive a decode and encode:\n--- got\n%s\n--- want\n%s", path, again, want)
			}
		})
	}
}

// TestSyncEnvSetting: the editor's syncEnv follows the one rule of .iris-helper.json's env.sync
// (dotenv.ParseSyncMode: case and surrounding spaces ignored), booleans and null accepted.
func TestSyncEnvSetting(t *testing.T) {
	for _, tc := range []struct{ in, want, err string }{
		{`"auto"`, "auto", ""},
		{`"AUTO"`, "auto", ""},
		{`" true "`, "true", ""},
		{`false`, "false", ""},
		{`null`, "", ""},
		{`""`, "", ""},
		{`"maybe"`, "", `syncEnv: env sync mode "maybe" is not valid: use "auto" (update an existing .env), "true" (also create it) or "false" (never touch it)`},
	} {
		var s SyncEnv
		err := json.Unmarshal([]byte(tc.in), &s)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if string(s) != tc.want || got != tc.err {
			t.Errorf("%s: got %q, error %q; want %q, error %q", tc.in, s, got, tc.want, tc.err)
		}
	}
}
