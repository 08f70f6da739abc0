package workspace

import (
	"bytes"
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/iris-helper/iris-helper/dockerops"
)

// Watch: every status change and message goes to every Watch caller.

// watcher delivers to one Watch caller, one callback at a time, in order.
type watcher struct {
	onStatus  func(Status)
	onMessage func(Message)
	kick      chan struct{}
	envKick   chan struct{} // tells watchEnv that the assignment may have changed
	mu        sync.Mutex
	msgs      []Message
}

func (w *watcher) signal() {
	for _, c := range []chan struct{}{w.kick, w.envKick} {
		select {
		case c <- struct{}{}:
		default:
		}
	}
}

// publish tells every watcher that the status may have changed.
func (p *Project) publish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for w := range p.watchers {
		w.signal()
	}
}

// message sends m to every watcher (and logs it).
func (p *Project) message(m Message) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for w := range p.watchers {
		w.mu.Lock()
		w.msgs = append(w.msgs, m)
		w.mu.Unlock()
		w.signal()
	}
}

// deliver runs until ctx is done: on every kick it hands queued messages to onMessage and the
// current status to onStatus when it differs from the last one delivered. While the container
// runs and IRIS has not answered yet (starting/waiting), it looks again with back-off
// (readyRetryMin doubling to readyRetryMax), each look a probe, so that "ready" is pushed
// when IRIS answers.
func (p *Project) deliver(ctx context.Context, w *watcher) {
	var last []byte
	var retry <-chan time.Time
	backoff := readyRetryMin
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.kick:
		case <-retry:
		}
		w.mu.Lock()
		msgs := w.msgs
		w.msgs = nil
		w.mu.Unlock()
		for _, m := range msgs {
			if w.onMessage != nil {
				w.onMessage(m)
			}
		}
		st := p.Status(ctx)
		if ctx.Err() != nil {
			return
		}
		if st.State == StateStarting && st.Phase == dockerops.PhaseWaiting {
			retry = time.After(backoff)
			backoff = min(backoff*2, readyRetryMax)
		} else {
			retry, backoff = nil, readyRetryMin
		}
		b, _ := json.Marshal(st)
		if !bytes.Equal(b, last) {
			last = b
			if w.onStatus != nil {
				w.onStatus(st)
			}
		}
	}
}

// Watch reports every change of the project's status to onStatus (only when the status object
// changed) and what the user should know to onMessage, until ctx is done. Callbacks run one at a
// time, in order, never concurrently with each other. It follows the engine's events for the
// project's container (stopped or removed outside the helper), engine loss and recovery (with
// back-off), registry changes by other processes, starts and stops in this process, and the
// project's .env (a user's port request goes through the registry). Several Watch calls may run.
func (p *Project) Watch(ctx context.Context, onStatus func(Status), onMessage func(Message)) error {
	w := &watcher{onStatus: onStatus, onMessage: onMessage, kick: make(chan struct{}, 1), envKick: make(chan struct{}, 1)}
	p.mu.Lock()
	p.watchers[w] = struct{}{}
	w.msgs = p.kindMessages() // the settings warnings said before this watcher came
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.watchers, w)
		p.mu.Unlock()
	}()
	w.signal() // the first status

	var wg sync.WaitGroup
	run := func(f func(context.Context)) {
		wg.Add(1)
		go func() { defer wg.Done(); f(ctx) }()
	}
	run(func(ctx context.Context) { p.deliver(ctx, w) })
	run(p.watchEngine)
	run(p.watchRegistry)
	run(func(ctx context.Context) { p.watchEnv(ctx, w.envKick) })
	run(p.watchModel) // compose projects: the model, loaded off the status path
	wg.Wait()
	return nil
}

// watchRegistry publishes a new status whenever registry.json changes on disk.
func (p *Project) watchRegistry(ctx context.Context) {
	ch := p.reg.Changes(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case _, ok := <-ch:
			if !ok {
				return
			}
			p.publish()
		}
	}
}

// watchEngine follows the engine's events for the project's container. The engine's Watch
// reports the engine going away and coming back (it retries with back-off); both become a
// message and a new status.
func (p *Project) watchEngine(ctx context.Context) {
	backoff := time.Second
	for ctx.Err() == nil {
		err := p.rt.Watch(ctx, func(ev dockerops.Event) {
			switch ev.Kind {
			case dockerops.EventEngineDown:
				text := "the Docker engine stopped answering"
				if ev.Err != nil {
					text = ev.Err.Error()
				}
				p.message(Message{Level: LevelError, Text: text})
			case dockerops.EventEngineUp:
				p.message(Message{Level: LevelInfo, Text: "the Docker engine answers again"})
			}
			p.publish()
		})
		if ctx.Err() != nil {
			return
		}
		p.log.Debug("engine watch ended; retrying", "err", err, "in", backoff)
		p.publish()
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, maxEngineBackoff)
	}
}
