package inplace

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// HostKeyError is returned when a host's key is not in its known_hosts file, or differs
// from the one recorded there. phoenix never connects to such a host.
type HostKeyError struct {
	Host, Address, KnownHosts string
	// Fingerprint is the SHA256 fingerprint of the key the host presented.
	Fingerprint string
	// Changed is true when known_hosts holds a different key for the host.
	Changed bool
}

func (e *HostKeyError) Error() string {
	if e.Changed {
		return fmt.Sprintf("host %s (%s) presented host key %s, which differs from the key recorded in %s: refusing to connect (the host may have been reinstalled, or someone is intercepting the connection); verify the new key out of band before replacing the entry",
			e.Host, e.Address, e.Fingerprint, e.KnownHosts)
	}
	return fmt.Sprintf("host %s (%s) presented an unknown host key %s: refusing to connect; verify the fingerprint out of band (on the host: ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub) and add the key to %s (ssh-keyscan)",
		e.Host, e.Address, e.Fingerprint, e.KnownHosts)
}

// CmdResult is what a command printed and how it ended.
type CmdResult struct {
	Stdout, Stderr []byte
	ExitCode       int
}

// Output is stdout followed by stderr, redacted.
func (r CmdResult) Output() string {
	return Redact(strings.TrimRight(string(r.Stdout)+string(r.Stderr), "\n"))
}

// RunError is a command that failed on a host; it carries the command's (redacted) output.
type RunError struct {
	Host, Command string
	ExitCode      int
	Output        string
	Err           error
}

func (e *RunError) Error() string {
	msg := fmt.Sprintf("on %s: `%s`", e.Host, e.Command)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	} else {
		msg += fmt.Sprintf(" exited %d", e.ExitCode)
	}
	if e.Output != "" {
		msg += "\n" + tail(e.Output, 20)
	}
	return msg
}

func (e *RunError) Unwrap() error { return e.Err }

// Conn is an SSH connection to one host.
type Conn struct {
	host   Host
	client *ssh.Client
	// Grace is how long a command interrupted by its context (Ctrl-C, a timeout) is given
	// to end after SIGINT before it is killed (default DefaultGrace).
	Grace time.Duration
}

// DefaultGrace is Conn.Grace's default: long enough for kubeadm to roll back a
// component it was replacing.
const DefaultGrace = 30 * time.Second

// Dial connects to h, checking its host key against h.KnownHosts (never skipped) and
// authenticating with h.Key. timeout bounds the TCP connect and the SSH handshake.
func Dial(ctx context.Context, h Host, timeout time.Duration) (*Conn, error) {
	keyData, err := os.ReadFile(h.Key)
	if err != nil {
		return nil, fmt.Errorf("host %s: reading SSH key: %w", h.Name, err)
	}
	signer, err := ssh.ParsePrivateKey(keyData)
	if err != nil {
		var pe *ssh.PassphraseMissingError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("host %s: SSH key %s is protected by a passphrase: give phoenix a key without one, kept only for this upgrade", h.Name, h.Key)
		}
		return nil, fmt.Errorf("host %s: SSH key %s: %w", h.Name, h.Key, err)
	}
	check, err := knownhosts.New(h.KnownHosts)
	if err != nil {
		return nil, fmt.Errorf("host %s: known_hosts %s: %w", h.Name, h.KnownHosts, err)
	}
	var keyErr *HostKeyError
	cfg := &ssh.ClientConfig{
		User: h.User,
		Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: func(hostname string, remote net.Addr, key ssh.PublicKey) error {
			err := check(hostname, remote, key)
			var ke *knownhosts.KeyError
			if errors.As(err, &ke) {
				keyErr = &HostKeyError{Host: h.Name, Address: h.Address, KnownHosts: h.KnownHosts,
					Fingerprint: ssh.FingerprintSHA256(key), Changed: len(ke.Want) > 0}
				return keyErr
			}
			return err
		},
		HostKeyAlgorithms: knownAlgorithms(check, h.Address),
		Timeout:           timeout,
	}
	d := net.Dialer{Timeout: timeout}
	nc, err := d.DialContext(ctx, "tcp", h.Address)
	if err != nil {
		return nil, fmt.Errorf("host %s (%s) does not answer: %w (check the address, that sshd runs and that a firewall lets you through)", h.Name, h.Address, err)
	}
	_ = nc.SetDeadline(time.Now().Add(timeout))
	c, chans, reqs, err := ssh.NewClientConn(nc, h.Address, cfg)
	if err != nil {
		_ = nc.Close()
		if keyErr != nil {
			return nil, keyErr
		}
		return nil, fmt.Errorf("host %s (%s): SSH handshake as %s failed: %w (check user and key)", h.Name, h.Address, h.User, err)
	}
	_ = nc.SetDeadline(time.Time{})
	return &Conn{host: h, client: ssh.NewClient(c, chans, reqs)}, nil
}

// knownAlgorithms returns the host key algorithms known_hosts holds for addr, so the
// server is asked for a key type we can check rather than one we would wrongly take for
// a changed key.
func knownAlgorithms(check ssh.HostKeyCallback, addr string) []string {
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil
	}
	probe, err := ssh.NewPublicKey(pub)
	if err != nil {
		return nil
	}
	tcp, _ := net.ResolveTCPAddr("tcp", addr)
	var ke *knownhosts.KeyError
	if err := check(addr, tcp, probe); !errors.As(err, &ke) || len(ke.Want) == 0 {
		return nil
	}
	var algos []string
	seen := map[string]bool{}
	for _, k := range ke.Want {
		t := k.Key.Type()
		switch t {
		case ssh.KeyAlgoRSA:
			for _, a := range []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA} {
				if !seen[a] {
					seen[a] = true
					algos = append(algos, a)
				}
			}
		default:
			if !seen[t] {
				seen[t] = true
				algos = append(algos, t)
			}
		}
	}
	return algos
}

// Host is the host this connection reaches.
func (c *Conn) Host() Host { return c.host }

// Close closes the connection.
func (c *Conn) Close() error { return c.client.Close() }

// Run runs command on the host (through `sudo -n sh -c` when the host uses sudo), feeding
// it stdin when not nil. A non-zero exit is a *RunError carrying the redacted output;
// ctx's deadline is the command's timeout: the remote command is killed when it passes.
func (c *Conn) Run(ctx context.Context, command string, stdin io.Reader) (CmdResult, error) {
	sess, err := c.client.NewSession()
	if err != nil {
		return CmdResult{}, &RunError{Host: c.host.Name, Command: Redact(command), ExitCode: -1, Err: fmt.Errorf("opening SSH session: %w", err)}
	}
	defer sess.Close()
	var stdout bytes.Buffer
	stderr := &pidWriter{}
	sess.Stdout, sess.Stderr = &stdout, stderr
	if stdin != nil {
		sess.Stdin = stdin
	}
	full := command
	if c.host.UseSudo() {
		full = Argv("sudo", "-n", "sh", "-c", command)
	}
	// The shell sshd starts leads its own session and process group; its pid, printed
	// first on stderr (and taken out of it), lets interrupt signal the whole group from
	// a second session: OpenSSH delivers a session's signal requests only with privilege
	// separation, which it turns off for root logins, and never to a forced command.
	full = `printf '` + pidMarker + `%s\n' "$$" >&2; ` + full
	if err := sess.Start(full); err != nil {
		return CmdResult{}, &RunError{Host: c.host.Name, Command: Redact(command), ExitCode: -1, Err: err}
	}
	done := make(chan error, 1)
	go func() { done <- sess.Wait() }()
	select {
	case err = <-done:
	case <-ctx.Done():
		return c.interrupt(ctx, command, sess, done, &stdout, stderr)
	}
	res := CmdResult{Stdout: stdout.Bytes(), Stderr: stderr.Bytes()}
	if err != nil {
		var ee *ssh.ExitError
		if errors.As(err, &ee) {
			res.ExitCode = ee.ExitStatus()
			return res, &RunError{Host: c.host.Name, Command: Redact(command), ExitCode: res.ExitCode, Output: res.Output()}
		}
		res.ExitCode = -1
		return res, &RunError{Host: c.host.Name, Command: Redact(command), ExitCode: -1, Output: res.Output(), Err: err}
	}
	return res, nil
}

// interrupt ends a command whose context is done: SIGINT first, so that the remote
// program (kubeadm, apt) can stop cleanly; after Grace, SIGKILL and the session closed;
// when even that does not end it, the connection is dropped. The error says which of
// these happened and what state the host may be in.
func (c *Conn) interrupt(ctx context.Context, command string, sess *ssh.Session, done <-chan error, stdout *bytes.Buffer, stderr *pidWriter) (CmdResult, error) {
	grace := c.Grace
	if grace <= 0 {
		grace = DefaultGrace
	}
	why := ctx.Err()
	if errors.Is(why, context.DeadlineExceeded) {
		why = fmt.Errorf("timed out: %w", why)
	}
	_ = sess.Signal(ssh.SIGINT)
	c.signalGroup(stderr.pid(), "INT")
	var state string
	exit := -1
	select {
	case err := <-done:
		var ee *ssh.ExitError
		if errors.As(err, &ee) {
			exit = ee.ExitStatus()
		} else if err == nil {
			exit = 0
		}
		state = fmt.Sprintf("sent SIGINT; the command ended by itself (exit %d) within %s: it stopped where it chose to, check the host before resuming", exit, grace)
	case <-time.After(grace):
		_ = sess.Signal(ssh.SIGKILL)
		c.signalGroup(stderr.pid(), "KILL")
		_ = sess.Close()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = c.client.Close()
		}
		state = fmt.Sprintf("sent SIGINT, the command did not end within %s, so it was killed (SIGKILL): the host may be in the middle of this step (half-installed packages, a half-replaced static pod); check it before `phoenix upgrade --resume`, which reruns the step", grace)
	}
	res := CmdResult{Stdout: stdout.Bytes(), Stderr: stderr.Bytes(), ExitCode: exit}
	return res, &RunError{Host: c.host.Name, Command: Redact(command), ExitCode: exit, Output: res.Output(),
		Err: fmt.Errorf("%w: %s", why, state)}
}

// signalGroup sends sig to the remote process group pgid from a new session (through
// sudo when the host uses it), best effort and bounded in time.
func (c *Conn) signalGroup(pgid int, sig string) {
	if pgid <= 1 {
		return
	}
	sess, err := c.client.NewSession()
	if err != nil {
		return
	}
	defer sess.Close()
	cmd := Argv("kill", "-"+sig, "--", "-"+strconv.Itoa(pgid))
	if c.host.UseSudo() {
		cmd = Argv("sudo", "-n", "sh", "-c", cmd)
	}
	done := make(chan error, 1)
	go func() { done <- sess.Run(cmd) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
	}
}

const pidMarker = "phoenix-remote-pid:"

// pidWriter collects stderr, taking the first line out when it is the pid marker.
type pidWriter struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	header []byte
	done   bool
	pgid   int
}

func (w *pidWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := len(p)
	if !w.done {
		w.header = append(w.header, p...)
		i := bytes.IndexByte(w.header, '\n')
		if i < 0 && len(w.header) < 64 {
			return n, nil
		}
		w.done = true
		line := w.header
		rest := []byte(nil)
		if i >= 0 {
			line, rest = w.header[:i], w.header[i+1:]
		}
		if v, ok := bytes.CutPrefix(line, []byte(pidMarker)); ok {
			w.pgid, _ = strconv.Atoi(string(v))
			p = rest
		} else {
			p = w.header
		}
		w.header = nil
	}
	w.buf.Write(p)
	return n, nil
}

func (w *pidWriter) pid() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.pgid
}

// Bytes returns stderr without the pid line.
func (w *pidWriter) Bytes() []byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		return append([]byte(nil), w.header...)
	}
	return append([]byte(nil), w.buf.Bytes()...)
}

func tail(s string, lines int) string {
	parts := strings.Split(s, "\n")
	if len(parts) <= lines {
		return s
	}
	return "...\n" + strings.Join(parts[len(parts)-lines:], "\n")
}
