// Package dockerfile reads what iris-helper needs from a project's Dockerfile: the base image of
// its final stage, with ARG defaults and build args resolved as docker does, and whether an image
// reference names an InterSystems IRIS image. Pure: it reads bytes the caller read through the
// safe opener (workspace/projfile).
package dockerfile

import (
	"bufio"
	"bytes"
	"os"
	"strings"
)

// FinalBase is the image the final stage of the Dockerfile content builds FROM, with `$VAR`,
// `${VAR}` and `${VAR:-default}` resolved from the ARGs declared before the first FROM (the last
// declaration of a name wins) and from buildArgs (compose's build.args, `--build-arg`), which beat
// the defaults. A stage named by an earlier `FROM … AS name` resolves to that stage's base.
// target, when not "", picks the stage of that name instead of the last. "" when there is no FROM.
func FinalBase(content []byte, buildArgs map[string]string, target string) string {
	args := map[string]string{}
	stages := map[string]string{} // stage name (lower case) → its resolved base
	seenFrom := false
	base := ""
	for _, line := range instructions(content) {
		word, rest, _ := strings.Cut(line, " ")
		rest = strings.TrimSpace(rest)
		switch strings.ToUpper(word) {
		case "ARG":
			if seenFrom {
				continue // a stage's ARG does not change FROM lines
			}
			for _, decl := range strings.Fields(rest) {
				name, value, hasValue := strings.Cut(decl, "=")
				if v, ok := buildArgs[name]; ok {
					args[name] = v
				} else if hasValue {
					args[name] = unquote(value)
				} else if _, ok := args[name]; !ok {
					args[name] = ""
				}
			}
		case "FROM":
			seenFrom = true
			fields := strings.Fields(rest)
			var image, name string
			for i := 0; i < len(fields); i++ {
				f := fields[i]
				if strings.HasPrefix(f, "--") { // --platform=...
					continue
				}
				if image == "" {
					image = expand(f, args)
					continue
				}
				if strings.EqualFold(f, "AS") && i+1 < len(fields) {
					name = strings.ToLower(fields[i+1])
				}
				break
			}
			if b, ok := stages[strings.ToLower(image)]; ok {
				image = b
			}
			if name != "" {
				stages[name] = image
			}
			base = image
			if target != "" && name == strings.ToLower(target) {
				return base
			}
		}
	}
	return base
}

// instructions are the Dockerfile's instructions, one string each: comments and blank lines
// dropped, continuation lines (a trailing backslash) joined.
func instructions(content []byte) []string {
	var out []string
	var cur strings.Builder
	sc := bufio.NewScanner(bytes.NewReader(content))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if cur.Len() == 0 && (line == "" || strings.HasPrefix(line, "#")) {
			continue
		}
		if strings.HasSuffix(line, "\\") {
			cur.WriteString(strings.TrimSuffix(line, "\\"))
			cur.WriteByte(' ')
			continue
		}
		cur.WriteString(line)
		out = append(out, strings.TrimSpace(cur.String()))
		cur.Reset()
	}
	if cur.Len() > 0 {
		out = append(out, strings.TrimSpace(cur.String()))
	}
	return out
}

func unquote(s string) string {
	if len(s) >= 2 && (s[0] == '"' && s[len(s)-1] == '"' || s[0] == '\'' && s[len(s)-1] == '\'') {
		return s[1 : len(s)-1]
	}
	return s
}

// expand resolves $VAR, ${VAR}, ${VAR:-default} and ${VAR-default} from args.
func expand(s string, args map[string]string) string {
	return os.Expand(s, func(ref string) string {
		name, def, hasDef := ref, "", false
		if i := strings.Index(ref, ":-"); i >= 0 {
			name, def, hasDef = ref[:i], ref[i+2:], true
		} else if i := strings.Index(ref, "-"); i >= 0 {
			name, def, hasDef = ref[:i], ref[i+1:], true
		}
		v, ok := args[name]
		if hasDef && (!ok || v == "") {
			return def
		}
		return v
	})
}

// IsIRISImage reports whether ref names an InterSystems IRIS image: a repository whose last path
// element starts with "iris" (iris, iris-community, irishealth-community, iris-ml-community...)
// published by InterSystems (intersystemsdc/…, intersystems/…, containers.intersystems.com/…).
// Tag and digest do not matter.
func IsIRISImage(ref string) bool {
	ref = strings.ToLower(strings.TrimSpace(ref))
	if i := strings.Index(ref, "@"); i >= 0 {
		ref = ref[:i]
	}
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		ref = ref[:i]
	}
	parts := strings.Split(ref, "/")
	if len(parts) < 2 || !strings.HasPrefix(parts[len(parts)-1], "iris") {
		return false
	}
	for _, p := range parts[:len(parts)-1] {
		switch p {
		case "intersystemsdc", "intersystems", "containers.intersystems.com", "store":
		default:
			if p != "docker.io" && p != "registry-1.docker.io" {
				return false
			}
		}
	}
	for _, p := range parts[:len(parts)-1] {
		if strings.Contains(p, "intersystems") {
			return true
		}
	}
	return false
}
