package workspace

import (
	"context"
	"io"

	"github.com/iris-helper/iris-helper/dockerops"
	"github.com/iris-helper/iris-helper/registry"
)

// Kind names a way IRIS runs for a project: a Runtime implementation.
type Kind string

// Kinds of project (docs/config.md, "Kinds of project"). Each is a Runtime implementation
// (docs/architecture.md, "The runtime").
const (
	KindImage      Kind = "image"      // a plain container of an IRIS image (imageRuntime)
	KindCompose    Kind = "compose"    // the project's docker-compose file, run through `docker compose`
	KindDockerfile Kind = "dockerfile" // the project's root Dockerfile, built and run like the image kind
)

// Runtime is the way one project's IRIS runs on the Docker engine. Project drives it and keeps the
// rules around it: the registry (which host ports the project gets, port moves, restore), the
// .env, the per-project lock, the network-bind refusal, the confirmation a restart asks for, the
// status and the messages. A Runtime decides nothing of that; it does what it is told, under
// those rules, and reports what it finds. Implementations: the image kind (imageRuntime, wrapping
// dockerops), the compose kind (composeRuntime, through dockerops/compose), and kindRuntime, which
// decides a project's kind and delegates to one of them.
//
// The contract, for every implementation:
//   - It is bound to one project (its key, Root.Dir) when made, with the settings that do not
//     change between starts (image, durable data, readiness timeout...). Per call it gets a
//     RunPlan: the ports the registry gave the project and the bind address, never chosen by
//     the Runtime itself.
//   - A project may have several containers (compose services). One of them is the main one:
//     the IRIS container, whose state is the project's state (Containers.Main), whose readiness
//     ends a start and whose output Logs shows. Every container it creates carries
//     dockerops.LabelProject with the project key, so that machine-wide views (ports listing,
//     restore from labels, release of a project whose folder is gone) find them through the
//     engine without a Runtime.
//   - Start brings every container up and returns when the main one is ready. It prepares what it
//     needs first (pull, or build when the kind has a build step) and reports each step to
//     progress (dockerops.Progress; phases are dockerops.Phase). It never stops or recreates a
//     running container (Containers.Main.Outdated, then Drift, say what differs; Restart applies
//     it); it removes only what it created in the same call, or a stopped container whose data
//     survives the recreate; any other container it would have to remove is kept and reported as
//     *dockerops.KeepError, unless RunPlan.Confirm names it. A host port taken by another program
//     is *dockerops.PortTakenError naming the port (Project moves the assignment and starts
//     again). An engine that does not answer is *dockerops.UnavailableError.
//   - Stop stops every container in order (kept unless opts.Remove; opts.Purge, with Remove, also
//     deletes the data the Runtime keeps for the project, such as the durable volume).
//   - Inspect, Drift and Recreation only look: they change nothing on the engine.
//   - Watch reports the events of the project's containers and the engine going away and coming
//     back (dockerops.EventEngineDown/Up) until ctx ends; Project turns them into a new status.
//   - EnvKeys are managed .env keys the kind adds beside the host and ports (compose: the
//     project name), for Project to write with its own keys, under its sync mode and .env rules
//     (dotenv.Ports.Extra: added when missing, set when they differ; a key must be a shell name
//     and a value need no quoting). The image kind has none.
//
// Implementations are safe for concurrent use; Project serializes starts and stops.
type Runtime interface {
	// Kind is the implementation's kind.
	Kind() Kind
	// Inspect finds the project's containers on the engine now (Found false: none).
	Inspect(ctx context.Context) (Containers, error)
	// Drift lists how the running containers cs differ from what Start(plan) would create
	// (nil: a start would keep them as they are). Ports differ as dockerops.DiffPorts.
	Drift(ctx context.Context, plan RunPlan, cs Containers) ([]dockerops.Difference, error)
	// Recreation tells whether a start of plan would recreate a container, and whether its
	// data would survive; nil when it would reuse them (or there are none).
	Recreation(ctx context.Context, plan RunPlan) (*dockerops.Recreation, error)
	// Start prepares (pull or build) and starts the project's containers and waits until the
	// main one is ready; see the contract above for what it may remove.
	Start(ctx context.Context, plan RunPlan, progress func(dockerops.Progress)) (Containers, error)
	// Stop stops the project's containers (and removes them with opts.Remove).
	Stop(ctx context.Context, opts StopOptions) error
	// Watch calls onEvent for the project's containers' events and the engine's own, until ctx
	// ends; it returns when it cannot follow them (Project retries with back-off).
	Watch(ctx context.Context, onEvent func(dockerops.Event)) error
	// Logs writes the main container's output to w (follow: until ctx ends).
	Logs(ctx context.Context, follow bool, w io.Writer) error
	// EnvKeys are the managed .env keys the kind adds for plan (key → value); nil for none.
	EnvKeys(plan RunPlan) map[string]string
}

// RunPlan is what Project asks a Runtime to run: the rules' outcome for one start.
type RunPlan struct {
	// Assignment holds the host ports the registry gave the project: the IRIS pair
	// (SuperserverPort → 1972, WebPort → 52773) and, for kinds that publish more, the rest.
	Assignment  registry.Assignment
	BindAddress string // host address every port is published on
	// Confirm names the one container the user agreed may be recreated although its data does
	// not survive (RestartOptions.Confirm); "" for none.
	Confirm string
	// Build rebuilds what the kind builds even when it exists (a Rebuild); kinds without a
	// build step (the image kind) ignore it.
	Build bool
	// MergeFile is the IRIS configuration merge file that gives the instance iris-helper's
	// password for the project (credentials.go); "" for none. The image and Dockerfile kinds
	// mount it; the compose kind ignores it (a compose project's own files decide).
	MergeFile string
	// Consent is what the user allowed of a compose project beyond the allow-list for this start
	// (StartOptions.Consent); other kinds ignore it.
	Consent ConsentChoice
	// EnsurePorts (set by a start; nil elsewhere) makes the registry hold the project's pair, with
	// the start's hard preference, and exactly req.Extra (registry.Ensure): the compose kind calls
	// it once per attempt with every port the project publishes. Other kinds ignore it.
	EnsurePorts func(ctx context.Context, req registry.EnsureRequest) (registry.EnsureResult, error)
}

// Containers is what a Runtime finds of its project on the engine.
type Containers struct {
	Found   bool                // the main container exists
	Main    dockerops.Container // the IRIS container: its state is the project's, readiness and logs are its
	Service string              // the main container's service; "" for the image kind
	// ComposeProject is compose's project name for the project ("" unless the compose kind); set
	// whether or not containers were found.
	ComposeProject string
	// Others are the project's further containers (compose's other services); none for the
	// image kind.
	Others []dockerops.Container
	// Ports is every port the containers publish, the main container's IRIS pair included.
	Ports []PublishedPort
	// Notes are what the user should know about the containers (the status message): e.g. compose
	// containers started without iris-helper, or which of two IRIS-like services is used.
	Notes []string
}

// PublishedPort is one container port published on the host.
// It is also the port object of Status.Ports and of the port listing (docs/status.md).
type PublishedPort struct {
	Service       string `json:"service"`       // the compose service; "" for the image and Dockerfile kinds
	ContainerPort int    `json:"containerPort"` // e.g. 1972, 52773
	Protocol      string `json:"protocol"`      // "tcp" or "udp"
	HostPort      int    `json:"hostPort"`      // 0: not published (yet)
	HostIP        string `json:"hostIP"`        // the address it is bound on
	// PinnedHostPort is the host port the project's compose file pins for it (0: none; always 0
	// for the image and Dockerfile kinds).
	PinnedHostPort int `json:"pinnedHostPort"`
	// State is the state of the container that publishes it (running, exited, created...);
	// "missing" when there is no such container.
	State string `json:"state"`
}

// PortStateMissing is PublishedPort.State for a port whose container does not exist.
const PortStateMissing = "missing"

// HostPort is the host port published for the main container's containerPort (0 when none).
func (cs Containers) HostPort(containerPort int) int {
	for _, pp := range cs.Ports {
		if pp.Service == cs.Service && pp.ContainerPort == containerPort && pp.Protocol == "tcp" {
			return pp.HostPort
		}
	}
	return 0
}

// Logs writes the output of the project's main (IRIS) container to w; follow: until ctx ends.
// An engine that is down or hangs is reported within seconds.
func (p *Project) Logs(ctx context.Context, follow bool, w io.Writer) error {
	eng, err := p.Engine(ctx)
	if err != nil {
		return err
	}
	if err := eng.Ping(ctx); err != nil {
		return err
	}
	return p.rt.Logs(ctx, follow, w)
}
