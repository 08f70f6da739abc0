// Package workspace is the project being worked on: root detection (FindRoot), the
// project's settings file (.iris-helper.json, LoadConfig), and the story of one project
// (Project: start, stop, status, watch, and its .env kept in step with its assigned ports, whose
// file format lives in workspace/dotenv), which the CLI and the JSON-RPC server share.
package workspace

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/iris-helper/iris-helper/workspace/dotenv"
	"github.com/iris-helper/iris-helper/workspace/projfile"
)

// ConfigFileName is the optional per-project settings file.
const ConfigFileName = ".iris-helper.json"

// Root is the folder FindRoot chose as the project and why.
type Root struct {
	// Dir is the project folder: absolute, cleaned, symlinks resolved. It is the
	// project's key in the port registry.
	Dir string
	// Marker names what decided: ".iris-helper.json", "docker-compose.yml",
	// "compose.yaml", "Dockerfile", ".env", "module.xml", "iris.script", ".git",
	// or "" when nothing was found and Dir is the starting folder itself.
	Marker string
	// IsIrisProject reports whether the folder is an InterSystems IRIS project: an
	// IRIS marker decided, or ObjectScript sources lie within a few levels of Dir.
	// Only IRIS projects are started automatically.
	IsIrisProject bool
}

// Limits of the ObjectScript source scan, so that FindRoot stays fast in big trees.
const (
	sourceScanMaxDepth = 3        // folder levels below Dir
	sourceScanMaxFiles = 64       // .cls/.mac/.inc files opened
	sourceScanMaxDirs  = 2000     // folders visited
	markerReadLimit    = 1 << 20  // bytes read from the start of a compose file, Dockerfile or .env
	sourceReadLimit    = 64 << 10 // bytes read from the start of a .cls/.mac/.inc file
)

// irisMarkers are checked in this order in every folder; the first present one decides.
// Compose files and Dockerfiles count only when they name an IRIS image, a .env only
// when it has an IRIS_ key.
var irisMarkers = []struct {
	name  string
	check func(path string) bool
}{
	{"docker-compose.yml", namesIrisImage},
	{"docker-compose.yaml", namesIrisImage},
	{"compose.yaml", namesIrisImage},
	{"compose.yml", namesIrisImage},
	{"Dockerfile", namesIrisImage},
	{".env", hasIrisEnvKey},
	{"module.xml", isMarkerFile},
	{"iris.script", isMarkerFile},
}

// FindRoot walks up from dir and returns the project folder: the nearest folder holding
// .iris-helper.json; else the nearest folder holding an IRIS marker; else the git root;
// else dir itself. dir may also name a file, whose folder is used.
//
// The walk stops at the nearest folder holding .git and never enters a folder that
// walkLimits.stopAt names a reason for ($HOME, a filesystem root, a folder someone else may write):
// a file there does not belong to the project (docs/config.md, "Which folder is the
// project"). dir itself is always looked at. Files are read through projfile: a marker that
// is not a regular file (a FIFO, socket, device or directory, also behind a link) is no
// marker, and is never waited on.
func FindRoot(dir string) (Root, error) {
	return findRoot(dir, currentLimits(), true)
}

// findRoot is FindRoot with the walk's limits given; scan says whether IsIrisProject is worked
// out by the source scan when no marker decided.
func findRoot(dir string, lim walkLimits, scan bool) (Root, error) {
	start, err := canonicalDir(dir)
	if err != nil {
		return Root{}, err
	}
	var marker, git Root
	for d := start; ; {
		if isMarkerFile(filepath.Join(d, ConfigFileName)) {
			return Root{Dir: d, Marker: ConfigFileName, IsIrisProject: true}, nil
		}
		if marker.Dir == "" {
			for _, m := range irisMarkers {
				if m.check(filepath.Join(d, m.name)) {
					marker = Root{Dir: d, Marker: m.name, IsIrisProject: true}
					break
				}
			}
		}
		if isGitDir(d) {
			git = Root{Dir: d, Marker: ".git"}
			break // nothing above the repository belongs to it
		}
		parent := filepath.Dir(d)
		if parent == d || lim.stopAt(parent) != StopNone {
			break
		}
		d = parent
	}
	root := Root{Dir: start}
	switch {
	case marker.Dir != "":
		return marker, nil
	case git.Dir != "":
		root = git
	}
	if scan {
		root.IsIrisProject = hasObjectScriptSources(root.Dir)
	}
	return root, nil
}

// NoFolderError says that the folder named as (or in) the project does not exist. It satisfies
// errors.Is(err, fs.ErrNotExist).
type NoFolderError struct {
	Dir string // as named
	// Key is the project key the folder had, were it a project root: its absolute path with the
	// links of its nearest existing ancestor resolved, as FindRoot resolved them ("" if unknown).
	// It still names the registry assignment of a project whose folder is gone.
	Key string
}

func (e *NoFolderError) Error() string {
	return fmt.Sprintf("find the project of %s: no such folder", e.Dir)
}
func (e *NoFolderError) Unwrap() error { return fs.ErrNotExist }

// canonicalDir makes dir absolute, resolves symlinks and cleans it; a file gives its folder.
func canonicalDir(dir string) (string, error) {
	if dir == "" {
		dir = "."
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("find the project of %s: %w", dir, err)
	}
	real, err := filepath.EvalSymlinks(abs)
	if errors.Is(err, fs.ErrNotExist) {
		return "", &NoFolderError{Dir: dir, Key: missingKey(abs)}
	}
	if err != nil {
		return "", fmt.Errorf("find the project of %s: %w", dir, err) // the error names the path
	}
	fi, err := os.Stat(real)
	if err != nil {
		return "", err // names the path
	}
	if !fi.IsDir() {
		real = filepath.Dir(real)
	}
	return filepath.Clean(real), nil
}

// missingKey is abs with the links of its longest existing prefix resolved and the rest as given:
// the key of a folder that does not exist, and where a path of a compose file would be created.
func missingKey(abs string) string {
	rest := ""
	for d := abs; ; {
		if real, err := filepath.EvalSymlinks(d); err == nil {
			return filepath.Join(real, rest)
		}
		parent := filepath.Dir(d)
		if parent == d {
			return abs
		}
		rest = filepath.Join(filepath.Base(d), rest)
		d = parent
	}
}

// isMarkerFile reports whether path names a regular file (through a link too). It does not
// open the file, so a FIFO or device named like a marker is neither waited on nor opened.
func isMarkerFile(path string) bool {
	ok, err := projfile.IsRegular(path, projfile.FollowLinks)
	return ok && err == nil
}

// isGitDir reports whether dir holds .git: a folder, or the file of a worktree or submodule.
func isGitDir(dir string) bool {
	fi, err := os.Stat(filepath.Join(dir, ".git"))
	return err == nil && (fi.IsDir() || fi.Mode().IsRegular())
}

// irisImage matches the names of InterSystems IRIS images (official and community).
var irisImage = regexp.MustCompile(`(?i)intersystems(dc)?/iris|iris-community|irishealth`)

// readMarker reads at most limit bytes from the start of a regular file. Anything else (missing,
// a FIFO, socket, device or directory, also behind a link) is no marker: the Stat before the open
// keeps devices from being opened at all, and projfile's O_NONBLOCK open and fstat catch a file
// swapped in between.
func readMarker(path string, limit int64) ([]byte, bool) {
	if !isMarkerFile(path) {
		return nil, false
	}
	b, err := projfile.ReadPrefix(path, limit, projfile.FollowLinks)
	return b, err == nil
}

func namesIrisImage(path string) bool {
	b, ok := readMarker(path, markerReadLimit)
	return ok && irisImage.Match(b)
}

func hasIrisEnvKey(path string) bool {
	b, ok := readMarker(path, markerReadLimit)
	if !ok {
		return false
	}
	return dotenv.HasKey(b, func(key string) bool { return strings.HasPrefix(key, "IRIS_") })
}

var errScanDone = errors.New("scan done")

// hasObjectScriptSources reports whether a .cls/.mac/.inc file whose first code line is
// an ObjectScript Class or ROUTINE header lies within sourceScanMaxDepth levels of dir.
// Dependency, VCS and hidden folders are skipped and the number of files read is capped.
func hasObjectScriptSources(dir string) bool {
	found, files, dirs := false, 0, 0
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			if path == dir {
				return nil
			}
			dirs++
			name := d.Name()
			if dirs > sourceScanMaxDirs {
				return errScanDone
			}
			if name == "node_modules" || name == "vendor" || strings.HasPrefix(name, ".") ||
				strings.Count(path[len(dir):], string(filepath.Separator)) > sourceScanMaxDepth {
				return fs.SkipDir
			}
			return nil
		}
		switch strings.ToLower(filepath.Ext(d.Name())) {
		case ".cls", ".mac", ".inc":
		default:
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		files++
		if isObjectScriptSource(path) {
			found = true
			return errScanDone
		}
		if files >= sourceScanMaxFiles {
			return errScanDone
		}
		return nil
	})
	return found
}

var (
	classHeader   = regexp.MustCompile(`^(?i:class)\s+%?[A-Za-z][A-Za-z0-9]*(\.%?[A-Za-z0-9]+)+(\s|$)`)
	routineHeader = regexp.MustCompile(`^(?i:routine)\s+%?[A-Za-z0-9][A-Za-z0-9.]*(\s|$)`)
	headerPrelude = regexp.MustCompile(`^(?i:include|import|includegenerator)(\s|$)`)
)

// isObjectScriptSource reports whether the first code line of the file is a Class or
// ROUTINE header. Comments (///, //, ;, #;), blank lines and Include/Import lines are skipped.
func isObjectScriptSource(path string) bool {
	// The walk passes only entries that are regular files themselves (no links); NoFollow and
	// the fstat in projfile hold that even if the entry is replaced meanwhile.
	b, err := projfile.ReadPrefix(path, sourceReadLimit, projfile.NoFollow)
	if err != nil {
		return false
	}
	b = bytes.TrimPrefix(b, projfile.BOM)
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), sourceReadLimit)
	inBlock := false
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if inBlock {
			if i := strings.Index(line, "*/"); i >= 0 {
				inBlock = false
				line = strings.TrimSpace(line[i+2:])
			} else {
				continue
			}
		}
		switch {
		case line == "",
			strings.HasPrefix(line, "//"),
			strings.HasPrefix(line, ";"),
			strings.HasPrefix(line, "#;"),
			headerPrelude.MatchString(line):
			continue
		case strings.HasPrefix(line, "/*"):
			if !strings.Contains(line[2:], "*/") {
				inBlock = true
			}
			continue
		}
		return classHeader.MatchString(line) || routineHeader.MatchString(line)
	}
	return false
}
