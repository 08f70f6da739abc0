package dockertest

import (
	"bufio"
	"context"
	"crypto/pbkdf2"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/client"
)

// docker runs the docker CLI with a deadline in its own process group and returns its combined
// output and exit code (-1 when it did not run).
func docker(ctx context.Context, args ...string) (string, int) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil && cmd.ProcessState == nil {
		return err.Error(), -1
	}
	return string(out), cmd.ProcessState.ExitCode()
}

// TestStubInContainer runs the stand-in image as a compose project's IRIS would run it — a merge
// file with [Startup] PasswordHash, an iris-main -a command — and talks to it from inside the
// container (busybox wget on 127.0.0.1: no host port): the Atelier API takes the merged password and
// not SYS, answers 503 while the control file exists, the -a command ran `iris session`, and a
// second merge leaves the password as it is.
func TestStubInContainer(t *testing.T) {
	t.Parallel()
	e := Engine(t)
	img := StubImage(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	name := fmt.Sprintf("iris-helper-stubtest-%d", os.Getpid())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_, _ = e.Client().ContainerRemove(ctx, name, client.ContainerRemoveOptions{Force: true})
	})

	salt := []byte("0123456789abcdef")
	key, err := pbkdf2.Key(sha512.New, "s3cret", salt, 10000, 64)
	if err != nil {
		t.Fatal(err)
	}
	merge := filepath.Join(t.TempDir(), "merge.cpf")
	if err := os.WriteFile(merge, []byte("[Startup]\nPasswordHash="+hex.EncodeToString(key)+","+hex.EncodeToString(salt)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, code := docker(ctx, "run", "-d", "--name", name, "-e", "ISC_CPF_MERGE_FILE=/merge/merge.cpf",
		"-v", filepath.Dir(merge)+":/merge:ro", img, "--check-caps", "false",
		"-a", `iris session iris -U%SYS '##class(Security.Users).UnExpireUserPasswords("*")'`); code != 0 {
		t.Fatalf("docker run: %s", out)
	}

	// the log up to the -a command's end, read as it comes
	logCtx, logCancel := context.WithTimeout(ctx, time.Minute)
	defer logCancel()
	logs := exec.CommandContext(logCtx, "docker", "logs", "-f", name)
	logs.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	logs.Cancel = func() error { return syscall.Kill(-logs.Process.Pid, syscall.SIGKILL) }
	logs.WaitDelay = 5 * time.Second
	pipe, err := logs.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := logs.Start(); err != nil {
		t.Fatal(err)
	}
	var lines []string
	sc := bufio.NewScanner(pipe)
	for sc.Scan() {
		line := sc.Text()
		if i := strings.Index(line, " [Utility.Event] "); i > 0 { // drop the time and pid
			line = "<time> " + line[i+1:]
		}
		lines = append(lines, line)
		if strings.HasPrefix(line, "[INFO] ...executed command") || strings.HasPrefix(line, "[ERROR]") {
			break
		}
	}
	logCancel()
	_ = logs.Wait()
	wantLog := `[INFO] Starting InterSystems IRIS instance IRIS...
[INFO] Startup argument --check-caps false
[INFO] Startup argument -a iris session iris -U%SYS '##class(Security.Users).UnExpireUserPasswords("*")'
[INFO] Starting Control Process
Allocated 256MB shared memory
[INFO] Merged /merge/merge.cpf: PasswordHash set the password of the predefined accounts
<time> [Utility.Event] Private webserver started on 52773
<time> [Utility.Event] Master initialized system
<time> [Utility.Event] Enabling logons
[INFO] Executing command iris session iris -U%SYS '##class(Security.Users).UnExpireUserPasswords("*")'...
Node: iris-stub, Instance: IRIS
%SYS>
[INFO] ...executed command iris session iris -U%SYS '##class(Security.Users).UnExpireUserPasswords("*")'`
	if got := strings.Join(lines, "\n"); got != wantLog {
		t.Fatalf("log:\n%s\nwant:\n%s", got, wantLog)
	}

	const info = `{"status":{"errors":[],"summary":""},"console":[],"result":{"content":{"version":"IRIS for UNIX (Ubuntu Server LTS for x86-64 Containers) 2025.1 (Build 223U) Tue Mar 11 2025 18:19:22 EDT","id":"ID","api":8,"features":[{"name":"DEEPSEE","enabled":true},{"name":"ENSEMBLE","enabled":true},{"name":"HEALTHSHARE","enabled":false}],"namespaces":["%SYS","USER"]}}}` + "\n"
	get := func(cred string) []string {
		return []string{"exec", name, "wget", "-q", "-O", "-", "http://" + cred + "@127.0.0.1:52773/api/atelier/"}
	}
	for _, step := range []struct {
		what string
		args []string
		code int
		out  string
	}{
		{"the merged password", get("_SYSTEM:s3cret"), 0, info},
		{"SYS no longer", get("_SYSTEM:SYS"), 1, "wget: server returned error: HTTP/1.1 401 Unauthorized\n"},
		{"the -a command's session", []string{"exec", name, "cat", "/tmp/iris-session.log"}, 0, "%SYS ##class(Security.Users).UnExpireUserPasswords(\"*\")\n"},
		{"refuse on", []string{"exec", name, "touch", "/tmp/iris-stub-atelier-refuse"}, 0, ""},
		{"refused", get("_SYSTEM:s3cret"), 1, "wget: server returned error: HTTP/1.1 503 Service Unavailable\n"},
		{"refuse off", []string{"exec", name, "rm", "/tmp/iris-stub-atelier-refuse"}, 0, ""},
		{"answers again", get("SuperUser:s3cret"), 0, info},
		{"a second merge", []string{"exec", name, "iris", "merge", "IRIS", "/merge/merge.cpf"}, 0,
			"Merged /merge/merge.cpf: PasswordHash ignored, the default password was already changed\n"},
		{"the applied hash is kept 0600", []string{"exec", name, "stat", "-c", "%a %U", "/usr/irissys/mgr/iris-stub.password"}, 0, "600 root\n"},
	} {
		out, code := docker(ctx, step.args...)
		// the instance id is derived from the container's host name
		if i := strings.Index(out, `"id":"`); i >= 0 {
			if j := strings.Index(out[i+6:], `"`); j >= 0 {
				out = out[:i+6] + "ID" + out[i+6+j:]
			}
		}
		if code != step.code || out != step.out {
			t.Errorf("%s: docker %s: exit %d %q, want %d %q", step.what, strings.Join(step.args, " "), code, out, step.code, step.out)
		}
	}
}
