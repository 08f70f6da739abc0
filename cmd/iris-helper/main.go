// Command iris-helper gives each InterSystems IRIS project on a machine its own port pair,
// runs the project's IRIS container on those ports, keeps the project's .env in step, and
// serves editors over JSON-RPC (LSP-shaped) on stdio. This package holds flags and wiring only.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
