package dockertest

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/client"
)

// FailingStubImage returns the tag of a stand-in image whose containers fail the STUB_FAIL way
// (testdata/iris-stub: "exit", "never-ready", …) without being told at run time: the stand-in
// image (StubImage) with STUB_FAIL set in its own environment, tagged
// iris-helper/iris-stub:fail-<fail>. A test that drives the real CLI, which passes no test
// switches to its containers, starts this image to see a start fail for real. The build is one
// ENV layer on the stand-in (cached by the engine); the image is kept, as the stand-in is.
func FailingStubImage(t testing.TB, fail string) string {
	t.Helper()
	base := StubImage(t)
	tag := "iris-helper/iris-stub:fail-" + strings.NewReplacer("=", "-", ",", "-").Replace(fail)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dockerfile := []byte(fmt.Sprintf("FROM %s\nENV STUB_FAIL=%s\n", base, fail))
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: "Dockerfile", Mode: 0o644, Size: int64(len(dockerfile)), ModTime: time.Unix(0, 0)}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write(dockerfile); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	res, err := Engine(t).Client().ImageBuild(ctx, &buf, client.ImageBuildOptions{
		Tags: []string{tag}, Remove: true, ForceRemove: true, Dockerfile: "Dockerfile",
	})
	if err != nil {
		t.Fatalf("docker build %s: %v", tag, err)
	}
	defer res.Body.Close()
	dec := json.NewDecoder(res.Body)
	for {
		var m jsonstream.Message
		if err := dec.Decode(&m); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("docker build %s: %v", tag, err)
		}
		if m.Error != nil {
			t.Fatalf("docker build %s: %s", tag, m.Error.Message)
		}
	}
	return tag
}
