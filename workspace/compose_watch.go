package workspace

import (
	"context"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
)

// modelDebounce is how long the model watch waits after a file event before it reloads (an
// editor's save is several events).
const modelDebounce = 150 * time.Millisecond

// watchModel decides the project's kind and loads its compose model when a watch begins, and
// again whenever a file the model reads changes (compose files, .env, env_files, included and
// extended files, Dockerfiles, .iris-helper.json), so the status reflects an edit within a second. A status itself never
// spawns a process; this is where the model's child runs.
func (p *Project) watchModel(ctx context.Context) {
	k, ok := p.rt.(*kindRuntime)
	if !ok || k.composeCandidate() == nil {
		return
	}
	if err := k.resolve(ctx); err != nil {
		p.log.Debug("load the compose model", "project", p.root.Dir, "err", err)
	}
	p.publish()
	w, err := fsnotify.NewWatcher()
	if err != nil {
		p.log.Warn("cannot watch the compose files; edits show at the next start", "err", err)
		return
	}
	defer w.Close()
	watched := map[string]bool{}
	inputs := map[string]bool{}
	rewatch := func() {
		files := []string{filepath.Join(p.root.Dir, ConfigFileName), p.envPath()}
		for _, n := range []string{"compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml",
			"compose.override.yaml", "compose.override.yml", "docker-compose.override.yaml", "docker-compose.override.yml"} {
			files = append(files, filepath.Join(p.root.Dir, n))
		}
		if cm, _ := k.compose.cached(); cm != nil {
			files = append(files, cm.inputs...)
			for _, s := range cm.model.Services {
				files = append(files, s.EnvFiles()...)
			}
		}
		clear(inputs)
		for _, f := range files {
			inputs[filepath.Clean(f)] = true
			d := filepath.Dir(f)
			if !watched[d] {
				if err := w.Add(d); err == nil {
					watched[d] = true
				}
			}
		}
	}
	rewatch()
	var fire <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-w.Events:
			if !ok {
				return
			}
			if inputs[filepath.Clean(ev.Name)] {
				fire = time.After(modelDebounce)
			}
		case err, ok := <-w.Errors:
			if !ok {
				return
			}
			p.log.Debug("compose file watch", "err", err)
		case <-fire:
			fire = nil
			k.compose.invalidate()
			if err := k.resolve(ctx); err != nil {
				p.log.Debug("reload the compose model", "project", p.root.Dir, "err", err)
			}
			rewatch()
			p.publish()
		}
	}
}

// composeRefInputs are the files the model of cm reads that `docker compose config` does not
// print: included and extended compose files and env_files (composeFileRefs reads the compose
// files through projfile, bounded), those inside root only. They are inputs of the model like the
// compose files: watched, and part of the cache's stamps. A failure to list them (the start's
// allow-list reports it) lists none.
func composeRefInputs(root string, cm *composeModel) []string {
	env := map[string]string{}
	for _, kv := range cm.interp {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	refs, err := composeFileRefs(root, cm.files, env)
	if err != nil {
		return nil
	}
	in := newInsideChecker(root)
	files := slices.Clone(refs.Includes)
	for _, name := range slices.Sorted(maps.Keys(refs.Extends)) {
		files = append(files, refs.Extends[name]...)
	}
	for _, name := range slices.Sorted(maps.Keys(refs.EnvFiles)) {
		files = append(files, refs.EnvFiles[name]...)
	}
	var out []string
	for _, f := range files {
		if in.inside(f) && !slices.Contains(out, f) && !slices.Contains(cm.inputs, f) {
			out = append(out, f)
		}
	}
	return out
}
