package dockerops

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/client"
)

// Event kinds delivered by Watch.
const (
	EventStart        = "start"
	EventDie          = "die"
	EventStop         = "stop"
	EventDestroy      = "destroy"
	EventHealthStatus = "health_status"
	EventEngineDown   = "engine-down" // the engine stopped answering (Err says why)
	EventEngineUp     = "engine-up"   // the engine answers again after EventEngineDown
)

// Event is one change of one of our containers, or of the engine itself.
type Event struct {
	Kind        string // Event* constants
	Project     string // from the container's label ("" for engine events)
	Container   string // container name
	ID          string
	Superserver int
	Web         int
	Health      string // for health_status: healthy|unhealthy|starting
	ExitCode    *int   // for die
	Time        time.Time
	Err         error // for engine-down
}

// Watch calls onEvent for engine events of containers with our label (start, die, stop,
// destroy, health_status) until ctx ends, and returns ctx's error. When the event stream breaks
// it reports EventEngineDown, waits for the engine (retrying with backoff), reports
// EventEngineUp and resubscribes with `since` = the last event seen, so nothing is missed.
// onEvent runs on Watch's goroutine; keep it short.
func (e *Engine) Watch(ctx context.Context, onEvent func(Event)) error {
	var since time.Time // engine time of the last event seen; zero = subscribe from now
	var lastKey string
	down := false
	var brokeAt time.Time
	backoff := 100 * time.Millisecond
	subscribe := func() error {
		sctx, cancel := context.WithCancelCause(ctx)
		defer cancel(nil)
		go e.pingUntilDown(sctx, cancel)
		filters := make(client.Filters).
			Add("type", "container").
			Add("label", LabelProject).
			Add("event", EventStart, EventDie, EventStop, EventDestroy, EventHealthStatus)
		opts := client.EventsListOptions{Filters: filters}
		if !since.IsZero() {
			opts.Since = fmt.Sprintf("%d.%09d", since.Unix(), since.Nanosecond())
		}
		res := e.cli.Events(sctx, opts)
		err := e.consume(sctx, res, func(m events.Message) {
			key := fmt.Sprintf("%d/%s/%s", m.TimeNano, m.Actor.ID, m.Action)
			if key == lastKey || (!since.IsZero() && m.TimeNano != 0 && time.Unix(0, m.TimeNano).Before(since)) {
				return
			}
			lastKey = key
			if m.TimeNano != 0 {
				since = time.Unix(0, m.TimeNano)
			}
			onEvent(toEvent(m))
		})
		if cause := context.Cause(sctx); sctx.Err() != nil && ctx.Err() == nil && cause != nil {
			err = cause // the ping found the engine gone
		}
		return err
	}
	for {
		// Ping (under its deadline) before subscribing: the subscription has no deadline, and
		// its API version negotiation would otherwise hang on a wedged engine holding the
		// client's negotiation lock, which every later ping would wait for.
		err := e.Ping(ctx)
		if err == nil {
			err = subscribe()
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !down {
			down = true
			brokeAt = time.Now().Add(-time.Second)
			onEvent(Event{Kind: EventEngineDown, Time: time.Now(), Err: e.classify(err)})
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 2*time.Second)
		// Resubscribe only once the engine answers again.
		if perr := e.Ping(ctx); perr != nil {
			continue
		}
		down = false
		backoff = 100 * time.Millisecond
		onEvent(Event{Kind: EventEngineUp, Time: time.Now()})
		if since.IsZero() {
			// nothing seen yet: replay from when the stream broke
			since = brokeAt
		}
	}
}

// pingUntilDown pings the engine every e.watchPing until ctx ends, and cancels the event
// subscription with the ping's error when one fails: a wedged engine keeps the stream (or the
// subscription request itself) open and silent, so the stream alone would never say it is gone.
func (e *Engine) pingUntilDown(ctx context.Context, cancel context.CancelCauseFunc) {
	tick := time.NewTicker(e.watchPing)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if err := e.Ping(ctx); err != nil && ctx.Err() == nil {
				cancel(err)
				return
			}
		}
	}
}

// consume reads events until the stream fails.
func (e *Engine) consume(ctx context.Context, res client.EventsResult, onMsg func(events.Message)) error {
	for {
		select {
		case m, ok := <-res.Messages:
			if !ok {
				return errors.New("event stream closed")
			}
			onMsg(m)
		case err := <-res.Err:
			return orEOF(err)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func orEOF(err error) error {
	if err == nil {
		return errors.New("event stream ended")
	}
	return err
}

func toEvent(m events.Message) Event {
	a := m.Actor.Attributes
	ev := Event{
		Kind:      string(m.Action),
		Project:   a[LabelProject],
		Container: a["name"],
		ID:        m.Actor.ID,
		Time:      time.Unix(0, m.TimeNano),
	}
	ev.Superserver, _ = strconv.Atoi(a[LabelSuperserver])
	ev.Web, _ = strconv.Atoi(a[LabelWeb])
	if h, ok := strings.CutPrefix(string(m.Action), "health_status:"); ok {
		ev.Kind = EventHealthStatus
		ev.Health = strings.TrimSpace(h)
	}
	if m.Action == events.ActionDie {
		if c, err := strconv.Atoi(a["exitCode"]); err == nil {
			ev.ExitCode = &c
		}
	}
	return ev
}
