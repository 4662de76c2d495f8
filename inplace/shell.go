package inplace

import (
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
)

// Remote commands are built in one way only: every word goes through Argv, which quotes it
// for a POSIX shell, and the few shell operators phoenix needs (a pipe, a redirection, an
// environment prefix) are constants written next to the quoted words. No value from an
// inventory, a flag or a remote host is ever concatenated into a command unquoted.

// Argv quotes every argument with ShellQuote and joins them with spaces.
func Argv(args ...string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = ShellQuote(a)
	}
	return strings.Join(q, " ")
}

// Pipe joins commands built by Argv with `|`.
func Pipe(cmds ...string) string { return strings.Join(cmds, " | ") }

// ShellQuote quotes s for a POSIX shell: words made only of letters, digits and
// -_./=:,+@% stay as they are, anything else is put in single quotes (a single quote
// inside becomes '\”).
func ShellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,+@%", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

var (
	// RFC 1123 label: what a host name in the inventory must be.
	labelRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)
	// RFC 1123 subdomain: a Kubernetes node name.
	subdomainRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	// POSIX portable user names (plus the trailing $ some systems allow is left out).
	userRE = regexp.MustCompile(`^[a-z_][a-z0-9_.-]{0,31}$`)
	// Debian revisions and RPM releases: 1.1, 150500.1.1, 1.1+deb12u1, 1~rc1.
	revisionRE = regexp.MustCompile(`^[0-9A-Za-z][0-9A-Za-z.+~_]{0,63}$`)
)

// ValidateHostName checks a host's inventory name: an RFC 1123 label.
func ValidateHostName(name string) error {
	if !labelRE.MatchString(name) {
		return fmt.Errorf("host name %q is not an RFC 1123 label: use lowercase letters, digits and '-', at most 63 characters", name)
	}
	return nil
}

// ValidateNodeName checks a Kubernetes node name: an RFC 1123 subdomain.
func ValidateNodeName(name string) error {
	if len(name) > 253 || !subdomainRE.MatchString(name) {
		return fmt.Errorf("node name %q is not an RFC 1123 subdomain: use lowercase letters, digits, '-' and '.', at most 253 characters", name)
	}
	return nil
}

// ValidateUser checks an SSH user name.
func ValidateUser(name string) error {
	if !userRE.MatchString(name) {
		return fmt.Errorf("user %q is not a valid user name: use lowercase letters, digits, '_', '.' and '-', starting with a letter or '_'", name)
	}
	return nil
}

// ValidateRevision checks a package revision (--package-revision): letters, digits and
// . + ~ _, starting with a letter or digit, e.g. 1.1 or 150500.1.1.
func ValidateRevision(rev string) error {
	if rev != "" && !revisionRE.MatchString(rev) {
		return fmt.Errorf("package revision %q is not valid: use letters, digits and . + ~ _ (e.g. %s for deb, %s for rpm)", rev, DefaultDebRevision, DefaultRPMRevision)
	}
	return nil
}

// ValidateAddress checks host:port: an IP address or an RFC 1123 name, and a port number.
func ValidateAddress(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("address %q: %w (use host or host:port)", addr, err)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("address %q: port %q is not a number from 1 to 65535", addr, port)
	}
	if net.ParseIP(host) == nil && (len(host) > 253 || !subdomainRE.MatchString(strings.ToLower(host))) {
		return fmt.Errorf("address %q: %q is neither an IP address nor a host name", addr, host)
	}
	return nil
}
