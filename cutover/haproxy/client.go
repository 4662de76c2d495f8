package haproxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"time"
)

// client talks to HAProxy's runtime API, one connection per request (the API's
// non-interactive mode: send a line, read the answer until HAProxy closes).
type client struct {
	network, addr string
	timeout       time.Duration
}

// newClient parses a socket address: a path or unix:///path, or tcp://host:port.
func newClient(socket string) (*client, error) {
	switch {
	case strings.HasPrefix(socket, "tcp://"):
		return &client{network: "tcp", addr: strings.TrimPrefix(socket, "tcp://"), timeout: 5 * time.Second}, nil
	case strings.HasPrefix(socket, "unix://"):
		return &client{network: "unix", addr: strings.TrimPrefix(socket, "unix://"), timeout: 5 * time.Second}, nil
	case socket == "":
		return nil, errors.New("no haproxy runtime socket: pass --haproxy-socket PATH (the `stats socket` of haproxy.cfg) or tcp://HOST:PORT")
	}
	return &client{network: "unix", addr: socket, timeout: 5 * time.Second}, nil
}

func (c *client) String() string {
	if c.network == "tcp" {
		return "tcp://" + c.addr
	}
	return c.addr
}

// do sends one command line (commands may be joined with ';') and returns the answer.
func (c *client) do(ctx context.Context, line string) (string, error) {
	d := net.Dialer{Timeout: c.timeout}
	conn, err := d.DialContext(ctx, c.network, c.addr)
	if err != nil {
		return "", c.dialError(err)
	}
	defer conn.Close()
	deadline := time.Now().Add(c.timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = conn.SetDeadline(deadline)
	if _, err := io.WriteString(conn, line+"\n"); err != nil {
		return "", fmt.Errorf("writing to haproxy runtime API %s: %w", c, err)
	}
	out, err := io.ReadAll(conn)
	if err != nil {
		return "", fmt.Errorf("reading from haproxy runtime API %s: %w", c, err)
	}
	answer := string(out)
	if strings.HasPrefix(strings.TrimSpace(answer), "Permission denied") {
		return "", fmt.Errorf("haproxy runtime API %s refused %q: Permission denied: the socket needs `level admin` in haproxy.cfg's `stats socket` line", c, firstWord(line))
	}
	return answer, nil
}

func (c *client) dialError(err error) error {
	switch {
	case errors.Is(err, syscall.ENOENT):
		return fmt.Errorf("haproxy runtime socket %s does not exist: is haproxy running with `stats socket %s level admin` in its global section? (%w)", c, c.addr, err)
	case errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM):
		return fmt.Errorf("permission denied on haproxy runtime socket %s: run phoenix as a user allowed to write it (see `mode`, `user`, `group` on the `stats socket` line) (%w)", c, err)
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("nothing answers on haproxy runtime socket %s: is haproxy running? (%w)", c, err)
	}
	return fmt.Errorf("connecting to haproxy runtime API %s: %w", c, err)
}

// command sends commands whose success is an empty answer; any text is an error.
func (c *client) command(ctx context.Context, cmds ...string) error {
	out, err := c.do(ctx, strings.Join(cmds, "; "))
	if err != nil {
		return err
	}
	if msg := strings.TrimSpace(out); msg != "" {
		return fmt.Errorf("haproxy answered %q to %q", oneLine(msg), strings.Join(cmds, "; "))
	}
	return nil
}

func firstWord(s string) string {
	f := strings.Fields(s)
	if len(f) == 0 {
		return ""
	}
	if len(f) > 1 {
		return f[0] + " " + f[1]
	}
	return f[0]
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
