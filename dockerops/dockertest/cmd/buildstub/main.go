// Command buildstub builds the stand-in IRIS image (testdata/iris-stub) exactly as the tests do:
//
//	go run ./dockerops/dockertest/cmd/buildstub [-tag iris-helper/iris-stub:dev] [-force]
//
// It is what `make stub-image` runs.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/iris-helper/iris-helper/dockerops"
	"github.com/iris-helper/iris-helper/dockerops/dockertest"
)

func main() {
	tag := flag.String("tag", dockertest.StubTag, "image tag")
	force := flag.Bool("force", false, "rebuild even when the image matches the sources")
	verbose := flag.Bool("v", false, "show the docker build output")
	flag.Parse()
	if err := run(*tag, *force, *verbose); err != nil {
		fmt.Fprintln(os.Stderr, "buildstub:", err)
		os.Exit(1)
	}
}

func run(tag string, force, verbose bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	e, err := dockerops.Connect(ctx)
	if err != nil {
		return err
	}
	defer e.Close()
	if err := e.Ping(ctx); err != nil {
		return err
	}
	var w io.Writer = io.Discard
	if verbose {
		w = os.Stderr
	}
	if _, err := dockertest.EnsureStub(ctx, e.Client(), tag, force, w); err != nil {
		return err
	}
	fmt.Println("built", tag)
	return nil
}
