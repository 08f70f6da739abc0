package workspace

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/iris-helper/iris-helper/workspace/projfile"
)

// Limits of composeFileRefs: a project's compose files are read through projfile (regular files
// only, bounded), and include chains are followed this deep and this wide.
const (
	maxComposeIncludeDepth = 8
	maxComposeFiles        = 64
)

// composeFileRefs reads the project's compose files (absolute paths, in compose's order) and
// those they include, and lists what `docker compose config` does not print: include and extends
// files and env_files, each resolved against the folder of the file that names it, with ${VAR}
// references expanded from env (the interpolation environment) as compose does. A file outside
// root is listed, not read. Reading follows the safety rules: projfile, regular files, bounded.
func composeFileRefs(root string, files []string, env map[string]string) (FileRefs, error) {
	refs := FileRefs{Extends: map[string][]string{}, EnvFiles: map[string][]string{}}
	in := newInsideChecker(root)
	seen := map[string]bool{}
	var read func(path string, depth int) error
	read = func(path string, depth int) error {
		if seen[path] {
			return nil
		}
		if len(seen) >= maxComposeFiles || depth > maxComposeIncludeDepth {
			return fmt.Errorf("read %s: more than %d compose files or includes nested deeper than %d", path, maxComposeFiles, maxComposeIncludeDepth)
		}
		seen[path] = true
		data, err := projfile.ReadFile(path, projfile.ComposeLimit, projfile.FollowLinks)
		if err != nil {
			return err
		}
		var doc struct {
			Include  []yaml.Node          `yaml:"include"`
			Services map[string]yaml.Node `yaml:"services"`
		}
		if err := yaml.Unmarshal(data, &doc); err != nil {
			return fmt.Errorf("read %s: %w", path, err)
		}
		dir := filepath.Dir(path)
		abs := func(p string) string {
			p = expandCompose(p, env)
			if strings.HasPrefix(p, "~/") {
				if home, err := os.UserHomeDir(); err == nil {
					p = filepath.Join(home, p[2:])
				}
			}
			if !filepath.IsAbs(p) {
				p = filepath.Join(dir, p)
			}
			return filepath.Clean(p)
		}
		for _, inc := range doc.Include {
			var paths []string
			switch inc.Kind {
			case yaml.ScalarNode:
				paths = []string{inc.Value}
			case yaml.MappingNode:
				var o struct {
					Path    yaml.Node `yaml:"path"`
					EnvFile yaml.Node `yaml:"env_file"`
				}
				if err := inc.Decode(&o); err != nil {
					return fmt.Errorf("read %s: include: %w", path, err)
				}
				paths = stringOrList(o.Path)
				for _, e := range stringOrList(o.EnvFile) {
					refs.EnvFiles[""] = append(refs.EnvFiles[""], abs(e))
				}
			}
			for _, p := range paths {
				p = abs(p)
				refs.Includes = append(refs.Includes, p)
				if in.inside(p) {
					if err := read(p, depth+1); err != nil {
						return err
					}
				}
			}
		}
		for name, node := range doc.Services {
			var s struct {
				Extends yaml.Node `yaml:"extends"`
				EnvFile yaml.Node `yaml:"env_file"`
			}
			if err := node.Decode(&s); err != nil {
				return fmt.Errorf("read %s: service %s: %w", path, name, err)
			}
			if s.Extends.Kind == yaml.MappingNode {
				var e struct {
					File string `yaml:"file"`
				}
				if err := s.Extends.Decode(&e); err == nil && e.File != "" {
					f := abs(e.File)
					refs.Extends[name] = append(refs.Extends[name], f)
					if in.inside(f) {
						if err := read(f, depth+1); err != nil {
							return err
						}
					}
				}
			}
			switch s.EnvFile.Kind {
			case yaml.ScalarNode:
				refs.EnvFiles[name] = append(refs.EnvFiles[name], abs(s.EnvFile.Value))
			case yaml.SequenceNode:
				for _, e := range s.EnvFile.Content {
					switch e.Kind {
					case yaml.ScalarNode:
						refs.EnvFiles[name] = append(refs.EnvFiles[name], abs(e.Value))
					case yaml.MappingNode:
						var o struct {
							Path string `yaml:"path"`
						}
						if err := e.Decode(&o); err == nil && o.Path != "" {
							refs.EnvFiles[name] = append(refs.EnvFiles[name], abs(o.Path))
						}
					}
				}
			}
		}
		return nil
	}
	for _, f := range files {
		if err := read(f, 0); err != nil {
			return FileRefs{}, err
		}
	}
	return refs, nil
}

func stringOrList(n yaml.Node) []string {
	switch n.Kind {
	case yaml.ScalarNode:
		return []string{n.Value}
	case yaml.SequenceNode:
		var out []string
		for _, c := range n.Content {
			if c.Kind == yaml.ScalarNode {
				out = append(out, c.Value)
			}
		}
		return out
	}
	return nil
}

// expandCompose resolves $VAR, ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?err} and $$ as
// compose's interpolation does, from env.
func expandCompose(s string, env map[string]string) string {
	s = strings.ReplaceAll(s, "$$", "\x00")
	out := os.Expand(s, func(ref string) string {
		for _, op := range []string{":-", "-", ":?", "?", ":+", "+"} {
			if i := strings.Index(ref, op); i > 0 {
				name, arg := ref[:i], ref[i+len(op):]
				v, ok := env[name]
				switch op {
				case ":-":
					if v == "" {
						return arg
					}
				case "-":
					if !ok {
						return arg
					}
				case ":+":
					if v != "" {
						return arg
					}
					return ""
				case "+":
					if ok {
						return arg
					}
					return ""
				}
				return v
			}
		}
		return env[ref]
	})
	return strings.ReplaceAll(out, "\x00", "$")
}
