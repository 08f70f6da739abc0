package registry

import (
	"context"
	"io/fs"
	"os"
	"time"
)

// noteOwnWrite remembers the file this handle just wrote, so that Changes does not report it.
func (r *Registry) noteOwnWrite(fi fs.FileInfo) {
	r.mu.Lock()
	r.ownWrite = fi
	r.mu.Unlock()
}

func (r *Registry) isOwnWrite(fi fs.FileInfo) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ownWrite != nil && sameVersion(r.ownWrite, fi)
}

// sameVersion compares two stats of registry.json: same file (inode / file index), size and mtime.
// Every write replaces the file by rename, so a write always yields a new inode.
func sameVersion(a, b fs.FileInfo) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
}

// Changes returns a channel that receives a value when registry.json changes on disk because
// another process (or another Registry handle) wrote, released or cleared it. Writes made through
// this handle are not reported. Several changes between two receives are merged into one. It polls
// the file's identity, size and mtime every Options.ChangesInterval (500 ms by default); the channel
// is closed when ctx is done.
func (r *Registry) Changes(ctx context.Context) <-chan struct{} {
	ch := make(chan struct{}, 1)
	last, _ := os.Stat(r.path)
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
			cur, err := os.Stat(r.path)
			if err != nil {
				cur = nil // missing: an empty registry
			}
			if sameVersion(last, cur) {
				continue
			}
			last = cur
			if cur != nil && r.isOwnWrite(cur) {
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
