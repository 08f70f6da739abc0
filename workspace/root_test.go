package workspace

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iris-helper/iris-helper/rpc/rpctest"
	"github.com/iris-helper/iris-helper/workspace/sandboxtest"
)

// writeTree creates files and folders under dir (sandboxtest.WriteTree).
var writeTree = sandboxtest.WriteTree

// tempDir returns a canonical (symlink-free) temporary folder.
func tempDir(t *testing.T) string {
	t.Helper()
	d, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

const latexClass = `%% A LaTeX class, not ObjectScript
\NeedsTeXFormat{LaTeX2e}
\ProvidesClass{thesis}[2020/01/01 Thesis class]
\LoadClass{report}
`

func TestFindRoot(t *testing.T) {
	tests := []struct {
		name       string
		files      map[string]string
		start      string // relative to the tree
		wantDir    string // relative to the tree
		wantMarker string
		wantIris   bool
	}{
		{
			name: "nearest .iris-helper.json wins over markers and git",
			files: map[string]string{
				".git/":                      "",
				".iris-helper.json":          "{}",
				"sub/.iris-helper.json":      "{}",
				"sub/module.xml":             "<Export/>",
				"sub/deeper/iris.script":     "halt",
				"sub/deeper/inner/readme.md": "x",
			},
			start: "sub/deeper/inner", wantDir: "sub", wantMarker: ".iris-helper.json", wantIris: true,
		},
		{
			name:  ".iris-helper.json above a nearer marker still wins",
			files: map[string]string{".iris-helper.json": "{}", "app/module.xml": "<Export/>"},
			start: "app", wantDir: ".", wantMarker: ".iris-helper.json", wantIris: true,
		},
		{
			name:  "docker-compose.yml naming the IRIS image",
			files: map[string]string{"docker-compose.yml": "services:\n  iris:\n    image: containers.intersystems.com/intersystems/iris-community:2024.1\n", "src/x/": ""},
			start: "src/x", wantDir: ".", wantMarker: "docker-compose.yml", wantIris: true,
		},
		{
			name:  "compose.yaml naming irishealth",
			files: map[string]string{"compose.yaml": "services:\n  db:\n    image: intersystemsdc/irishealth-community\n"},
			start: ".", wantDir: ".", wantMarker: "compose.yaml", wantIris: true,
		},
		{
			name:  "Dockerfile FROM iris-community",
			files: map[string]string{"Dockerfile": "ARG IMAGE=intersystemsdc/iris-community:latest\nFROM $IMAGE\n", "a/b/": ""},
			start: "a/b", wantDir: ".", wantMarker: "Dockerfile", wantIris: true,
		},
		{
			name: "compose and Dockerfile without an IRIS image are no marker",
			files: map[string]string{
				".git/": "", "docker-compose.yml": "services:\n  db:\n    image: postgres:16\n",
				"Dockerfile": "FROM golang:1.26\n", "pkg/": "",
			},
			start: "pkg", wantDir: ".", wantMarker: ".git", wantIris: false,
		},
		{
			name:  ".env with an IRIS_ key",
			files: map[string]string{".env": "# settings\nexport IRIS_PORT=1972\n", "tests/": ""},
			start: "tests", wantDir: ".", wantMarker: ".env", wantIris: true,
		},
		{
			name:  ".env without IRIS_ keys is no marker",
			files: map[string]string{".git/": "", ".env": "DB_PORT=5432\n# IRIS_PORT=1 commented out\n", "x/": ""},
			start: "x", wantDir: ".", wantMarker: ".git", wantIris: false,
		},
		{
			name:  "module.xml",
			files: map[string]string{".git/": "", "mod/module.xml": "<Export/>", "mod/src/": ""},
			start: "mod/src", wantDir: "mod", wantMarker: "module.xml", wantIris: true,
		},
		{
			name:  "iris.script",
			files: map[string]string{"iris.script": "zn \"USER\"\nhalt\n", "lib/": ""},
			start: "lib", wantDir: ".", wantMarker: "iris.script", wantIris: true,
		},
		{
			name:  "git root without IRIS sources",
			files: map[string]string{".git/": "", "cmd/tool/main.go": "package main\n"},
			start: "cmd/tool", wantDir: ".", wantMarker: ".git", wantIris: false,
		},
		{
			name:  "git root with ObjectScript classes is an IRIS project",
			files: map[string]string{".git/": "", "src/cls/Demo/App.cls": "/// Docs\n// more\n\nInclude %occInclude\nImport Demo.Util\nClass Demo.App Extends %RegisteredObject\n{\n}\n", "docs/": ""},
			start: "docs", wantDir: ".", wantMarker: ".git", wantIris: true,
		},
		{
			name:  "git root with a ROUTINE",
			files: map[string]string{".git/": "", "rtn/Util.mac": "; utility routines\n\nROUTINE Util\nUtil ;\n quit\n"},
			start: ".", wantDir: ".", wantMarker: ".git", wantIris: true,
		},
		{
			name: "LaTeX repository full of .cls files is not an IRIS project",
			files: map[string]string{
				".git/": "", "thesis.cls": latexClass, "styles/letter.cls": latexClass,
				"styles/old/article.cls": "\\ProvidesClass{article}\n", "chapters/": "",
			},
			start: "chapters", wantDir: ".", wantMarker: ".git", wantIris: false,
		},
		{
			name:  "ObjectScript deeper than the scan limit does not count",
			files: map[string]string{".git/": "", "a/b/c/d/e/Deep.cls": "Class Deep.One {}\n"},
			start: ".", wantDir: ".", wantMarker: ".git", wantIris: false,
		},
		{
			name:  "ObjectScript inside node_modules does not count",
			files: map[string]string{".git/": "", "node_modules/pkg/X.cls": "Class X.Y {}\n"},
			start: ".", wantDir: ".", wantMarker: ".git", wantIris: false,
		},
		{
			name:  "nothing found: the folder itself",
			files: map[string]string{"notes/todo.txt": "x"},
			start: "notes", wantDir: "notes", wantMarker: "", wantIris: false,
		},
		{
			name:  "nothing found but ObjectScript sources below",
			files: map[string]string{"proj/src/Demo/Hello.cls": "Class Demo.Hello\n{\n}\n"},
			start: "proj", wantDir: "proj", wantMarker: "", wantIris: true,
		},
		{
			name:  "a file as start uses its folder",
			files: map[string]string{"m/module.xml": "<Export/>", "m/src/A.cls": "Class A.B {}\n"},
			start: "m/src/A.cls", wantDir: "m", wantMarker: "module.xml", wantIris: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The tree lives in its own folder under a temp dir that holds no markers.
			tree := filepath.Join(tempDir(t), "tree")
			writeTree(t, tree, tt.files)
			if err := os.MkdirAll(tree, 0o755); err != nil {
				t.Fatal(err)
			}
			got, err := FindRoot(filepath.Join(tree, filepath.FromSlash(tt.start)))
			if err != nil {
				t.Fatalf("FindRoot: %v", err)
			}
			want := Root{Dir: filepath.Join(tree, filepath.FromSlash(tt.wantDir)), Marker: tt.wantMarker, IsIrisProject: tt.wantIris}
			if got != want {
				t.Errorf("FindRoot(%s)\n got %+v\nwant %+v", tt.start, got, want)
			}
		})
	}
}

func TestFindRootSubfolderAndSymlinkGiveSameKey(t *testing.T) {
	base := tempDir(t)
	proj := filepath.Join(base, "proj")
	writeTree(t, proj, map[string]string{".git/": "", "module.xml": "<Export/>", "src/Demo/Hello.cls": "Class Demo.Hello {}\n"})
	link := filepath.Join(base, "link-to-proj")
	if err := os.Symlink(proj, link); err != nil {
		t.Fatal(err)
	}
	starts := []string{
		proj,
		proj + string(filepath.Separator),
		filepath.Join(proj, "src", "Demo"),
		filepath.Join(proj, "src", "..", "src", "Demo", "."),
		link,
		filepath.Join(link, "src", "Demo"),
	}
	for _, s := range starts {
		r, err := FindRoot(s)
		if err != nil {
			t.Fatalf("FindRoot(%s): %v", s, err)
		}
		rpctest.Check(t, fmt.Sprintf("FindRoot(%s)", s), rpctest.Want("dir", r.Dir, proj), rpctest.Want("marker", r.Marker, "module.xml"),
			rpctest.Want("isIrisProject", r.IsIrisProject, true))
	}
	// A relative path resolves against the working directory.
	t.Chdir(filepath.Join(link, "src"))
	r, err := FindRoot(".")
	if err != nil || r.Dir != proj {
		t.Errorf("FindRoot(.) from a symlinked subfolder = %+v, %v; want Dir %s", r, err, proj)
	}
}

func TestFindRootMissingFolder(t *testing.T) {
	_, err := FindRoot(filepath.Join(tempDir(t), "does-not-exist"))
	if err == nil || !strings.Contains(err.Error(), "does-not-exist") {
		t.Fatalf("FindRoot of a missing folder: err = %v, want an error naming the folder", err)
	}
}

func TestIsObjectScriptSource(t *testing.T) {
	tests := []struct {
		content string
		want    bool
	}{
		{"Class Demo.Hello Extends %RegisteredObject\n{\n}\n", true},
		{"\ufeff/// doc\r\nClass %Demo.Hello\r\n{\r\n}\r\n", true},
		{"/* header\n   comment */\nInclude Foo\n\nClass A.B [ Abstract ]\n{}\n", true},
		{"#; comment\nROUTINE MyRtn [Type=MAC]\n", true},
		{"ROUTINE Defs [Type=INC]\n#define X 1\n", true},
		{"Class NoPackage\n{\n}\n", false},
		{latexClass, false},
		{"\\ProvidesClass{x}\nClass A.B\n", false},
		{"", false},
		{"// only comments\n; and more\n", false},
		{"#define X 1\n", false},
	}
	dir := tempDir(t)
	for i, tt := range tests {
		p := filepath.Join(dir, "f"+string(rune('a'+i))+".cls")
		if err := os.WriteFile(p, []byte(tt.content), 0o644); err != nil {
			t.Fatal(err)
		}
		if got := isObjectScriptSource(p); got != tt.want {
			t.Errorf("isObjectScriptSource(%q) = %v, want %v", tt.content, got, tt.want)
		}
	}
}

func BenchmarkFindRootLargeTree(b *testing.B) {
	dir, err := filepath.EvalSymlinks(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, ".git"), 0o755); err != nil {
		b.Fatal(err)
	}
	// 20 x 20 folders of LaTeX .cls files: the scan must stop early.
	for i := 0; i < 20; i++ {
		for j := 0; j < 20; j++ {
			d := filepath.Join(dir, "d"+string(rune('a'+i)), "e"+string(rune('a'+j)))
			if err := os.MkdirAll(d, 0o755); err != nil {
				b.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(d, "x.cls"), []byte(latexClass), 0o644); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ResetTimer()
	for b.Loop() {
		if r, err := FindRoot(dir); err != nil || r.IsIrisProject {
			b.Fatal(r, err)
		}
	}
}
