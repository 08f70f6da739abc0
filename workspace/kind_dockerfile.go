package workspace

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"

	"github.com/iris-helper/iris-helper/workspace/dockerfile"
	"github.com/iris-helper/iris-helper/workspace/projfile"
)

// DockerfileName is the file a Dockerfile project is built from, at the project root.
const DockerfileName = "Dockerfile"

// composeFileNames are the compose files compose itself looks for at a project root; any of them
// makes the project a compose one, never a Dockerfile one.
var composeFileNames = []string{"compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml"}

// dockerfileKind tells whether the project at root is of the Dockerfile kind by its files: a
// root Dockerfile (a regular file, read through projfile, at most projfile.ComposeLimit) whose
// final stage builds FROM an InterSystems IRIS image (ARG defaults resolved: the last `ARG IMAGE=`
// before FROM wins), and no compose file at the root. reason says why, in words for the status
// ("the Dockerfile builds FROM intersystemsdc/iris-community", "no Dockerfile at the project
// root", ...). err is a Dockerfile that cannot be read as one (a link, a FIFO, too large): the
// user fixes the file, or names the kind in .iris-helper.json. `kind` in .iris-helper.json is the
// caller's: it forces the kind whatever this says.
func dockerfileKind(root string) (ok bool, reason string, err error) {
	for _, name := range composeFileNames {
		if found, _ := projfile.IsRegular(filepath.Join(root, name), projfile.FollowLinks); found {
			return false, fmt.Sprintf("a compose file (%s) is at the project root", name), nil
		}
	}
	path := filepath.Join(root, DockerfileName)
	data, err := projfile.ReadFile(path, projfile.ComposeLimit, projfile.NoFollow)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false, "no Dockerfile at the project root", nil
	case err != nil:
		var nr *projfile.NotRegularError
		var tl *projfile.TooLargeError
		if errors.As(err, &nr) || errors.As(err, &tl) {
			return false, "", err // names the file
		}
		return false, "", fmt.Errorf("read %s: %w", path, projfile.WithoutPath(err))
	}
	base := dockerfile.FinalBase(data, nil, "")
	switch {
	case base == "":
		return false, "the Dockerfile has no FROM line", nil
	case !dockerfile.IsIRISImage(base):
		return false, fmt.Sprintf("the Dockerfile builds FROM %s, not an InterSystems IRIS image", base), nil
	}
	return true, "the Dockerfile builds FROM " + base, nil
}
