package dotenv

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iris-helper/iris-helper/rpc/rpctest"
	"github.com/iris-helper/iris-helper/workspace/workspacetest"
)

var updateEnvGolden = flag.Bool("update", false, "rewrite the golden files under testdata/env")

// goldenParams is a case's params.json; every field is optional.
type goldenParams struct {
	Superserver int    `json:"superserver"`
	Web         int    `json:"web"`
	Host        string `json:"host"`
	Mode        string `json:"mode"`
	Names       struct {
		Host            *string `json:"host"`
		SuperserverPort *string `json:"superserverPort"`
		WebPort         *string `json:"webPort"`
	} `json:"names"`
}

func readGoldenParams(t *testing.T, dir string) (goldenParams, Names, SyncMode, Ports) {
	t.Helper()
	p := goldenParams{Superserver: 1980, Web: 52781, Host: "localhost", Mode: "auto"}
	if b, err := os.ReadFile(filepath.Join(dir, "params.json")); err == nil {
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&p); err != nil {
			t.Fatalf("params.json: %v", err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	mode, err := ParseSyncMode(p.Mode)
	if err != nil {
		t.Fatal(err)
	}
	names := Names{Host: p.Names.Host, SuperserverPort: p.Names.SuperserverPort, WebPort: p.Names.WebPort}
	return p, names, mode, Ports{Host: p.Host, Superserver: p.Superserver, Web: p.Web}
}

// describeResult is the want.changes text: what a user would be told.
func describeResult(res Result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "written: %v\ncreated: %v\n", res.Written, res.Created)
	if res.Skipped != "" {
		fmt.Fprintf(&b, "skipped: %s\n", res.Skipped)
	}
	fmt.Fprintf(&b, "keys: host=%q superserver=%q web=%q\n", res.Keys.Host, res.Keys.Superserver, res.Keys.Web)
	for _, c := range res.Changes {
		fmt.Fprintf(&b, "%s\n", c)
		if c.OldText != "" {
			fmt.Fprintf(&b, "  - %q\n", c.OldText)
		}
		fmt.Fprintf(&b, "  + %q\n", c.NewText)
	}
	return b.String()
}

func TestEnvGolden(t *testing.T) {
	cases, err := os.ReadDir(filepath.Join("..", "..", "testdata", "env"))
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) < 15 {
		t.Fatalf("only %d golden cases under testdata/env, want at least 15", len(cases))
	}
	for _, c := range cases {
		if !c.IsDir() {
			continue
		}
		t.Run(c.Name(), func(t *testing.T) {
			caseDir := filepath.Join("..", "..", "testdata", "env", c.Name())
			_, names, mode, ports := readGoldenParams(t, caseDir)
			dir := workspacetest.TempDir(t)
			path := filepath.Join(dir, ".env")
			input, err := os.ReadFile(filepath.Join(caseDir, "input.env"))
			hasInput := err == nil
			if hasInput {
				if err := os.WriteFile(path, input, 0o600); err != nil {
					t.Fatal(err)
				}
			} else if !errors.Is(err, fs.ErrNotExist) {
				t.Fatal(err)
			}

			res, err := Sync(Scope{}, path, mode, names, ports)
			if err != nil {
				t.Fatalf("SyncEnv: %v", err)
			}
			got, err := os.ReadFile(path)
			gotExists := err == nil
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				t.Fatal(err)
			}
			wantPath := filepath.Join(caseDir, "want.env")
			changesPath := filepath.Join(caseDir, "want.changes")
			desc := describeResult(res)
			if *updateEnvGolden {
				os.Remove(wantPath)
				if gotExists {
					if err := os.WriteFile(wantPath, got, 0o644); err != nil {
						t.Fatal(err)
					}
				}
				if err := os.WriteFile(changesPath, []byte(desc), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(wantPath)
			wantExists := err == nil
			if gotExists != wantExists {
				t.Fatalf("file exists after sync: %v, want %v (%s)", gotExists, wantExists, desc)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("after sync the file is\n%q\nwant\n%q", got, want)
			}
			wantDesc, err := os.ReadFile(changesPath)
			if err != nil {
				t.Fatal(err)
			}
			if desc != string(wantDesc) {
				t.Errorf("result:\n%s\nwant:\n%s", desc, wantDesc)
			}
			if hasInput && bytes.Equal(input, got) && res.Written {
				t.Errorf("the file was rewritten with identical bytes")
			}
			if !gotExists || mode == SyncFalse {
				return
			}
			// A second sync changes nothing, and the file now says what was asked.
			again, err := Sync(Scope{}, path, mode, names, ports)
			if err != nil {
				t.Errorf("second sync: %v", err)
			}
			rpctest.Check(t, "second sync", rpctest.Want("written", again.Written, false), rpctest.Want("len(changes)", len(again.Changes), 0))
			vals := ParseValues(got, res.Keys)
			if res.Keys.Superserver != "" && vals.Superserver.Port != ports.Superserver {
				t.Errorf("%s reads back as %+v, want %d", res.Keys.Superserver, vals.Superserver, ports.Superserver)
			}
			if res.Keys.Web != "" && vals.Web.Port != ports.Web {
				t.Errorf("%s reads back as %+v, want %d", res.Keys.Web, vals.Web, ports.Web)
			}
			if res.Keys.Host != "" && !vals.Host.Present {
				t.Errorf("%s missing after sync", res.Keys.Host)
			}
			if fi, err := os.Stat(path); err == nil && hasInput && fi.Mode().Perm() != 0o600 {
				t.Errorf("mode changed to %v, want 0600 kept", fi.Mode().Perm())
			}
		})
	}
}
