package inplacetest

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/phoenix-upgrade/phoenix/inplace"
)

// Names of the recording stand-ins put on the test hosts' PATH.
var StandIns = []string{"apt-get", "apt-mark", "apt-cache", "yum", "kubeadm", "kubectl", "systemctl",
	"etcdctl", "swapon", "tee", "cat", "mkdir", "ss", "crictl", "rm", "mv"}

// standIn is the one script behind every stand-in name. It uses shell builtins only: the
// stand-ins are alone on PATH, so a command the runbook uses without a stand-in fails
// loudly instead of touching the test machine.
const standIn = `#!/bin/sh
# RECORDING STAND-IN for phoenix tests: records "<host>: <name> <args>" in $STANDIN_DIR/log
# instead of doing what the real program does. Not a real apt-get/kubeadm/systemctl.
name=${0##*/}
d=$STANDIN_DIR
n=0
[ -f "$d/count" ] && read n < "$d/count"
n=$((n+1))
echo "$n" > "$d/count"
if [ -s "$d/fail-at" ]; then
  read f < "$d/fail-at"
  if [ "$f" = "$n" ]; then
    : > "$d/fail-at"
    echo "stand-in $name: injected failure at invocation $n" >&2
    exit 1
  fi
fi
line="$STANDIN_HOST: $name $*"
case "$name" in
tee)
  [ "$(umask)" = 0077 ] && line="$line (umask 0077)"
  while IFS= read -r l; do line="$line
$STANDIN_HOST:   | $l"; done ;;
apt-cache)
  while IFS= read -r v; do echo "   kubeadm | $v | https://pkgs.k8s.io/core:/stable:/v1/deb  Packages"; done < "$d/available" ;;
yum)
  if [ "$1" = list ]; then while IFS= read -r v; do echo "kubeadm.x86_64   $v   kubernetes"; done < "$d/available"; fi ;;
cat)
  if [ -f "$d/files$1" ]; then
    while IFS= read -r l; do echo "$l"; done < "$d/files$1"
  else
    echo "stand-in contents of $1"
  fi ;;
kubeadm)
  case "$1 $2" in
  "token create") echo "kubeadm join 127.0.0.1:6443 --token abcdef.0123456789abcdef --discovery-token-ca-cert-hash sha256:1111111111111111111111111111111111111111111111111111111111111111" ;;
  "version -o") echo "stand-in" ;;
  esac ;;
esac
echo "$line" >> "$d/log"
`

// Lab is a set of simulated hosts sharing one recording log.
type Lab struct {
	t          *testing.T
	Dir        string
	KeyPath    string
	KnownHosts string
	User       string
	Hosts      []*Host
	mu         sync.Mutex
}

// Host is one simulated host: a real sshd on 127.0.0.1:Port.
type Host struct {
	Name    string
	Port    int
	dir     string
	hostKey ssh.Signer
	cmd     *exec.Cmd
}

// Address is host:port of the host's sshd.
func (h *Host) Address() string { return fmt.Sprintf("127.0.0.1:%d", h.Port) }

// SSHD returns the path of sshd, skipping the test when it is missing (failing it when
// PHOENIX_REQUIRE_INTEGRATION=1).
func SSHD(t testing.TB) string {
	t.Helper()
	for _, p := range []string{"/usr/sbin/sshd", "/usr/bin/sshd"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("sshd"); err == nil {
		return p
	}
	if os.Getenv("PHOENIX_REQUIRE_INTEGRATION") == "1" {
		t.Fatal("sshd not found: apt-get install openssh-server")
	}
	t.Skip("sshd not found (apt-get install openssh-server); set PHOENIX_REQUIRE_INTEGRATION=1 to make this a failure")
	return ""
}

// NewLab starts one sshd per name. Versions lists the kubeadm package versions the
// stand-in apt-cache/yum report as available.
func NewLab(t *testing.T, names ...string) *Lab {
	t.Helper()
	sshd := SSHD(t)
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	l := &Lab{t: t, Dir: t.TempDir(), User: u.Username}
	if os.Geteuid() == 0 {
		// sshd running as root needs its privilege-separation directory.
		if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(l.Dir, "standins")
	must(t, os.MkdirAll(bin, 0o755))
	must(t, os.WriteFile(filepath.Join(bin, "standin"), []byte(standIn), 0o755))
	for _, n := range StandIns {
		must(t, os.Symlink("standin", filepath.Join(bin, n)))
	}
	must(t, os.WriteFile(filepath.Join(l.Dir, "log"), nil, 0o644))
	must(t, os.WriteFile(filepath.Join(l.Dir, "available"), nil, 0o644))

	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	must(t, err)
	l.KeyPath = filepath.Join(l.Dir, "id_ed25519")
	writeKey(t, l.KeyPath, priv)
	sshPub, err := ssh.NewPublicKey(pub)
	must(t, err)
	must(t, os.WriteFile(filepath.Join(l.Dir, "authorized_keys"), ssh.MarshalAuthorizedKey(sshPub), 0o600))
	l.KnownHosts = filepath.Join(l.Dir, "known_hosts")

	for _, n := range names {
		h := &Host{Name: n, dir: filepath.Join(l.Dir, "hosts", n)}
		must(t, os.MkdirAll(h.dir, 0o700))
		l.newHostKey(h)
		l.Hosts = append(l.Hosts, h)
		l.start(sshd, h, true)
	}
	l.writeKnownHosts()
	return l
}

// AddUnforcedHost starts one more host whose sshd runs commands as given (no
// ForceCommand, so the real programs of this machine, not the stand-ins, and signals
// are delivered as on a real host). It is for tests of the SSH session itself: run only
// harmless commands on it.
func (l *Lab) AddUnforcedHost(name string) *Host {
	h := &Host{Name: name, dir: filepath.Join(l.Dir, "hosts", name)}
	must(l.t, os.MkdirAll(h.dir, 0o700))
	l.newHostKey(h)
	l.Hosts = append(l.Hosts, h)
	l.start(SSHD(l.t), h, false)
	l.writeKnownHosts()
	return h
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func writeKey(t testing.TB, path string, priv ed25519.PrivateKey) {
	block, err := ssh.MarshalPrivateKey(priv, "")
	must(t, err)
	must(t, os.WriteFile(path, pem.EncodeToMemory(block), 0o600))
}

func (l *Lab) newHostKey(h *Host) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	must(l.t, err)
	writeKey(l.t, filepath.Join(h.dir, "ssh_host_ed25519_key"), priv)
	h.hostKey, err = ssh.NewSignerFromKey(priv)
	must(l.t, err)
}

func (l *Lab) writeKnownHosts() {
	var b strings.Builder
	for _, h := range l.Hosts {
		b.WriteString(knownhosts.Line([]string{knownhosts.Normalize(h.Address())}, h.hostKey.PublicKey()) + "\n")
	}
	must(l.t, os.WriteFile(l.KnownHosts, []byte(b.String()), 0o600))
}

func (l *Lab) start(sshd string, h *Host, forced bool) {
	t := l.t
	for attempt := 0; ; attempt++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		must(t, err)
		h.Port = ln.Addr().(*net.TCPAddr).Port
		_ = ln.Close()
		wrapper := filepath.Join(h.dir, "wrapper")
		must(t, os.WriteFile(wrapper, []byte(fmt.Sprintf(`#!/bin/sh
# Test host %[1]s: runs the SSH command with the recording stand-ins alone on PATH.
PATH=%[2]s
STANDIN_HOST=%[1]s
STANDIN_DIR=%[3]s
export PATH STANDIN_HOST STANDIN_DIR
exec /bin/sh -c "$SSH_ORIGINAL_COMMAND"
`, h.Name, filepath.Join(l.Dir, "standins"), l.Dir)), 0o755))
		cfg := filepath.Join(h.dir, "sshd_config")
		force := "ForceCommand " + wrapper
		if !forced {
			force = ""
		}
		must(t, os.WriteFile(cfg, []byte(fmt.Sprintf(`Port %d
ListenAddress 127.0.0.1
HostKey %s
AuthorizedKeysFile %s
PidFile %s
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
%s
LogLevel ERROR
UseDNS no
PrintMotd no
PrintLastLog no
PermitUserEnvironment no
`, h.Port, filepath.Join(h.dir, "ssh_host_ed25519_key"), filepath.Join(l.Dir, "authorized_keys"),
			filepath.Join(h.dir, "sshd.pid"), force)), 0o600))
		cmd := exec.Command(sshd, "-D", "-e", "-f", cfg)
		logf, err := os.Create(filepath.Join(h.dir, "sshd.log"))
		must(t, err)
		cmd.Stdout, cmd.Stderr = logf, logf
		must(t, cmd.Start())
		h.cmd = cmd
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); _ = logf.Close(); close(exited) }()
		t.Cleanup(func() { _ = cmd.Process.Kill(); <-exited })
		if waitListening(h.Address(), exited) {
			return
		}
		data, _ := os.ReadFile(filepath.Join(h.dir, "sshd.log"))
		if attempt >= 3 {
			t.Fatalf("sshd for %s did not start: %s", h.Name, data)
		}
	}
}

func waitListening(addr string, exited <-chan struct{}) bool {
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return false
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			_ = c.Close()
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}

// ReplaceHostKey gives host name a new host key (as a reinstall or an attacker would)
// and restarts its sshd on the same port; known_hosts keeps the old key.
func (l *Lab) ReplaceHostKey(name string) {
	for _, h := range l.Hosts {
		if h.Name != name {
			continue
		}
		_ = h.cmd.Process.Kill()
		time.Sleep(100 * time.Millisecond)
		l.newHostKey(h)
		cmd := exec.Command(SSHD(l.t), "-D", "-e", "-f", filepath.Join(h.dir, "sshd_config"))
		must(l.t, cmd.Start())
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(exited) }()
		l.t.Cleanup(func() { _ = cmd.Process.Kill(); <-exited })
		if !waitListening(h.Address(), exited) {
			l.t.Fatalf("sshd for %s did not restart", name)
		}
		h.cmd = cmd
		return
	}
	l.t.Fatalf("no host %s", name)
}

// SetAvailable sets the package versions the stand-in apt-cache / yum list.
func (l *Lab) SetAvailable(versions ...string) {
	must(l.t, os.WriteFile(filepath.Join(l.Dir, "available"), []byte(strings.Join(versions, "\n")+"\n"), 0o644))
}

// SetFile makes the stand-in cat print content for path (on every host).
func (l *Lab) SetFile(path, content string) {
	dst := filepath.Join(l.Dir, "files", path)
	must(l.t, os.MkdirAll(filepath.Dir(dst), 0o755))
	must(l.t, os.WriteFile(dst, []byte(content), 0o644))
}

// FailAt makes the n-th stand-in invocation (counted from now) fail once with exit 1.
func (l *Lab) FailAt(n int) {
	must(l.t, os.WriteFile(filepath.Join(l.Dir, "fail-at"), []byte(fmt.Sprint(l.Invocations()+n)), 0o644))
}

// Invocations is how many times a stand-in was invoked so far.
func (l *Lab) Invocations() int {
	data, err := os.ReadFile(filepath.Join(l.Dir, "count"))
	if err != nil {
		return 0
	}
	var n int
	fmt.Sscan(string(data), &n)
	return n
}

// Record appends a line to the shared log (used by the Cluster stand-in).
func (l *Lab) Record(line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f, err := os.OpenFile(filepath.Join(l.Dir, "log"), os.O_APPEND|os.O_WRONLY, 0o644)
	must(l.t, err)
	defer f.Close()
	_, err = fmt.Fprintln(f, line)
	must(l.t, err)
}

// Recorded returns the log: one line per successful stand-in invocation or cluster step.
func (l *Lab) Recorded() []string {
	data, err := os.ReadFile(filepath.Join(l.Dir, "log"))
	must(l.t, err)
	s := strings.TrimRight(string(data), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// ResetLog empties the log and the invocation counter.
func (l *Lab) ResetLog() {
	must(l.t, os.WriteFile(filepath.Join(l.Dir, "log"), nil, 0o644))
	_ = os.Remove(filepath.Join(l.Dir, "count"))
}

// Inventory returns an inventory of the lab's hosts; roles maps host name to role
// (default worker).
func (l *Lab) Inventory(name string, roles map[string]string) inplace.Inventory {
	inv := inplace.Inventory{Name: name, PackageManager: inplace.PackageManagerApt}
	no := false
	for _, h := range l.Hosts {
		role := roles[h.Name]
		if role == "" {
			role = inplace.RoleWorker
		}
		inv.Hosts = append(inv.Hosts, inplace.Host{Name: h.Name, Address: h.Address(), Role: role, User: l.User,
			Key: l.KeyPath, KnownHosts: l.KnownHosts, PackageManager: inplace.PackageManagerApt, Sudo: &no})
	}
	return inv
}

// SSHDLog returns what the sshd of host name logged.
func (l *Lab) SSHDLog(name string) string {
	data, _ := os.ReadFile(filepath.Join(l.Dir, "hosts", name, "sshd.log"))
	return string(data)
}
