package images

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// testContainerd is a private containerd whose root, state, sockets and runc state all live
// in one temporary directory. Its cleanup removes every task and container, stops it, and
// fails the test if any process, mount or cgroup of it is left.
type testContainerd struct {
	dir, address, ctr string
	cmd               *exec.Cmd
	log               *bytes.Buffer
	exited            chan struct{}
	pids              map[int]bool // container pids seen, checked for exit at the end
}

// requireIntegration skips, or fails under PHOENIX_REQUIRE_INTEGRATION=1.
func requireIntegration(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("PHOENIX_REQUIRE_INTEGRATION") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg + "; set PHOENIX_REQUIRE_INTEGRATION=1 to make this a failure")
}

func startContainerd(t *testing.T) *testContainerd {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: starts a private containerd; run without -short")
	}
	for _, tool := range []string{"containerd", "ctr", "runc", "containerd-shim-runc-v2"} {
		if _, err := exec.LookPath(tool); err != nil {
			requireIntegration(t, "%s not on PATH (install Debian packages containerd and runc): %v", tool, err)
		}
	}
	if os.Geteuid() != 0 {
		requireIntegration(t, "containerd needs root (run the tests as root)")
	}
	ctrPath, _ := exec.LookPath("ctr")
	dir := t.TempDir()
	cd := &testContainerd{dir: dir, address: filepath.Join(dir, "containerd.sock"), ctr: ctrPath, log: &bytes.Buffer{}, exited: make(chan struct{}), pids: map[int]bool{}}
	config := fmt.Sprintf(`version = 2
root = %[1]q
state = %[2]q
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = %[3]q
[ttrpc]
  address = %[4]q
[debug]
  address = %[5]q
[plugins."io.containerd.internal.v1.opt"]
  path = %[6]q
`, filepath.Join(dir, "root"), filepath.Join(dir, "state"), cd.address, cd.address+".ttrpc", filepath.Join(dir, "debug.sock"), filepath.Join(dir, "opt"))
	configPath := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(configPath, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	cd.cmd = exec.Command("containerd", "--config", configPath)
	cd.cmd.Stdout, cd.cmd.Stderr = cd.log, cd.log // read only after exit, or under -v at the end
	cd.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cd.cmd.Start(); err != nil {
		t.Fatalf("starting containerd: %v", err)
	}
	go func() { _ = cd.cmd.Wait(); close(cd.exited) }()
	t.Cleanup(func() { cd.stop(t) })

	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := cd.run(context.Background(), "version"); err == nil {
			return cd
		}
		select {
		case <-cd.exited:
			t.Fatalf("containerd exited at start: %s", tail(cd.log.String(), 20))
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("containerd did not answer within 20s")
		}
	}
}

// run runs ctr against this containerd in the k8s.io namespace.
func (cd *testContainerd) run(ctx context.Context, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, cd.ctr, append([]string{"--address", cd.address, "--namespace", Namespace}, args...)...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("ctr %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// runArgs is `ctr run` for a test container: runc state and the cgroup are the test's own.
func (cd *testContainerd) runArgs(image, id string, extra ...string) []string {
	args := []string{"--address", cd.address, "--namespace", Namespace, "run", "--rm",
		"--runc-root", filepath.Join(cd.dir, "runc"), "--cgroup", cd.cgroup(id)}
	return append(append(args, extra...), image, id)
}

func (cd *testContainerd) cgroup(id string) string {
	return "/phoenix-images-test-" + strconv.Itoa(os.Getpid()) + "-" + id
}

// tasks returns the running tasks' pids by container id, and remembers them.
func (cd *testContainerd) tasks(t *testing.T) map[string]int {
	t.Helper()
	out, err := cd.run(context.Background(), "tasks", "ls")
	if err != nil {
		t.Errorf("listing tasks: %v", err)
		return nil
	}
	tasks := map[string]int{}
	for _, line := range strings.Split(out, "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		pid, _ := strconv.Atoi(f[1])
		tasks[f[0]] = pid
		if pid > 0 {
			cd.pids[pid] = true
		}
	}
	return tasks
}

func (cd *testContainerd) stop(t *testing.T) {
	ctx := context.Background()
	select {
	case <-cd.exited:
	default:
		for id := range cd.tasks(t) {
			_, _ = cd.run(ctx, "tasks", "kill", "--signal", "SIGKILL", id)
			_, _ = cd.run(ctx, "tasks", "delete", "--force", id)
		}
		if out, err := cd.run(ctx, "containers", "ls", "-q"); err == nil {
			for _, id := range strings.Fields(out) {
				_, _ = cd.run(ctx, "containers", "delete", id)
			}
		}
		_ = cd.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-cd.exited:
		case <-time.After(15 * time.Second):
			t.Errorf("containerd did not stop on SIGTERM; killing it")
			_ = syscall.Kill(-cd.cmd.Process.Pid, syscall.SIGKILL)
			<-cd.exited
		}
	}
	if t.Failed() {
		t.Logf("containerd log (tail):\n%s", tail(cd.log.String(), 30))
	}
	cd.checkNothingLeft(t)
}

// checkNothingLeft fails the test for any process, container, mount or cgroup left behind,
// and removes what it finds so that the next run starts clean.
func (cd *testContainerd) checkNothingLeft(t *testing.T) {
	if out, err := exec.Command("pgrep", "-f", cd.dir).Output(); err == nil {
		for _, p := range strings.Fields(string(out)) {
			pid, _ := strconv.Atoi(p)
			if pid > 0 && pid != os.Getpid() {
				cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
				t.Errorf("process %d (%s) outlived the test containerd; killing it", pid, bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '}))
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
	for pid := range cd.pids {
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("container process %d is still alive; killing it", pid)
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	mounts, _ := os.ReadFile("/proc/self/mounts")
	for _, line := range strings.Split(string(mounts), "\n") {
		if f := strings.Fields(line); len(f) > 1 && strings.HasPrefix(f[1], cd.dir) {
			t.Errorf("mount %s was left behind; unmounting it", f[1])
			_ = syscall.Unmount(f[1], syscall.MNT_DETACH)
		}
	}
	leftover, _ := filepath.Glob("/sys/fs/cgroup/*/" + strings.TrimPrefix(cd.cgroup("*"), "/"))
	for _, cg := range leftover {
		t.Errorf("cgroup %s was left behind; removing it", cg)
		_ = os.Remove(cg)
	}
}
