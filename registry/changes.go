package registry

import (
	"bytes"
	"context"
	"time"
)

// noteOwnWrite remembers the content this handle just wrote, so that Changes does not report it.
func (r *Registry) noteOwnWrite(data []byte) {
	r.mu.Lock()
	r.ownWrite = data
	r.mu.Unlock()
}

// consumeOwnWrite reports whether data is what this handle last wrote, and forgets it when it is.
func (r *Registry) consumeOwnWrite(data []byte) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ownWrite != nil && bytes.Equal(r.ownWrite, data) {
		r.ownWrite = nil
		return true
	}
	return false
}

// sameContent compares two reads of registry.json (nil: missing or unreadable).
func sameContent(a, b []byte) bool { return (a == nil) == (b == nil) && bytes.Equal(a, b) }

// Changes returns a channel that receives a value when registry.json changes on disk because
// another process (or another Registry handle) wrote, released or cleared it. Writes made through
// this handle are not reported. Several changes between two receives are merged into one. It reads
// the file every Options.ChangesInterval (500 ms by default) and compares its bytes with the last
// read: a change is seen even when the new file has the old one's size, mtime and inode. The
// channel is closed when ctx is done.
func (r *Registry) Changes(ctx context.Context) <-chan struct{} {
	ch := make(chan struct{}, 1)
	last, _ := r.readRaw()
	go func() {
		defer close(ch)
		t := time.NewTicker(r.pollEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			cur, err := r.readRaw()
			if err != nil {
				cur = nil // unreadable: reported by the next operation
			}
			if sameContent(last, cur) {
				continue
			}
			last = cur
			if cur != nil && r.consumeOwnWrite(cur) {
				continue
			}
			select {
			case ch <- struct{}{}:
			default: // a notification is already pending
			}
		}
	}()
	return ch
}
