package local

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
	"sync"
	"syscall"
	"time"
)

// proc is one control-plane process as recorded in the workspace.
type proc struct {
	Name string   `json:"name"`
	Pid  int      `json:"pid"`
	Args []string `json:"args"`
	Log  string   `json:"log"`
	// Marker, when set, is what the command line must name instead of the cluster
	// directory (relays name only their sockets under /run/phoenix).
	Marker string `json:"marker,omitempty"`
	// StartTime is the process's start time in clock ticks since boot (/proc/PID/stat
	// field 22): a pid reused by another program has another.
	StartTime uint64 `json:"startTime,omitempty"`
}

// marker is what p's command line must name for p to still be phoenix's process.
func (p proc) marker(dir string) string {
	if p.Marker != "" {
		return p.Marker
	}
	return dir
}

// reaper keeps the exec.Cmd of processes this phoenix process started, so that they are
// reaped (no zombies) when they exit while phoenix is still running, as in tests.
var reaper sync.Map // pid -> *exitWatch

// exitWatch is closed when a process phoenix started exits; state says how it ended.
type exitWatch struct {
	done  chan struct{}
	state string
}

// startProcessIn starts a program detached from phoenix (its own session), logging to
// logPath, so that the cluster outlives the `phoenix provision` command; inside the network
// namespace netns (a name under /run/netns; "" is the host's).
// nsenter execs the program, so the pid is the program's.
// Only the network namespace is entered: the kubelet and containerd must see the host's
// mounts (/sys/fs/cgroup), which `ip netns exec` would hide behind a private /sys.
func startProcessIn(netns, name, bin string, args []string, logPath string, env []string) (proc, error) {
	argv := append([]string{bin}, args...)
	if netns != "" {
		nsenter, err := lookPath("nsenter")
		if err != nil {
			return proc{}, err
		}
		bin = nsenter
		args = append([]string{"--net=" + filepath.Join(netnsDir, netns), "--"}, argv...)
	}
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return proc{}, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Stdin = nil
	cmd.Env = append(childEnv(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return proc{}, fmt.Errorf("starting %s: %w", name, err)
	}
	logf.Close()
	w := &exitWatch{done: make(chan struct{})}
	reaper.Store(cmd.Process.Pid, w)
	go func() {
		_ = cmd.Wait()
		w.state = cmd.ProcessState.String()
		close(w.done)
	}()
	return proc{Name: name, Pid: cmd.Process.Pid, Args: argv, Log: logPath, StartTime: startTime(cmd.Process.Pid)}, nil
}

// alive reports whether p is still running and is the process phoenix started (the pid
// was not reused): its command line must still mention marker (the cluster directory).
func (p proc) alive(marker string) bool {
	if p.Pid <= 0 {
		return false
	}
	marker = p.marker(marker)
	if w, ok := reaper.Load(p.Pid); ok {
		select {
		case <-w.(*exitWatch).done:
			return false
		default:
		}
	}
	st, ok := readStat(p.Pid)
	if !ok || st.state == "Z" {
		return false
	}
	if p.StartTime != 0 && st.start != p.StartTime {
		return false // the pid was reused
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p.Pid))
	if err != nil {
		return false
	}
	return marker == "" || namesDir(cmdline, marker)
}

// namesDir reports whether a NUL-separated command line names dir itself or a path below
// it: clusters/green does not match clusters/green2.
func namesDir(cmdline []byte, dir string) bool {
	dir = strings.TrimRight(dir, "/")
	for _, arg := range bytes.Split(cmdline, []byte{0}) {
		for a := string(arg); ; {
			i := strings.Index(a, dir)
			if i < 0 {
				break
			}
			if rest := a[i+len(dir):]; rest == "" || rest[0] == '/' || rest[0] == ',' {
				return true
			}
			a = a[i+len(dir):]
		}
	}
	return false
}

// procStat is what phoenix reads of /proc/PID/stat.
type procStat struct {
	state string // "R", "S", "Z", ...
	ppid  int
	start uint64 // field 22: start time in clock ticks since boot
}

// readStat reads /proc/PID/stat; false when the process is gone.
func readStat(pid int) (procStat, bool) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, false
	}
	return parseStat(data)
}

// parseStat reads the fields after the parenthesised command name (which may itself hold
// spaces and parentheses): state is field 3, the parent field 4, the start time field 22.
func parseStat(stat []byte) (procStat, bool) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return procStat{}, false
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 20 {
		return procStat{}, false
	}
	ppid, _ := strconv.Atoi(f[1])
	start, _ := strconv.ParseUint(f[19], 10, 64)
	return procStat{state: f[0], ppid: ppid, start: start}, true
}

// startTime is a process's start time from /proc (0 when unknown).
func startTime(pid int) uint64 {
	st, _ := readStat(pid)
	return st.start
}

// childEnv is the environment of every process phoenix starts: a PATH (with the sbin
// directories iptables and ip live in) and nothing of phoenix's own environment, which
// may hold credentials.
func childEnv() []string {
	path := os.Getenv("PATH")
	for _, d := range sbinDirs {
		if !strings.Contains(":"+path+":", ":"+d+":") {
			path += ":" + d
		}
	}
	return []string{"PATH=" + strings.TrimPrefix(path, ":")}
}

// exitState says how p ended ("exit status 1", "signal: killed") when this phoenix
// process started it, or "" when unknown.
func (p proc) exitState() string {
	if w, ok := reaper.Load(p.Pid); ok {
		select {
		case <-w.(*exitWatch).done:
			return w.(*exitWatch).state
		default:
		}
	}
	return ""
}

// stop terminates p: SIGTERM, then SIGKILL after grace. It never signals a pid that no
// longer belongs to this cluster.
func (p proc) stop(ctx context.Context, marker string, grace time.Duration) error {
	if !p.alive(marker) {
		return nil
	}
	_ = syscall.Kill(p.Pid, syscall.SIGTERM)
	deadline := time.Now().Add(grace)
	for time.Now().Before(deadline) {
		if !p.alive(marker) {
			return nil
		}
		select {
		case <-ctx.Done():
			deadline = time.Now()
		case <-time.After(100 * time.Millisecond):
		}
	}
	if p.alive(marker) {
		_ = syscall.Kill(p.Pid, syscall.SIGKILL)
		for i := 0; i < 50 && p.alive(marker); i++ {
			time.Sleep(100 * time.Millisecond)
		}
	}
	if p.alive(marker) {
		return fmt.Errorf("%s (pid %d) did not stop", p.Name, p.Pid)
	}
	return nil
}

// grace is how long p may take to exit after SIGTERM before it is killed: etcd and the
// apiserver get time to close cleanly; the stateless rest little (kube-scheduler v1.24
// ignores SIGTERM for more than 15 s).
func (p proc) grace() time.Duration {
	switch p.Name {
	case "etcd", "kube-apiserver":
		return 10 * time.Second
	}
	return 2 * time.Second
}

// stopAll stops processes in reverse start order and joins the errors.
func stopAll(ctx context.Context, procs []proc, marker string) error {
	var errs []error
	for i := len(procs) - 1; i >= 0; i-- {
		if err := procs[i].stop(ctx, procs[i].marker(marker), procs[i].grace()); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// tail returns the last n lines of a log file, for errors that say why a process died.
func tail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// pidString renders pids for the cluster record.
func pidString(procs []proc) string {
	var parts []string
	for _, p := range procs {
		parts = append(parts, p.Name+"="+strconv.Itoa(p.Pid))
	}
	return strings.Join(parts, ",")
}

func logDir(clusterDir string) string { return filepath.Join(clusterDir, "logs") }
