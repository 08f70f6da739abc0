package workspace

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/iris-helper/iris-helper/dockerops"
	"github.com/iris-helper/iris-helper/workspace/projfile"
)

// Readiness: "ready" means IRIS answered HTTP on the web port since the container's current start
// (its StartedAt), whoever started it. A start in this process proves it by its readiness wait;
// otherwise a probe of the published web port does (dockerops.ProbeWeb, at most
// dockerops.ProbeTimeout). An answer is remembered in this process and in
// $IRIS_HELPER_HOME/ready/<8 hex of sha256(project)>.json (container id and startedAt), so that every
// process says the same and a known answer costs no probe; a file of another container or an
// older start proves nothing. Only answers are remembered: until IRIS answers, each look probes.

// Back-off of the watcher's probes of a running container that has not answered yet
// (Project.Watch): the first after readyRetryMin, then doubling up to readyRetryMax apart.
const (
	readyRetryMin = time.Second
	readyRetryMax = 5 * time.Second
)

// readyFileMax bounds the read of a readiness file (a few dozen bytes when the helper wrote it).
const readyFileMax = 4096

// readiness knows whether IRIS answered in one project's main container since it started.
// Safe for concurrent use.
type readiness struct {
	home, project string // the registry home; the project key
	probe         func(ctx context.Context, bind string, web int) error
	log           *slog.Logger

	mu   sync.Mutex
	seen readyProof // the last answer known to this process
}

// readyProof is one answer: the container (id) and the start (startedAt) it holds for. It is
// also the readiness file's content.
type readyProof struct {
	Container string    `json:"container"`
	StartedAt time.Time `json:"startedAt"`
}

func (pr readyProof) holdsFor(c dockerops.Container) bool {
	return pr.Container != "" && pr.Container == c.ID && !c.StartedAt.IsZero() && pr.StartedAt.Equal(c.StartedAt)
}

func newReadiness(home, project string, log *slog.Logger) *readiness {
	return &readiness{home: home, project: project, probe: dockerops.ProbeWeb, log: log}
}

// path is the project's readiness file under the registry home.
func (r *readiness) path() string {
	sum := sha256.Sum256([]byte(r.project))
	return filepath.Join(r.home, "ready", hex.EncodeToString(sum[:4])+".json")
}

// known reports whether IRIS answered in the running container c since its StartedAt, from what
// this process or another one recorded (no probe).
func (r *readiness) known(c dockerops.Container) bool {
	r.mu.Lock()
	seen := r.seen
	r.mu.Unlock()
	if seen.holdsFor(c) {
		return true
	}
	pr, err := r.read()
	if err != nil || !pr.holdsFor(c) {
		return false
	}
	r.mu.Lock()
	r.seen = pr
	r.mu.Unlock()
	return true
}

// Answered reports whether IRIS in the running main container c answered HTTP since its
// StartedAt: recorded (known), else one probe of the web port it publishes (bind, web, the
// host side of 52773) and, when it answers, recorded (Mark).
func (r *readiness) Answered(ctx context.Context, c dockerops.Container, bind string, web int) bool {
	if r.known(c) {
		return true
	}
	if c.ID == "" || c.StartedAt.IsZero() || r.probe(ctx, bind, web) != nil {
		return false
	}
	r.Mark(c)
	return true
}

// Mark records that IRIS in container c answered since its StartedAt (a start's readiness wait
// or a probe passed), for this process and the others.
func (r *readiness) Mark(c dockerops.Container) {
	if c.ID == "" || c.StartedAt.IsZero() {
		return
	}
	pr := readyProof{Container: c.ID, StartedAt: c.StartedAt}
	r.mu.Lock()
	r.seen = pr
	r.mu.Unlock()
	if err := r.write(pr); err != nil && r.log != nil {
		// Only a cost: another process probes once itself.
		r.log.Debug("record readiness", "project", r.project, "err", err)
	}
}

// read returns the readiness file's proof; a missing, unreadable or foreign file is an error.
func (r *readiness) read() (readyProof, error) {
	b, err := projfile.ReadFile(r.path(), readyFileMax, projfile.NoFollow)
	if err != nil {
		return readyProof{}, err
	}
	var pr readyProof
	if err := json.Unmarshal(b, &pr); err != nil {
		return readyProof{}, err
	}
	return pr, nil
}

// write replaces the readiness file atomically (a temporary file in the same folder, 0600,
// renamed over it), in a folder of its own (0700) that must be a real folder.
func (r *readiness) write(pr readyProof) error {
	dir := filepath.Dir(r.path())
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if fi, err := os.Lstat(dir); err != nil {
		return err
	} else if !fi.IsDir() {
		return fmt.Errorf("%s is not a folder", dir)
	}
	b, err := json.Marshal(pr)
	if err != nil {
		return err
	}
	return writeFileAtomic(r.path(), append(b, '\n'), 0o600)
}

// webBind is the host address the main container's web port (52773) is published on, else the
// main container's bind address.
func (cs Containers) webBind() string {
	for _, pp := range cs.Ports {
		if pp.Service == cs.Service && pp.ContainerPort == dockerops.WebContainerPort && pp.Protocol == "tcp" && pp.HostIP != "" {
			return pp.HostIP
		}
	}
	return cs.Main.BindAddress
}
