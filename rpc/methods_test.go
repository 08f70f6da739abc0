package rpc

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestMethodTable: the table names each method and command once, every command runs an iris/*
// request of the same name, and the commands are advertised in the table's order.
func TestMethodTable(t *testing.T) {
	seen := map[string]bool{}
	var commands []string
	for _, m := range methods {
		if seen[m.name] {
			t.Errorf("%s is in the table twice", m.name)
		}
		seen[m.name] = true
		if m.run == nil {
			t.Errorf("%s has no handler", m.name)
		}
		if m.states == 0 {
			t.Errorf("%s is taken in no state", m.name)
		}
		if got := lookupMethod(m.name); got.name != m.name {
			t.Errorf("lookupMethod(%q) = %q", m.name, got.name)
		}
		if m.command == "" {
			continue
		}
		commands = append(commands, m.command)
		if want := "iris." + strings.TrimPrefix(m.name, "iris/"); m.command != want || !strings.HasPrefix(m.name, "iris/") {
			t.Errorf("%s runs command %q, want %q", m.name, m.command, want)
		}
		if methodsByCommand[m.command] == nil || methodsByCommand[m.command].name != m.name {
			t.Errorf("command %s does not run %s", m.command, m.name)
		}
	}
	if got := Commands(); !reflect.DeepEqual(got, commands) {
		t.Errorf("Commands() = %q, want the table's %q", got, commands)
	}
	if m := lookupMethod("iris/frobnicate"); m != &unknownMethod {
		t.Errorf("an unknown method is looked up as %q, want unknownMethod", m.name)
	}
}

// lifecycleRequests are the table's requests with a lifecycle of their own (initialize,
// shutdown): docs/protocol.md gives each a section under "Lifecycle", the others are rows of its
// "Requests" table.
func lifecycleRequests() (lifecycle, other []string) {
	for _, m := range methods {
		if m.states == requestStates {
			other = append(other, m.name)
		} else {
			lifecycle = append(lifecycle, m.name)
		}
	}
	return lifecycle, other
}

// tableColumn is the first column of the Markdown table whose header row starts with header,
// without the backticks around each value.
func tableColumn(t *testing.T, doc, file, header string) []string {
	t.Helper()
	lines := strings.Split(doc, "\n")
	for i, line := range lines {
		if !strings.HasPrefix(line, header) {
			continue
		}
		var col []string
		for _, row := range lines[i+2:] { // past the header and its |---| line
			if !strings.HasPrefix(row, "|") {
				break
			}
			cell := strings.TrimSpace(strings.Split(row, "|")[1])
			col = append(col, strings.Trim(cell, "`"))
		}
		return col
	}
	t.Fatalf("%s has no table with the header %q: update this test with the document", file, header)
	return nil
}

// quoted is every string in s that re captures (its first group), in order.
func quoted(t *testing.T, doc, file, what string, re *regexp.Regexp, item *regexp.Regexp) []string {
	t.Helper()
	m := re.FindStringSubmatch(doc)
	if m == nil {
		t.Fatalf("%s has no %s (%s): update this test with the document", file, what, re)
	}
	var out []string
	for _, s := range item.FindAllStringSubmatch(m[1], -1) {
		out = append(out, s[1])
	}
	return out
}

func readDoc(t *testing.T, name string) (path, text string) {
	t.Helper()
	path = filepath.Join("..", "docs", name)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, string(b)
}

// TestDocsListTheMethods: the method and command lists of docs/protocol.md and docs/editors.md
// are the table's (methods.go); a method or command added, removed or renamed there fails here
// until the documents follow.
func TestDocsListTheMethods(t *testing.T) {
	commands := Commands()
	sorted := func(s []string) []string { s = slices.Clone(s); slices.Sort(s); return s }
	lifecycle, requests := lifecycleRequests()

	protocolPath, protocol := readDoc(t, "protocol.md")
	editorsPath, editors := readDoc(t, "editors.md")
	dq := regexp.MustCompile(`"([^"]+)"`)
	sq := regexp.MustCompile(`'([^']+)'`)
	tests := []struct {
		what string
		got  []string
		want []string
	}{
		{protocolPath + ` "Requests" table`, tableColumn(t, protocol, protocolPath, "| method | params | result |"), requests},
		{protocolPath + ` initialize result's executeCommandProvider`,
			quoted(t, protocol, protocolPath, "executeCommandProvider commands", regexp.MustCompile(`"executeCommandProvider": \{"commands": \[([^\]]*)\]`), dq), commands},
		{editorsPath + ` command table`, tableColumn(t, editors, editorsPath, "| command | does |"), commands},
		// The editor recipes' command lists may be in any order.
		{editorsPath + ` Neovim :Iris completion`,
			sorted(quoted(t, editors, editorsPath, "Neovim completion", regexp.MustCompile(`complete = function\(\)\s*return \{([^}]*)\}`), sq)), sorted(commands)},
		{editorsPath + ` eglot iris-command completion`,
			sorted(quoted(t, editors, editorsPath, "eglot completion", regexp.MustCompile(`\(completing-read "IRIS command: "\s*'\(([^)]*)\)`), dq)), sorted(commands)},
		{editorsPath + ` Sublime Default.sublime-commands`,
			sorted(quoted(t, editors, editorsPath, "Sublime commands", regexp.MustCompile(`(?s)\[\s*(\{ "caption": "IRIS: .*?)\n\]`), regexp.MustCompile(`"command_name": "([^"]+)"`))), sorted(commands)},
	}
	for _, tc := range tests {
		if !reflect.DeepEqual(tc.got, tc.want) {
			t.Errorf("%s lists\n %q\nthe method table (rpc/methods.go) has\n %q", tc.what, tc.got, tc.want)
		}
	}
	for _, name := range lifecycle {
		heading := regexp.MustCompile("(?m)^### .*`" + regexp.QuoteMeta(name) + "`")
		if !heading.MatchString(protocol) {
			t.Errorf("%s has no \"### `%s`\" section under Lifecycle", protocolPath, name)
		}
	}
}
