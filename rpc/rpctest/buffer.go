package rpctest

import (
	"bytes"
	"sync"
)

// Buffer is an output sink that one goroutine may write (a logger, a subprocess's stderr, a
// command's stdout) while the test reads it from another. The zero value is empty and ready.
// It is here because this package imports nothing of the module: every package's tests can
// import it, registry's and rpc's own included.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
