// Package haproxytest starts a real HAProxy (Debian's haproxy package) for tests: a
// generated haproxy.cfg with one HTTP frontend on a free loopback port, one backend
// with the servers given, the runtime API on a unix socket at level admin, and a
// server-state-file loaded at start, so tests can reload it and see weights survive.
//
// When haproxy is not on PATH the test is skipped, unless PHOENIX_REQUIRE_INTEGRATION=1,
// in which case it fails.
package haproxytest

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Server is one backend server: its name and address (host:port).
type Server struct {
	Name   string
	Addr   string
	Weight int
}

// Instance is a running haproxy.
type Instance struct {
	// URL is the frontend, e.g. http://127.0.0.1:40123.
	URL string
	// Socket is the runtime API unix socket at level admin, UserSocket one at level user
	// (it may read but not change); StateFile is the server-state-file.
	Socket, UserSocket, StateFile, Config string
	Backend                               string

	t      testing.TB
	bin    string
	cmd    *exec.Cmd
	exited chan struct{}
	log    *bytes.Buffer
}

// Binary returns haproxy's path, or skips (fails under PHOENIX_REQUIRE_INTEGRATION=1).
func Binary(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("haproxy")
	if err != nil {
		if os.Getenv("PHOENIX_REQUIRE_INTEGRATION") == "1" {
			t.Fatalf("haproxy not on PATH (install Debian package haproxy): %v", err)
		}
		t.Skipf("haproxy not on PATH (install Debian package haproxy): %v", err)
	}
	return p
}

// FreePort returns a loopback port nothing listens on right now.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Start writes the config and starts haproxy in the foreground; t.Cleanup stops it.
func Start(t testing.TB, backend string, servers ...Server) *Instance {
	t.Helper()
	bin := Binary(t)
	// Unix socket paths are limited to ~108 bytes: t.TempDir() can be too long.
	dir, err := os.MkdirTemp("", "hap")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	port := FreePort(t)
	in := &Instance{
		URL: fmt.Sprintf("http://127.0.0.1:%d", port), Socket: filepath.Join(dir, "admin.sock"),
		UserSocket: filepath.Join(dir, "user.sock"),
		StateFile:  filepath.Join(dir, "server-state"), Config: filepath.Join(dir, "haproxy.cfg"),
		Backend: backend, t: t, bin: bin,
	}
	var b strings.Builder
	fmt.Fprintf(&b, `global
  stats socket %s mode 600 level admin
  stats socket %s mode 600 level user
  server-state-file %s
  hard-stop-after 3s
defaults
  mode http
  timeout connect 2s
  timeout client 30s
  timeout server 30s
  retries 3
  option redispatch
  load-server-state-from-file global
frontend fe
  bind 127.0.0.1:%d
  default_backend %s
backend %s
  balance roundrobin
`, in.Socket, in.UserSocket, in.StateFile, port, backend, backend)
	for _, s := range servers {
		fmt.Fprintf(&b, "  server %s %s weight %d\n", s.Name, s.Addr, s.Weight)
	}
	if err := os.WriteFile(in.Config, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	in.start(nil)
	t.Cleanup(in.stop)
	return in
}

func (in *Instance) start(old *exec.Cmd) {
	in.t.Helper()
	args := []string{"-db", "-f", in.Config}
	if old != nil {
		args = append(args, "-sf", fmt.Sprint(old.Process.Pid))
	}
	// The socket file of the previous process is replaced by the new one.
	_ = os.Remove(in.Socket)
	_ = os.Remove(in.UserSocket)
	in.log = &bytes.Buffer{}
	cmd := exec.Command(in.bin, args...)
	cmd.Stdout, cmd.Stderr = in.log, in.log
	if err := cmd.Start(); err != nil {
		in.t.Fatalf("starting haproxy: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	in.cmd, in.exited = cmd, exited
	for i := 0; ; i++ {
		select {
		case <-exited:
			in.t.Fatalf("haproxy exited at start:\n%s", in.log)
		default:
		}
		c, err := net.Dial("unix", in.Socket)
		if err == nil {
			_ = c.Close()
			break
		}
		if i > 500 {
			in.t.Fatalf("haproxy runtime socket never appeared:\n%s", in.log)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Reload starts a new haproxy with the same config (it loads the server-state-file)
// and tells the old one to finish, as `systemctl reload haproxy` does.
func (in *Instance) Reload() {
	in.t.Helper()
	old, oldExited := in.cmd, in.exited
	in.start(old)
	select {
	case <-oldExited:
	case <-time.After(10 * time.Second):
		in.t.Fatalf("the old haproxy did not finish after the reload")
	}
}

// Log returns what the current haproxy process printed.
func (in *Instance) Log() string { return in.log.String() }

func (in *Instance) stop() {
	if in.cmd == nil {
		return
	}
	_ = in.cmd.Process.Kill()
	<-in.exited
}

// Tap is a unix socket in front of the runtime API that records every line sent
// through it, so a test can show that nothing reached HAProxy.
type Tap struct {
	// Socket is the tap's path, to give phoenix instead of Instance.Socket.
	Socket string

	mu    sync.Mutex
	lines []string
}

// Lines returns what was sent through the tap so far.
func (tp *Tap) Lines() []string {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	return append([]string(nil), tp.lines...)
}

// Tap starts a recording proxy to the admin socket; t.Cleanup stops it.
func (in *Instance) Tap() *Tap {
	in.t.Helper()
	tp := &Tap{Socket: in.Socket + ".tap"}
	l, err := net.Listen("unix", tp.Socket)
	if err != nil {
		in.t.Fatal(err)
	}
	in.t.Cleanup(func() { _ = l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				up, err := net.Dial("unix", in.Socket)
				if err != nil {
					return
				}
				defer up.Close()
				line, err := bufio.NewReader(c).ReadString('\n')
				if line != "" {
					tp.mu.Lock()
					tp.lines = append(tp.lines, strings.TrimSuffix(line, "\n"))
					tp.mu.Unlock()
				}
				if err != nil {
					return
				}
				if _, err := io.WriteString(up, line); err != nil {
					return
				}
				_, _ = io.Copy(c, up)
			}()
		}
	}()
	return tp
}

// Command sends one runtime API command to the admin socket and returns the answer.
func (in *Instance) Command(line string) string {
	in.t.Helper()
	c, err := net.Dial("unix", in.Socket)
	if err != nil {
		in.t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, line+"\n"); err != nil {
		in.t.Fatal(err)
	}
	out, err := io.ReadAll(c)
	if err != nil {
		in.t.Fatal(err)
	}
	return string(out)
}
