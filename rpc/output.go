package rpc

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"
)

// DefaultQueueBytes bounds the frames waiting for the client to read them (4 MiB).
const DefaultQueueBytes = 4 << 20

// DefaultWriteTimeout is how long one write to the client may stay blocked before the output
// counts as gone (a client that stopped reading): the session then ends as on EPIPE.
const DefaultWriteTimeout = 30 * time.Second

// writeChunk is the most one guarded write hands to the client at once (a pipe's buffer): a write
// of this size that does not finish within the write timeout means the client does not read.
const writeChunk = 64 << 10

// ErrStreamClosed is returned by writes once the stream is closed or its output has failed.
var ErrStreamClosed = errors.New("rpc: stream closed")

// output is the stream's bounded write queue and its writer goroutine. Frames are written in
// the order they were queued. A frame waits for room (put with wait) or is dropped when the queue
// is full (put without wait: the reader's own answers, which must never stop it from reading).
// The queue is never longer than its byte cap, except for one frame larger than the cap alone.
type output struct {
	w       io.Writer
	closer  io.Closer
	max     int
	timeout time.Duration
	logger  *slog.Logger

	mu      sync.Mutex
	cond    *sync.Cond
	queue   [][]byte
	queued  int   // bytes queued or being written
	closed  bool  // no more frames accepted; the writer drains the queue and ends
	err     error // the output failed: nothing more is written
	dropped int   // answers dropped since the queue was last empty

	broken chan struct{} // closed when err is set
	done   chan struct{} // closed when the writer has ended
}

func newOutput(w io.Writer, closer io.Closer, max int, timeout time.Duration, logger *slog.Logger) *output {
	o := &output{w: w, closer: closer, max: max, timeout: timeout, logger: logger,
		broken: make(chan struct{}), done: make(chan struct{})}
	o.cond = sync.NewCond(&o.mu)
	go o.run()
	return o
}

// put queues one frame. With wait it blocks while the queue is full; without, a full queue drops
// the frame (dropped reports it). err is non-nil (wrapping ErrStreamClosed) once the stream is
// closed or the output failed.
func (o *output) put(frame []byte, wait bool) (dropped bool, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for {
		switch {
		case o.err != nil:
			return false, fmt.Errorf("%w: %w", ErrStreamClosed, o.err)
		case o.closed:
			return false, ErrStreamClosed
		case o.queued == 0 || o.queued+len(frame) <= o.max:
			o.queue = append(o.queue, frame)
			o.queued += len(frame)
			o.cond.Broadcast()
			return false, nil
		case !wait:
			o.dropped++
			if o.dropped == 1 {
				o.logger.Warn("the client does not read its answers: the output queue is full; answers to its extra or bad requests are dropped until it reads again",
					"queued", o.queued)
			}
			return true, nil
		}
		o.cond.Wait()
	}
}

// close stops accepting frames; the writer still writes what is queued, then ends.
func (o *output) close() {
	o.mu.Lock()
	o.closed = true
	o.cond.Broadcast()
	o.mu.Unlock()
}

// fail records the first failure of the output and releases everyone waiting on it.
func (o *output) fail(err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.err != nil {
		return
	}
	o.err = err
	close(o.broken)
	o.cond.Broadcast()
}

// failure returns why the output failed, or nil.
func (o *output) failure() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.err
}

func (o *output) run() {
	defer close(o.done)
	defer func() {
		if o.closer != nil {
			_ = o.closer.Close()
		}
	}()
	bw := bufio.NewWriterSize(guardedWriter{o}, writeChunk)
	for {
		o.mu.Lock()
		for len(o.queue) == 0 && !o.closed && o.err == nil {
			o.cond.Wait()
		}
		if o.err != nil || len(o.queue) == 0 {
			o.mu.Unlock()
			return // failed, or closed and drained
		}
		batch := o.queue
		o.queue = nil
		o.mu.Unlock()

		n := 0
		var err error
		for _, f := range batch {
			if _, err = bw.Write(f); err != nil {
				break
			}
			n += len(f)
		}
		if err == nil {
			err = bw.Flush()
		}
		if err != nil {
			o.fail(err)
			return
		}
		o.mu.Lock()
		o.queued -= n
		if o.dropped > 0 && o.queued == 0 {
			o.logger.Warn("the client reads again", "droppedAnswers", o.dropped)
			o.dropped = 0
		}
		o.cond.Broadcast()
		o.mu.Unlock()
	}
}

// StalledError is the failure of an output that stayed blocked for the write timeout.
type StalledError struct{ Timeout time.Duration }

func (e *StalledError) Error() string {
	return fmt.Sprintf("the client has not read its output for %s", e.Timeout)
}

// guardedWriter writes to the client in chunks, each of which must finish within the timeout.
// A blocked write cannot be interrupted; it is declared failed, and the session ends without it.
type guardedWriter struct{ o *output }

func (g guardedWriter) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		chunk := p[:min(len(p), writeChunk)]
		timer := time.AfterFunc(g.o.timeout, func() { g.o.fail(&StalledError{Timeout: g.o.timeout}) })
		n, err := g.o.w.Write(chunk)
		timer.Stop()
		written += n
		if err == nil && n < len(chunk) {
			err = io.ErrShortWrite
		}
		if err != nil {
			return written, err
		}
		if err := g.o.failure(); err != nil {
			return written, err // declared stalled while this write was finishing
		}
		p = p[n:]
	}
	return written, nil
}
