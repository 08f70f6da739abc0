package workspace

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/iris-helper/iris-helper/dockerops"
	"github.com/iris-helper/iris-helper/dockerops/compose"
	"github.com/iris-helper/iris-helper/registry"
)

// composeRuntime is the compose kind: the project's own compose files run through the user's
// `docker compose` with one override file written under IRIS_HELPER_HOME (the registry's ports on
// the bind address, iris-helper's labels, restart unless-stopped). Inspect, Watch and Logs go
// through the engine by iris-helper's labels (no compose process); Start, Stop and the model are
// compose children (dockerops/compose).
type composeRuntime struct {
	root, home   string
	cfg          Config
	engine       func(context.Context) (*dockerops.Engine, error)
	dockerPath   string // the editor's irisHelper.dockerPath ("" = docker on PATH)
	readyTimeout time.Duration
	syncOff      bool // env sync false: the name is passed with -p only (terminal compose will not find it)
	log          *slog.Logger
	// registered lists the projects the registry holds (Project's registry), for the project
	// name rule; nil: none are looked at.
	registered func(context.Context) ([]string, error)

	mu        sync.Mutex
	cli       *compose.CLI
	cur       *composeModel // the cached model (nil: not loaded)
	curErr    error         // the last load's failure
	stale     bool          // a file the model reads changed since cur was loaded
	triedDisk bool          // the model kept by another process's load was looked for
	name      string        // compose project name decided by the last start ("" none yet)
	renamed   bool          // name had to change: another folder uses compose's own
	removed   []string      // the volumes the last Stop with Purge removed
	// portNotes say which soft preferences the last start could not honour (the status message
	// until the next start).
	portNotes []string
	// noSoftPair: a pair port the files pin was found taken at up; the retry after the move
	// (start.go's Reassign) asks for no pin of the pair (a later start asks again).
	noSoftPair bool
}

// Labels of the override on every service of a compose project (besides dockerops' project, role,
// pair and bind labels), so the machine-wide views and restore-from-labels know every port with
// no compose process and no model: labelExtraPorts lists the project's extra ports
// ("iris/53773/tcp=12000,web/80/tcp=12001"), labelPinned the host ports its compose files pin
// ("iris/52773/tcp=52773,web/80/tcp=8080").
const (
	labelExtraPorts = "dev.iris-helper.extra"
	labelPinned     = "dev.iris-helper.pinned"
)

// portKey is the registry's key of a published container port: service/containerPort/protocol.
func portKey(service string, containerPort int, protocol string) string {
	return fmt.Sprintf("%s/%d/%s", service, containerPort, protocol)
}

// isPairPort: containerPort/protocol of the IRIS service is one of the registry's pair.
func isPairPort(containerPort int, protocol string) bool {
	return protocol == "tcp" && (containerPort == dockerops.SuperserverContainerPort || containerPort == dockerops.WebContainerPort)
}

// portRequest is what a start of cm asks the registry for: the host ports the IRIS service pins
// for 1972 and 52773 as the pair's soft preferences (unless noSoftPair),
// and every other published container port of any service as an extra key with the host port the
// files pin as its soft preference; pinned maps each key (the pair's too) to its pin.
func portRequest(cm *composeModel, noSoftPair bool) (req registry.EnsureRequest, pinned map[string]int) {
	pinned = map[string]int{}
	for _, name := range cm.model.ServiceNames() {
		for _, p := range cm.model.Services[name].Ports {
			k := portKey(name, p.Target, p.Proto())
			if _, dup := pinned[k]; dup {
				continue // the same container port published twice gets one stable port
			}
			pin := p.PublishedPort()
			pinned[k] = pin
			if name == cm.service && isPairPort(p.Target, p.Proto()) {
				if pin != 0 && !noSoftPair {
					if p.Target == dockerops.SuperserverContainerPort {
						req.Soft.Superserver = pin
					} else {
						req.Soft.Web = pin
					}
				}
				continue
			}
			req.Extra = append(req.Extra, registry.ExtraRequest{Key: k, Preferred: pin})
		}
	}
	return req, pinned
}

// softPortNotes say, for each preference the registry did not honour, which port the files pin,
// which the project got, and why.
func softPortNotes(res registry.EnsureResult, irisService string) []string {
	var out []string
	for _, o := range res.Ports {
		if o.Preferred == 0 || o.Honoured() {
			continue
		}
		key := o.Key
		switch o.Key {
		case registry.KeySuperserver:
			key = portKey(irisService, dockerops.SuperserverContainerPort, "tcp")
		case registry.KeyWeb:
			key = portKey(irisService, dockerops.WebContainerPort, "tcp")
		}
		out = append(out, fmt.Sprintf("the compose files pin host port %d for %s; it is on %d instead: %s",
			o.Preferred, key, o.Port, conflictReason(o.Preferred, o.Conflict)))
	}
	return out
}

// conflictReason words who holds a pinned port (the registry's ConflictError, whose own message
// ends with a remedy for a port the user chose).
func conflictReason(port int, c *registry.ConflictError) string {
	switch {
	case c == nil:
		return fmt.Sprintf("port %d is not free", port)
	case c.HolderProject != "" && c.HolderKey != "":
		return fmt.Sprintf("port %d is held by project %s (%s)", port, c.HolderProject, c.HolderKey)
	case c.HolderProject != "":
		return fmt.Sprintf("port %d is held by project %s", port, c.HolderProject)
	case c.Holder == "another process" || c.Holder == "":
		return fmt.Sprintf("port %d is in use by another process on this host", port)
	default:
		return fmt.Sprintf("port %d is in use by %s", port, c.Holder)
	}
}

// encodePorts is a label value: key=port, ordered by key.
func encodePorts(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k, v := range m {
		if v != 0 {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + strconv.Itoa(m[k])
	}
	return strings.Join(parts, ",")
}

// decodePorts reads a label encodePorts wrote (what does not parse is left out: labels are input).
func decodePorts(v string) map[string]int {
	out := map[string]int{}
	for _, part := range strings.Split(v, ",") {
		k, n, ok := strings.Cut(part, "=")
		port, err := strconv.Atoi(n)
		if ok && k != "" && err == nil && port > 0 && port <= 65535 {
			out[k] = port
		}
	}
	return out
}

// ensurePorts is RunPlan.EnsurePorts of a start: registry.Ensure with the start's hard preference
// (the flags', else .iris-helper.json's ports), under the restore rule of a corrupt registry.
func (p *Project) ensurePorts(ctx context.Context, req registry.EnsureRequest) (registry.EnsureResult, error) {
	req.Hard = p.preferred()
	var res registry.EnsureResult
	err := p.withRegistry(ctx, func() (err error) {
		res, err = p.reg.Ensure(ctx, p.root.Dir, req)
		return err
	})
	return res, err
}

// ComposePortTakenError means compose could not publish a port of the project although the
// registry gave it (it moved once already): who holds it, where the OS tells.
type ComposePortTakenError struct {
	Project string
	Port    int
	Key     string // the extra port's key ("" when the port is not one of the project's)
	Holder  string // registry.PortHolder's name of the process ("" when the OS does not tell)
	Err     error  // compose's error (not a *dockerops.PortTakenError: the start must not move the pair for it)
}

func (e *ComposePortTakenError) Error() string {
	what := fmt.Sprintf("port %d", e.Port)
	if e.Key != "" {
		what += " (" + e.Key + ")"
	}
	return fmt.Sprintf("%s of the compose project of %s is taken by %s; stop it, or start again to move the port", what, e.Project, holderText(e.Holder))
}

func (e *ComposePortTakenError) Unwrap() error { return e.Err }

// holderText is a port's holder as the OS names it, else "another process on this host".
func holderText(holder string) string {
	if holder == "" {
		return "another process on this host"
	}
	return holder
}

// softPortTakenError is a pair port that compose found taken at up although the registry gave it
// as the files' pin (a manual assignment made by a soft preference): the start moves the project
// as for an automatic one.
type softPortTakenError struct{ *dockerops.PortTakenError }

func (e *softPortTakenError) Unwrap() error { return e.PortTakenError }

var _ Runtime = (*composeRuntime)(nil)

func (r *composeRuntime) Kind() Kind { return KindCompose }

// findCLI is the user's Docker Compose, found once.
func (r *composeRuntime) findCLI(ctx context.Context) (*compose.CLI, error) {
	r.mu.Lock()
	c := r.cli
	r.mu.Unlock()
	if c != nil {
		return c, nil
	}
	c, err := compose.Find(ctx, r.dockerPath)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.cli = c
	r.mu.Unlock()
	return c, nil
}

// load reads the model through a compose child and caches it (the one place a model is loaded).
func (r *composeRuntime) load(ctx context.Context) (*composeModel, error) {
	cli, err := r.findCLI(ctx)
	if err == nil {
		var cm *composeModel
		cm, err = loadComposeModel(ctx, cli, r.root, r.home, r.cfg)
		r.mu.Lock()
		if cm != nil {
			r.cur = cm
		}
		r.curErr, r.stale = err, false
		r.mu.Unlock()
		if err == nil {
			return cm, nil
		}
		return cm, err
	}
	r.mu.Lock()
	r.curErr = err
	r.mu.Unlock()
	return nil, err
}

// cached is the model as last loaded, without loading (a status never spawns a process): in a
// process that has not loaded it, the one another process's load kept, while nothing it was read
// from changed.
func (r *composeRuntime) cached() (*composeModel, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cur == nil && r.curErr == nil && !r.triedDisk {
		r.triedDisk = true
		r.cur = cachedComposeModel(r.root, r.home, r.cfg)
	}
	return r.cur, r.curErr
}

// fresh is the cached model when no file it reads changed since, else a new load.
func (r *composeRuntime) fresh(ctx context.Context) (*composeModel, error) {
	_, _ = r.cached()
	r.mu.Lock()
	cm, err, stale := r.cur, r.curErr, r.stale
	r.mu.Unlock()
	if cm != nil && err == nil && !stale {
		return cm, nil
	}
	return r.load(ctx)
}

// invalidate marks the model stale (a file it reads changed).
func (r *composeRuntime) invalidate() {
	r.mu.Lock()
	r.stale, r.triedDisk = true, true
	r.mu.Unlock()
}

// projectName is compose's name for the project: the one the last start decided, else the
// model's, else compose's rule on the environment and folder.
func (r *composeRuntime) projectName() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.name != "" {
		return r.name
	}
	if r.cur != nil {
		return r.cur.model.Name
	}
	return composeNameFromEnv(r.root, readProjectEnv(r.cfg.EnvPath(r.root)))
}

// decideName keeps compose's project name unless another folder uses it: a container of another
// folder (com.docker.compose.project.working_dir), or another registered compose project whose
// name compose's rule gives the same (two clones of one template, the other one down just now);
// then the name gets the project's hash.
func (r *composeRuntime) decideName(ctx context.Context, eng *dockerops.Engine, cm *composeModel) (string, bool, error) {
	name := cm.model.Name
	renamed := name + "-" + dockerops.ProjectHash(r.root)
	cs, err := eng.Containers(ctx, dockerops.LabelComposeProject+"="+name)
	if err != nil {
		return "", false, err
	}
	ours := false
	for _, c := range cs {
		wd := filepath.Clean(c.Labels[dockerops.LabelComposeWorkingDir])
		if c.Labels[dockerops.LabelComposeWorkingDir] != "" && wd != r.root {
			return renamed, true, nil
		}
		ours = ours || wd == r.root
	}
	if r.registered != nil && !ours { // the project's own containers have the name already: it stays
		others, err := r.registered(ctx)
		if err != nil {
			return "", false, err
		}
		for _, other := range others {
			if other == r.root || !hasComposeFile(other, Config{}) {
				continue
			}
			if composeNameFromEnv(other, readProjectEnv(filepath.Join(other, DefaultEnvFile))) == name {
				return renamed, true, nil
			}
		}
	}
	return name, false, nil
}

// project is the compose project for a command.
func (r *composeRuntime) project(cm *composeModel, name string) compose.Project {
	return compose.Project{Dir: r.root, Files: cm.files, EnvFile: cm.envFile, Name: name, Env: cm.childEnv,
		Override: filepath.Join(composeStateDir(r.home, r.root), "override.yml")}
}

// ComposeHostNetworkError means a service with network_mode host publishes ports: its ports
// cannot be moved onto the registry's.
type ComposeHostNetworkError struct {
	Project, Service string
}

func (e *ComposeHostNetworkError) Error() string {
	return fmt.Sprintf("service %s of the compose project of %s uses network_mode: host and publishes ports; iris-helper cannot give them stable host ports (remove network_mode or the ports)",
		e.Service, e.Project)
}

// override is the override file for a start of plan: every published port on the bind address on
// its stable port (the IRIS service's pair on the registry's pair, every other one on its extra
// port: plan.Assignment.Extra), iris-helper's labels on every service (the extra ports and the
// files' pins among them, for restore and the port listing),
// restart unless-stopped for always, and container_name reset where another folder holds it.
func (r *composeRuntime) override(ctx context.Context, eng *dockerops.Engine, cm *composeModel, plan RunPlan, pinned map[string]int) (compose.Override, []string, error) {
	bind := plan.BindAddress
	if bind == "" {
		bind = DefaultBindAddress
	}
	var notes []string
	o := compose.Override{}
	extra := map[string]int{}
	for _, x := range plan.Assignment.Extra {
		extra[x.Key] = x.Port
	}
	extraLabel, pinnedLabel := encodePorts(extra), encodePorts(pinned)
	for _, name := range cm.model.ServiceNames() {
		s := cm.model.Services[name]
		if s.NetworkMode == "host" && len(s.Ports) > 0 {
			return nil, nil, &ComposeHostNetworkError{Project: r.root, Service: name}
		}
		role := dockerops.RoleService
		if name == cm.service {
			role = dockerops.RoleIRIS
		}
		so := compose.ServiceOverride{Labels: map[string]string{
			dockerops.LabelProject:     r.root,
			dockerops.LabelRole:        role,
			dockerops.LabelSuperserver: strconv.Itoa(plan.Assignment.SuperserverPort),
			dockerops.LabelWeb:         strconv.Itoa(plan.Assignment.WebPort),
			dockerops.LabelBind:        bind,
			dockerops.LabelModel:       cm.hash,
		}}
		if extraLabel != "" {
			so.Labels[labelExtraPorts] = extraLabel
		}
		if pinnedLabel != "" {
			so.Labels[labelPinned] = pinnedLabel
		}
		if s.Restart == "always" {
			so.Restart = "unless-stopped"
		}
		var ports []compose.Binding
		seen := map[string]bool{}
		addPort := func(b compose.Binding) {
			k := fmt.Sprintf("%d/%s", b.ContainerPort, b.Protocol)
			if !seen[k] {
				seen[k] = true
				ports = append(ports, b)
			}
		}
		if name == cm.service {
			addPort(compose.Binding{HostIP: bind, HostPort: plan.Assignment.SuperserverPort, ContainerPort: dockerops.SuperserverContainerPort, Protocol: "tcp"})
			addPort(compose.Binding{HostIP: bind, HostPort: plan.Assignment.WebPort, ContainerPort: dockerops.WebContainerPort, Protocol: "tcp"})
		}
		for _, p := range s.Ports {
			// its extra port (0, Docker's pick, only for a start without the registry: no EnsurePorts)
			addPort(compose.Binding{HostIP: bind, HostPort: extra[portKey(name, p.Target, p.Proto())], ContainerPort: p.Target, Protocol: p.Proto()})
		}
		if len(ports) > 0 {
			so.Ports = ports
		}
		if s.ContainerName != "" {
			c, found, err := eng.ContainerByName(ctx, s.ContainerName)
			if err != nil {
				return nil, nil, err
			}
			if found && c.Labels[dockerops.LabelComposeWorkingDir] != r.root {
				so.ResetContainerName = true
				notes = append(notes, fmt.Sprintf("container name %s of service %s is taken by a container of another folder; compose names this project's container after the project instead", s.ContainerName, name))
			}
		}
		o[name] = so
	}
	return o, notes, nil
}

// containers are the project's containers now: iris-helper's by label, else (a `docker compose
// up` run without the override) compose's by project name and working_dir.
func (r *composeRuntime) containers(ctx context.Context, eng *dockerops.Engine) ([]dockerops.Container, bool, error) {
	cs, err := eng.Containers(ctx, dockerops.LabelProject+"="+r.root)
	if err != nil || len(cs) > 0 {
		return cs, false, err
	}
	name := r.projectName()
	all, err := eng.Containers(ctx, dockerops.LabelComposeProject+"="+name)
	if err != nil {
		return nil, false, err
	}
	var mine []dockerops.Container
	for _, c := range all {
		if filepath.Clean(c.Labels[dockerops.LabelComposeWorkingDir]) == r.root {
			mine = append(mine, c)
		}
	}
	return mine, len(mine) > 0, nil
}

func (r *composeRuntime) Inspect(ctx context.Context) (Containers, error) {
	eng, err := r.engine(ctx)
	if err != nil {
		return Containers{}, err
	}
	cm, _ := r.cached()
	list, external, err := r.containers(ctx, eng)
	if err != nil {
		return Containers{}, err
	}
	out := Containers{ComposeProject: r.projectName()}
	if cm != nil {
		out.Service = cm.service
		if cm.serviceNote != "" {
			out.Notes = append(out.Notes, cm.serviceNote)
		}
		for _, k := range cm.containerPortKeys {
			out.Notes = append(out.Notes, fmt.Sprintf("the compose files use %s as a container port, so iris-helper does not write the host port into it in .env", k))
		}
	}
	for _, c := range list {
		if p := c.Labels[dockerops.LabelComposeProject]; p != "" {
			out.ComposeProject = p
		}
		svc := c.Labels[dockerops.LabelComposeService]
		isMain := c.Labels[dockerops.LabelRole] == dockerops.RoleIRIS || (out.Service != "" && svc == out.Service && !out.Found)
		if isMain && !out.Found {
			out.Found, out.Main, out.Service = true, c, svc
			if c.BindAddress == "" {
				out.Main.BindAddress = hostIPOf(c)
			}
		} else {
			out.Others = append(out.Others, c)
		}
	}
	if !out.Found && out.Service == "" && len(list) > 0 && external {
		// started without the override and no model yet: the one named iris, else none
		for i, c := range out.Others {
			if c.Labels[dockerops.LabelComposeService] == "iris" {
				out.Found, out.Main, out.Service = true, c, "iris"
				out.Main.BindAddress = hostIPOf(c)
				out.Others = append(out.Others[:i:i], out.Others[i+1:]...)
				break
			}
		}
	}
	out.Ports = r.publishedPorts(cm, out)
	if external {
		out.Notes = append(out.Notes, fmt.Sprintf("the containers of compose project %s were started without iris-helper (a docker compose up without its override): they publish their own ports and lack iris-helper's labels; stop them and start with iris-helper to put them back on the registry's ports", out.ComposeProject))
	}
	r.mu.Lock()
	renamed, name := r.renamed, r.name
	out.Notes = append(out.Notes, r.portNotes...)
	r.mu.Unlock()
	switch {
	case renamed && r.syncOff:
		out.Notes = append(out.Notes, fmt.Sprintf("containers of another folder use this project's compose name, so it runs as %s; env sync is false, so COMPOSE_PROJECT_NAME is not written into .env: docker compose in a terminal in this folder will not find the containers (pass -p %s)", name, name))
	case renamed:
		out.Notes = append(out.Notes, fmt.Sprintf("containers of another folder use this project's compose name, so it runs as %s, written as COMPOSE_PROJECT_NAME into .env (created for it when missing) so that docker compose in a terminal finds the containers", name))
	}
	return out, nil
}

// hostIPOf is the address c's web port is published on ("" when none).
func hostIPOf(c dockerops.Container) string {
	for _, p := range c.Ports {
		if p.ContainerPort == dockerops.WebContainerPort && p.HostIP != "" {
			return p.HostIP
		}
	}
	return ""
}

// publishedPorts is every port the containers publish, and the ports of services without a
// container as missing (from the model), with the host port the compose file pins.
func (r *composeRuntime) publishedPorts(cm *composeModel, cs Containers) []PublishedPort {
	pinned := map[string]int{}
	if cm != nil {
		for n, s := range cm.model.Services {
			for _, p := range s.Ports {
				pinned[fmt.Sprintf("%s/%d/%s", n, p.Target, p.Proto())] = p.PublishedPort()
			}
		}
	}
	var out []PublishedPort
	have := map[string]bool{}
	all := append([]dockerops.Container{}, cs.Others...)
	if cs.Found {
		all = append([]dockerops.Container{cs.Main}, all...)
	}
	for _, c := range all {
		pins := pinned
		if cm == nil { // no model in this process yet: the pins the override labelled
			pins = decodePorts(c.Labels[labelPinned])
		}
		for _, pp := range containerPublished(c, pins) {
			have[portKey(pp.Service, pp.ContainerPort, pp.Protocol)] = true
			out = append(out, pp)
		}
	}
	if cm != nil {
		var missing []PublishedPort
		for _, n := range cm.model.ServiceNames() {
			if n == cm.service {
				continue // the pair comes from the assignment (statusPorts)
			}
			for _, p := range cm.model.Services[n].Ports {
				k := fmt.Sprintf("%s/%d/%s", n, p.Target, p.Proto())
				if !have[k] {
					have[k] = true
					missing = append(missing, PublishedPort{Service: n, ContainerPort: p.Target, Protocol: p.Proto(),
						PinnedHostPort: p.PublishedPort(), State: PortStateMissing})
				}
			}
		}
		out = append(out, missing...)
	}
	sortPorts(out)
	return out
}

// sortPorts orders published ports by service, then container port (the status's order).
func sortPorts(ps []PublishedPort) {
	sort.SliceStable(ps, func(i, j int) bool {
		if ps[i].Service != ps[j].Service {
			return ps[i].Service < ps[j].Service
		}
		return ps[i].ContainerPort < ps[j].ContainerPort
	})
}

// DiffModel is a Difference of a compose project: the model or override changed since its
// containers were created.
const DiffModel = "model"

func (r *composeRuntime) Drift(ctx context.Context, plan RunPlan, cs Containers) ([]dockerops.Difference, error) {
	if !cs.Found {
		return nil, nil
	}
	cm, _ := r.cached()
	if cm == nil {
		return nil, nil
	}
	var out []dockerops.Difference
	if h := cs.Main.Labels[dockerops.LabelModel]; h != "" && h != cm.hash {
		out = append(out, dockerops.Difference{Kind: DiffModel, Text: "an older version of the compose files"})
	}
	if b := cs.Main.BindAddress; plan.BindAddress != "" && b != "" && b != plan.BindAddress {
		out = append(out, dockerops.Difference{Kind: dockerops.DiffBindAddress, Text: "bind address " + b + " instead of " + plan.BindAddress})
	}
	// an extra port the registry moved (a pin became free, a port was taken) while the containers ran
	want := map[string]int{}
	for _, x := range plan.Assignment.Extra {
		want[x.Key] = x.Port
	}
	for _, pp := range cs.Ports {
		k := portKey(pp.Service, pp.ContainerPort, pp.Protocol)
		if n, ok := want[k]; ok && pp.HostPort != 0 && pp.HostPort != n && pp.State == "running" {
			out = append(out, dockerops.Difference{Kind: DiffExtraPort, Text: fmt.Sprintf("%s on %d instead of %d", k, pp.HostPort, n)})
		}
	}
	return out, nil
}

// DiffExtraPort is a Difference of a compose project: a running container publishes one of its
// other ports on another host port than the registry's.
const DiffExtraPort = "extra-port"

// Recreation is nil: a compose project's own files decide where its data lives (its volumes), so
// a restart recreates its containers without asking (docs/config.md).
func (r *composeRuntime) Recreation(context.Context, RunPlan) (*dockerops.Recreation, error) {
	return nil, nil
}

var boundPort = regexp.MustCompile(`(?:Bind for [^ ]*:|0\.0\.0\.0:|127\.\d+\.\d+\.\d+:|\]:)(\d{1,5})\b.*(?:port is already allocated|address already in use)`)

// Start runs `docker compose up -d` with the override and waits until the IRIS container is
// ready. A running IRIS container is not recreated (--no-recreate; the drift is reported);
// Build rebuilds and recreates (--build --force-recreate).
func (r *composeRuntime) Start(ctx context.Context, plan RunPlan, progress func(dockerops.Progress)) (Containers, error) {
	if progress == nil {
		progress = func(dockerops.Progress) {}
	}
	cm, err := r.fresh(ctx)
	if err != nil {
		return Containers{}, err
	}
	cli, err := r.findCLI(ctx)
	if err != nil {
		return Containers{}, err
	}
	env := map[string]string{}
	for _, kv := range cm.interp {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	allowed, err := checkComposeModel(r.home, r.root, cm.files, env, cm.model, plan.Consent)
	if err != nil {
		return Containers{}, err
	}
	for _, it := range allowed { // an explicit start allows what it lists, and says it
		progress(dockerops.Progress{Phase: dockerops.PhaseCreating, Message: "allowed for this project: " + it.Text})
	}
	eng, err := r.engine(ctx)
	if err != nil {
		return Containers{}, err
	}
	name, renamed, err := r.decideName(ctx, eng, cm)
	if err != nil {
		return Containers{}, err
	}
	r.mu.Lock()
	r.name, r.renamed = name, renamed
	r.mu.Unlock()
	r.mu.Lock()
	noSoftPair := r.noSoftPair
	r.noSoftPair = false
	r.mu.Unlock()
	req, pinned := portRequest(cm, noSoftPair)
	before, err := r.Inspect(ctx)
	if err != nil {
		return Containers{}, err
	}
	running := before.Found && before.Main.Running()
	// One registry.Ensure per attempt with every published port; a port compose finds taken
	// although the registry gave it moves (Avoid) and the up is tried once more.
	var moved *ComposePortTakenError // the extra port the last attempt found taken
	for attempt := 0; ; attempt++ {
		var res registry.EnsureResult
		if plan.EnsurePorts != nil {
			if res, err = plan.EnsurePorts(ctx, req); err != nil {
				return Containers{}, err
			}
			plan.Assignment = res.Assignment
		}
		notes := softPortNotes(res, cm.service)
		if moved != nil {
			for _, x := range plan.Assignment.Extra {
				if x.Key == moved.Key {
					n := fmt.Sprintf("port %d of %s was taken by %s between assignment and start; moved it to %d", moved.Port, moved.Key, holderText(moved.Holder), x.Port)
					r.log.Warn(n, "project", r.root)
					notes = append(notes, n)
				}
			}
		}
		for _, x := range res.Released {
			r.log.Info("released an extra port no longer in the compose files", "project", r.root, "key", x.Key, "port", x.Port)
		}
		r.mu.Lock()
		r.portNotes = notes
		r.mu.Unlock()
		o, onotes, err := r.override(ctx, eng, cm, plan, pinned)
		if err != nil {
			return Containers{}, err
		}
		for _, n := range append(notes, onotes...) {
			progress(dockerops.Progress{Phase: dockerops.PhaseCreating, Warning: n})
		}
		proj := r.project(cm, name)
		if err := writeStateFile(proj.Override, o.YAML()); err != nil {
			return Containers{}, fmt.Errorf("write the override file of %s: %w", r.root, err)
		}
		err = r.runUp(ctx, cli, proj, plan, running, progress)
		var taken *dockerops.PortTakenError
		if !errors.As(err, &taken) {
			if err != nil {
				return Containers{}, err
			}
			break
		}
		a := plan.Assignment
		if taken.Port == a.SuperserverPort || taken.Port == a.WebPort {
			if (taken.Port == req.Soft.Superserver || taken.Port == req.Soft.Web) && plan.EnsurePorts != nil {
				// the files' pin, taken after all: start.go moves the pair; the retry asks for a slot
				r.mu.Lock()
				r.noSoftPair = true
				r.mu.Unlock()
				return Containers{}, &softPortTakenError{taken}
			}
			return Containers{}, taken
		}
		key := ""
		for _, x := range a.Extra {
			if x.Port == taken.Port {
				key = x.Key
			}
		}
		if attempt > 0 || plan.EnsurePorts == nil || key == "" {
			return Containers{}, &ComposePortTakenError{Project: r.root, Port: taken.Port, Key: key, Holder: registry.PortHolder(taken.Port), Err: taken.Err}
		}
		moved = &ComposePortTakenError{Project: r.root, Port: taken.Port, Key: key, Holder: registry.PortHolder(taken.Port)}
		req.Avoid = append(req.Avoid, taken.Port)
		running = false
	}
	cs, err := r.Inspect(ctx)
	if err != nil {
		return Containers{}, err
	}
	if !cs.Found {
		return cs, fmt.Errorf("docker compose up left no container of service %s for %s", cm.service, r.root)
	}
	// Only the output of the container's current run counts (a restarted one logged the ready
	// line of its earlier run too): what it logged after its previous run ended.
	since := cs.Main.FinishedAt
	if err := eng.WaitReady(ctx, cs.Main, cs.Main.BindAddress, cs.HostPort(dockerops.WebContainerPort), r.readyTimeout, since, progress); err != nil {
		return cs, err
	}
	return r.Inspect(ctx)
}

// runUp runs one `docker compose up` of a start, keeping its output as the build log and as
// progress: a port found taken is *dockerops.PortTakenError, a failed build *dockerops.BuildError.
func (r *composeRuntime) runUp(ctx context.Context, cli *compose.CLI, proj compose.Project, plan RunPlan, running bool, progress func(dockerops.Progress)) error {
	// A running project is never recreated by a start (--no-recreate; Drift reports what differs);
	// a stopped or missing one lets compose recreate what changed (a Restart applies new ports so);
	// Build rebuilds and recreates.
	opts := compose.UpOptions{Timeout: r.readyTimeout + 30*time.Minute, Build: plan.Build, ForceRecreate: plan.Build}
	log, logErr := dockerops.CreateBuildLog(filepath.Join(r.home, "builds", dockerops.BuildLogName(r.root)))
	if logErr != nil {
		r.log.Warn("cannot keep the build log", "err", logErr)
	}
	bp := dockerops.NewBuildProgress(func(pr dockerops.Progress) {
		pr.Phase = phaseOfLine(pr.Message)
		progress(pr)
	}, 0)
	err := r.up(ctx, cli, proj, opts, running && !plan.Build, func(line string) {
		if log != nil {
			_, _ = log.Write([]byte(line + "\n"))
		}
		_, _ = bp.Write([]byte(line + "\n"))
	})
	_ = bp.Close()
	if log != nil {
		_ = log.Close()
	}
	if err == nil {
		return nil
	}
	var ce *compose.Error
	if errors.As(err, &ce) {
		if m := boundPort.FindStringSubmatch(strings.Join(ce.Lines, "\n")); m != nil {
			port, _ := strconv.Atoi(m[1])
			return &dockerops.PortTakenError{Port: port, Err: err}
		}
		if isBuildOutput(bp.LastLines()) {
			be := &dockerops.BuildError{LastLines: bp.LastLines(), Err: ce.Err}
			if log != nil {
				be.Log = log.Path()
			}
			return be
		}
	}
	return err
}

// up runs compose up; running: the IRIS container runs (--no-recreate).
func (r *composeRuntime) up(ctx context.Context, cli *compose.CLI, p compose.Project, o compose.UpOptions, running bool, onLine func(string)) error {
	if running {
		o.ForceRecreate = false
		return cli.Up(ctx, p, o, onLine)
	}
	return cli.UpRecreateChanged(ctx, p, o, onLine)
}

// phaseOfLine is the start's phase a line of compose's output belongs to.
func phaseOfLine(line string) dockerops.Phase {
	l := strings.ToLower(line)
	switch {
	case strings.Contains(l, "pull"):
		return dockerops.PhasePulling
	case strings.Contains(l, "build") || strings.HasPrefix(l, "#"):
		return dockerops.PhaseBuilding
	case strings.Contains(l, "start"):
		return dockerops.PhaseStarting
	default:
		return dockerops.PhaseCreating
	}
}

func isBuildOutput(lines []string) bool {
	for _, l := range lines {
		if strings.HasPrefix(l, "#") || strings.Contains(l, "failed to solve") || strings.Contains(strings.ToLower(l), "build") {
			return true
		}
	}
	return false
}

// Stop stops the project's containers through the engine API (what `docker compose stop` does,
// with no child process, so stopOnExit needs none), iris-helper's and those a `docker compose up`
// started without the override; Remove runs `docker compose down`, Purge `down -v` (the removed
// volumes are kept for RemovedVolumes).
func (r *composeRuntime) Stop(ctx context.Context, opts StopOptions) error {
	eng, err := r.engine(ctx)
	if err != nil {
		return err
	}
	list, _, err := r.containers(ctx, eng)
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.removed = nil
	r.mu.Unlock()
	if !opts.Remove {
		// the IRIS service last: the services that use it stop first
		sort.SliceStable(list, func(i, j int) bool {
			return list[i].Labels[dockerops.LabelRole] != dockerops.RoleIRIS && list[j].Labels[dockerops.LabelRole] == dockerops.RoleIRIS
		})
		var ids []string
		for _, c := range list {
			if c.Running() || c.State == "restarting" || c.State == "paused" {
				ids = append(ids, c.ID)
			}
		}
		return eng.StopContainers(ctx, ids, dockerops.DefaultStopTimeout)
	}
	cli, err := r.findCLI(ctx)
	if err != nil {
		return err
	}
	cm, err := r.fresh(ctx)
	if cm == nil {
		return err
	}
	name := r.projectName()
	for _, c := range list {
		if p := c.Labels[dockerops.LabelComposeProject]; p != "" {
			name = p
		}
	}
	proj := r.project(cm, name)
	proj.Override = "" // down needs no override, and it may be gone
	removed, err := cli.Down(ctx, proj, opts.Purge, nil)
	r.mu.Lock()
	r.removed = removed
	r.mu.Unlock()
	return err
}

// RemovedVolumes are the volumes the last Stop with Purge removed.
func (r *composeRuntime) RemovedVolumes() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.removed...)
}

// PurgeVolumes are the named volumes a purge would delete: the model's own (not external) that
// exist on the engine.
func (r *composeRuntime) PurgeVolumes(ctx context.Context) ([]string, error) {
	cm, err := r.fresh(ctx)
	if err != nil {
		return nil, err
	}
	eng, err := r.engine(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, k := range sortedKeys(cm.model.Volumes) {
		v := cm.model.Volumes[k]
		if v.External {
			continue
		}
		n := v.Name
		if n == "" {
			n = r.projectName() + "_" + k
		}
		if ok, err := eng.VolumeExists(ctx, n); err != nil {
			return nil, err
		} else if ok {
			out = append(out, n)
		}
	}
	return out, nil
}

func (r *composeRuntime) Watch(ctx context.Context, onEvent func(dockerops.Event)) error {
	eng, err := r.engine(ctx)
	if err != nil {
		return err
	}
	return eng.Watch(ctx, func(ev dockerops.Event) {
		if ev.Kind == dockerops.EventEngineDown || ev.Kind == dockerops.EventEngineUp || ev.Project == r.root {
			onEvent(ev)
		}
	})
}

func (r *composeRuntime) Logs(ctx context.Context, follow bool, w io.Writer) error {
	cs, err := r.Inspect(ctx)
	if err != nil {
		return err
	}
	if !cs.Found {
		return fmt.Errorf("project %s has no container of its IRIS service (start it first)", r.root)
	}
	eng, err := r.engine(ctx)
	if err != nil {
		return err
	}
	return eng.ContainerLogs(ctx, cs.Main.ID, follow, w)
}

// EnvKeys: COMPOSE_PROJECT_NAME when compose's own name had to change, so that docker compose in
// a terminal and the ObjectScript extension address the same containers.
func (r *composeRuntime) EnvKeys(RunPlan) map[string]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.renamed || r.name == "" {
		return nil
	}
	return map[string]string{"COMPOSE_PROJECT_NAME": r.name}
}

// skipEnvKeys are the managed .env keys a sync must not write (used as container ports).
func (r *composeRuntime) skipEnvKeys() []string {
	cm, _ := r.cached()
	if cm == nil {
		return nil
	}
	return cm.containerPortKeys
}
