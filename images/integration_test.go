package images

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestImportedImagesRunUnderContainerd builds the pause and payments images, imports them
// into a private containerd the way a node is provisioned, and runs them.
func TestImportedImagesRunUnderContainerd(t *testing.T) {
	cd := startContainerd(t)
	ctx := context.Background()
	opt := Options{CacheDir: t.TempDir()}

	for _, spec := range []Spec{Pause, Payments} {
		img, err := Build(ctx, spec, opt)
		if err != nil {
			t.Fatalf("Build(%s): %v", spec.Ref, err)
		}
		if err := Import(ctx, cd.ctr, cd.address, img.Path); err != nil {
			t.Fatalf("Import(%s): %v", spec.Ref, err)
		}
		f, err := os.Open(img.Path)
		if err != nil {
			t.Fatal(err)
		}
		lay, err := ReadLayout(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		// One layer: its chain ID is its diff_id, the key of the committed snapshot.
		snaps, err := cd.run(ctx, "snapshots", "--snapshotter", Snapshotter, "ls")
		if err != nil || !strings.Contains(snaps, lay.DiffID) {
			t.Errorf("%s is not unpacked for %s (want snapshot %s): %v\n%s", spec.Ref, Snapshotter, lay.DiffID, err, snaps)
		}
	}
	refs, err := cd.run(ctx, "images", "ls", "-q")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{Pause.Ref, Payments.Ref} {
		if !slices.Contains(strings.Fields(refs), want) {
			t.Errorf("ctr images ls lists %q, want %s among them", strings.Fields(refs), want)
		}
	}
	if t.Failed() {
		return
	}

	t.Run("pause exits 0 on SIGTERM", func(t *testing.T) {
		c := startContainer(t, cd, Pause.Ref, "pause")
		// SIGTERM to PID 1 is ignored until pause has installed its handler: repeat it.
		deadline := time.Now().Add(30 * time.Second)
		for !c.exitedWithin(200 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("pause did not exit on SIGTERM within 30s; output:\n%s", c.out.String())
			}
			_, _ = cd.run(ctx, "tasks", "kill", "--signal", "SIGTERM", "pause")
		}
		if c.err != nil {
			t.Fatalf("pause exited with %v, want 0; output:\n%s", c.err, c.out.String())
		}
	})

	t.Run("payments serves, drains on SIGTERM and exits 0", func(t *testing.T) {
		port := freePort(t)
		base := fmt.Sprintf("http://127.0.0.1:%d", port)
		c := startContainer(t, cd, Payments.Ref, "payments", "--net-host",
			"--env", "PORT="+strconv.Itoa(port), "--env", "DRAIN_SECONDS=3", "--env", "NODE_NAME=node-test", "--env", "POD_NAME=pod-test")

		if !poll(30*time.Second, func() bool { s, _, _ := get(base + "/healthz"); return s == 200 }) {
			t.Fatalf("GET /healthz never answered 200; output:\n%s", c.out.String())
		}
		status, body, served := get(base + "/")
		if status != 200 || body != "payments-api node-test pod-test\n" || served != "node-test" {
			t.Errorf("GET / = %d %q X-Served-By %q, want 200 %q node-test", status, body, served, "payments-api node-test pod-test\n")
		}
		if want := fmt.Sprintf("payments-api listening on :%d node=node-test pod=pod-test", port); !strings.Contains(c.out.String(), want) {
			t.Errorf("output %q does not have the start line %q", c.out.String(), want)
		}

		if _, err := cd.run(ctx, "tasks", "kill", "--signal", "SIGTERM", "payments"); err != nil {
			t.Fatal(err)
		}
		if !poll(3*time.Second, func() bool { s, _, _ := get(base + "/healthz"); return s == 503 }) {
			t.Errorf("GET /healthz did not turn 503 after SIGTERM")
		}
		if s, _, _ := get(base + "/"); s != 200 && !c.exitedWithin(0) {
			t.Errorf("GET / while draining = %d, want 200", s)
		}
		if !c.exitedWithin(30 * time.Second) {
			t.Fatalf("payments did not exit within 30s of SIGTERM; output:\n%s", c.out.String())
		}
		if c.err != nil {
			t.Errorf("payments exited with %v, want 0; output:\n%s", c.err, c.out.String())
		}
		if !strings.Contains(c.out.String(), "payments-api stopped") {
			t.Errorf("output %q does not say it stopped", c.out.String())
		}
	})
}

// container is a `ctr run --rm` in the foreground: ctr's exit status is the container's.
type container struct {
	out  *syncBuffer
	done chan struct{}
	err  error
}

func startContainer(t *testing.T, cd *testContainerd, image, id string, extra ...string) *container {
	t.Helper()
	c := &container{out: &syncBuffer{}, done: make(chan struct{})}
	cmd := exec.Command(cd.ctr, cd.runArgs(image, id, extra...)...)
	cmd.Stdout, cmd.Stderr = c.out, c.out
	if err := cmd.Start(); err != nil {
		t.Fatalf("ctr run %s: %v", image, err)
	}
	go func() { c.err = cmd.Wait(); close(c.done) }()
	t.Cleanup(func() {
		if !c.exitedWithin(0) {
			_, _ = cd.run(context.Background(), "tasks", "kill", "--signal", "SIGKILL", id)
			if !c.exitedWithin(20 * time.Second) {
				_ = cmd.Process.Kill()
				<-c.done
			}
		}
	})
	if !poll(30*time.Second, func() bool { _, ok := cd.tasks(t)[id]; return ok || c.exitedWithin(0) }) {
		t.Fatalf("container %s did not start within 30s; output:\n%s", id, c.out.String())
	}
	if c.exitedWithin(0) {
		t.Fatalf("container %s exited at start: %v; output:\n%s", id, c.err, c.out.String())
	}
	return c
}

func (c *container) exitedWithin(d time.Duration) bool {
	select {
	case <-c.done:
		return true
	case <-time.After(d):
		return false
	}
}

func poll(within time.Duration, ok func() bool) bool {
	deadline := time.Now().Add(within)
	for {
		if ok() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

var loopbackClient = &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}

// get returns status, body and X-Served-By of a GET, or status 0 if it failed.
func get(url string) (int, string, string) {
	resp, err := loopbackClient.Get(url)
	if err != nil {
		return 0, "", ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header.Get("X-Served-By")
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
