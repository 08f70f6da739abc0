package dockerops_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iris-helper/iris-helper/dockerops"
	"github.com/iris-helper/iris-helper/dockerops/dockertest"
	"github.com/iris-helper/iris-helper/rpc/rpctest"
	"github.com/moby/moby/client"
)

// TestPullWithProgress pulls the stand-in image from a tiny registry on 127.0.0.1 (the engine
// treats loopback registries as insecure-allowed), so the pull path and its progress callback
// run for real without internet.
func TestPullWithProgress(t *testing.T) {
	t.Parallel()
	e, img, p := setup(t)
	ctx := testCtx(t)
	reg := newTestRegistry(t, e, img, 30300)
	ref := fmt.Sprintf("127.0.0.1:30300/iris-stub:pull-%d", time.Now().UnixNano())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = dockertest.RemoveProject(ctx, e.Client(), p) // the container first, so the image goes entirely
		if _, err := e.Client().ImageRemove(ctx, ref, client.ImageRemoveOptions{Force: true, PruneChildren: true}); err != nil {
			t.Errorf("remove pulled image: %v", err)
		}
	})
	var mu sync.Mutex
	var msgs []dockerops.Progress
	c, err := e.Start(ctx, dockerops.Spec{Project: p, Image: ref, Superserver: 30301, Web: 30302, ReadyTimeout: time.Minute},
		func(pr dockerops.Progress) {
			mu.Lock()
			defer mu.Unlock()
			msgs = append(msgs, pr)
		})
	if err != nil {
		if strings.Contains(err.Error(), "connection refused") {
			dockertest.Missing(t, "the engine cannot reach a registry on the host's 127.0.0.1 (engine in a VM?): %v", err)
		}
		t.Fatal(err)
	}
	if c.Image != ref || !c.IRIS {
		t.Fatalf("container %+v", c)
	}
	mu.Lock()
	defer mu.Unlock()
	var pulling []string
	for _, m := range msgs {
		if m.Phase == dockerops.PhasePulling {
			pulling = append(pulling, m.Message)
		}
	}
	t.Logf("pull progress:\n%s", strings.Join(pulling, "\n"))
	if len(pulling) < 3 || !slices.ContainsFunc(pulling, func(s string) bool { return strings.Contains(s, "Pull complete") }) ||
		!slices.ContainsFunc(pulling, func(s string) bool { return strings.Contains(s, "/4 layers") }) {
		t.Fatalf("pull progress %q", pulling)
	}
	if reg.blobGets() == 0 {
		t.Fatal("the registry served no blobs")
	}
}

type testRegistry struct {
	mu    sync.Mutex
	blobs map[string][]byte
	man   []byte
	gets  int
	extra string        // digest of the layer the engine has never seen
	stall chan struct{} // when set, a GET of the extra layer sends half of it and waits for this
}

// TestPullStalledEndsWithClearError: a registry that stops sending in the middle of a layer does
// not hang Start: after the idle deadline without progress it fails with *PullError that says so.
func TestPullStalledEndsWithClearError(t *testing.T) {
	t.Parallel()
	e, img, p := setup(t)
	ctx := testCtx(t)
	reg := newTestRegistry(t, e, img, 30310)
	reg.mu.Lock()
	reg.stall = make(chan struct{})
	reg.mu.Unlock()
	t.Cleanup(func() { close(reg.stall) })
	e.SetPullIdleTimeoutForTest(3 * time.Second)
	ref := fmt.Sprintf("127.0.0.1:30310/iris-stub:stall-%d", time.Now().UnixNano())
	_, err := e.Start(ctx, dockerops.Spec{Project: p, Image: ref, Superserver: 30311, Web: 30312, ReadyTimeout: time.Minute}, nil)
	if err != nil && strings.Contains(err.Error(), "connection refused") {
		dockertest.Missing(t, "the engine cannot reach a registry on the host's 127.0.0.1 (engine in a VM?): %v", err)
	}
	var pe *dockerops.PullError
	if !errors.As(err, &pe) {
		t.Fatalf("Start with a stalled registry: %v, want *PullError saying no progress", err)
	}
	rpctest.Must(t, "Start with a stalled registry: *PullError", rpctest.Want("image", pe.Image, ref))
	if !strings.Contains(err.Error(), "no progress for 3s") {
		t.Fatalf("Start with a stalled registry: %v, want *PullError saying no progress", err)
	}
	if ctx.Err() != nil {
		t.Fatal("Start returned only when the test's deadline passed")
	}
}

func (r *testRegistry) blobGets() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.gets
}

// newTestRegistry serves image (saved from the engine, layers gzipped) as any name:tag on port.
func newTestRegistry(t *testing.T, e *dockerops.Engine, image string, port int) *testRegistry {
	t.Helper()
	ctx := testCtx(t)
	rc, err := e.Client().ImageSave(ctx, []string{image})
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			data, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			files[path.Clean(h.Name)] = data
		}
	}
	rc.Close()
	var saved []struct {
		Config string
		Layers []string
	}
	if err := json.Unmarshal(files["manifest.json"], &saved); err != nil || len(saved) != 1 {
		t.Fatalf("docker save manifest: %v %s", err, files["manifest.json"])
	}
	reg := &testRegistry{blobs: map[string][]byte{}}
	add := func(data []byte) string {
		sum := sha256.Sum256(data)
		d := "sha256:" + hex.EncodeToString(sum[:])
		reg.blobs[d] = data
		return d
	}
	type desc struct {
		MediaType string `json:"mediaType"`
		Size      int    `json:"size"`
		Digest    string `json:"digest"`
	}
	// One extra layer the engine has never seen, so something is really downloaded.
	var extra bytes.Buffer
	xw := tar.NewWriter(&extra)
	nonce := []byte(fmt.Sprintf("pulled %d\n", time.Now().UnixNano()))
	_ = xw.WriteHeader(&tar.Header{Name: "pulltest.txt", Mode: 0o644, Size: int64(len(nonce)), ModTime: time.Unix(0, 0)})
	_, _ = xw.Write(nonce)
	_ = xw.Close()
	extraName := "extra/layer.tar"
	files[extraName] = extra.Bytes()
	saved[0].Layers = append(saved[0].Layers, extraName)
	var config map[string]any
	if err := json.Unmarshal(files[path.Clean(saved[0].Config)], &config); err != nil {
		t.Fatal(err)
	}
	diffSum := sha256.Sum256(extra.Bytes())
	rootfs := config["rootfs"].(map[string]any)
	rootfs["diff_ids"] = append(rootfs["diff_ids"].([]any), "sha256:"+hex.EncodeToString(diffSum[:]))
	config["history"] = append(config["history"].([]any), map[string]any{"created": time.Now().UTC().Format(time.RFC3339Nano), "created_by": "pulltest"})
	cfg, _ := json.Marshal(config)
	man := struct {
		SchemaVersion int    `json:"schemaVersion"`
		MediaType     string `json:"mediaType"`
		Config        desc   `json:"config"`
		Layers        []desc `json:"layers"`
	}{2, "application/vnd.docker.distribution.manifest.v2+json",
		desc{"application/vnd.docker.container.image.v1+json", len(cfg), add(cfg)}, nil}
	for _, l := range saved[0].Layers {
		var gz bytes.Buffer
		w, _ := gzip.NewWriterLevel(&gz, gzip.NoCompression)
		_, _ = w.Write(files[path.Clean(l)])
		_ = w.Close()
		man.Layers = append(man.Layers, desc{"application/vnd.docker.image.rootfs.diff.tar.gzip", gz.Len(), add(gz.Bytes())})
	}
	reg.extra = man.Layers[len(man.Layers)-1].Digest
	reg.man, _ = json.Marshal(man)
	sum := sha256.Sum256(reg.man)
	manDigest := "sha256:" + hex.EncodeToString(sum[:])

	mux := http.NewServeMux()
	mux.HandleFunc("/v2/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
		switch {
		case r.URL.Path == "/v2/":
			w.WriteHeader(http.StatusOK)
		case strings.Contains(r.URL.Path, "/manifests/"):
			w.Header().Set("Content-Type", man.MediaType)
			w.Header().Set("Docker-Content-Digest", manDigest)
			w.Header().Set("Content-Length", fmt.Sprint(len(reg.man)))
			if r.Method != http.MethodHead {
				_, _ = w.Write(reg.man)
			}
		case strings.Contains(r.URL.Path, "/blobs/"):
			d := path.Base(r.URL.Path)
			reg.mu.Lock()
			data, ok := reg.blobs[d]
			if ok && r.Method == http.MethodGet {
				reg.gets++
			}
			stall := reg.stall
			reg.mu.Unlock()
			if !ok {
				http.NotFound(w, r)
				return
			}
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Header().Set("Docker-Content-Digest", d)
			w.Header().Set("Content-Length", fmt.Sprint(len(data)))
			if stall != nil && d == reg.extra && r.Method == http.MethodGet {
				_, _ = w.Write(data[:len(data)/2])
				w.(http.Flusher).Flush()
				select {
				case <-stall:
				case <-r.Context().Done():
				}
				return
			}
			if r.Method != http.MethodHead {
				_, _ = w.Write(data)
			}
		default:
			http.NotFound(w, r)
		}
	})
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mux}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { srv.Close() })
	return reg
}
