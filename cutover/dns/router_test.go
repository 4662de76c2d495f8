package dns

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/phoenix-upgrade/phoenix/cutover"
)

const testSecret = "gAN79HouSQoySYpfeLFkSYYNh0+DUiOQ/rRZ64TvL0k="

// startNamed starts BIND 9 (Debian package bind9) on 127.0.0.1 with a dynamic zone
// example.test that accepts updates signed with the key "phoenix". It returns the
// server address and the key file.
func startNamed(t *testing.T) (string, string) {
	t.Helper()
	bin, err := exec.LookPath("named")
	if err != nil {
		if os.Getenv("PHOENIX_REQUIRE_INTEGRATION") == "1" {
			t.Fatalf("named not on PATH (install Debian package bind9): %v", err)
		}
		t.Skipf("named not on PATH (install Debian package bind9): %v", err)
	}
	dir := t.TempDir()
	port := freePort(t)
	key := fmt.Sprintf("key \"phoenix\" {\n\talgorithm hmac-sha256;\n\tsecret %q;\n};\n", testSecret)
	keyFile := filepath.Join(dir, "phoenix.key")
	write(t, keyFile, key)
	write(t, filepath.Join(dir, "example.test.db"), `$ORIGIN example.test.
$TTL 60
@    IN SOA ns.example.test. admin.example.test. 1 3600 600 86400 60
@    IN NS  ns.example.test.
ns   IN A   127.0.0.1
app  IN A   192.0.2.1
`)
	conf := filepath.Join(dir, "named.conf")
	write(t, conf, fmt.Sprintf(`options {
	directory %[1]q;
	pid-file %[4]q;
	listen-on port %[2]d { 127.0.0.1; };
	listen-on-v6 { none; };
	recursion no;
	dnssec-validation no;
	session-keyfile %[5]q;
};
controls { };
%[3]s
zone "example.test" {
	type primary;
	file %[6]q;
	allow-update { key "phoenix"; };
};
`, dir, port, key, filepath.Join(dir, "named.pid"), filepath.Join(dir, "session.key"), filepath.Join(dir, "example.test.db")))
	var log bytes.Buffer
	cmd := exec.Command(bin, "-g", "-n", "1", "-c", conf)
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-done })
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for i := 0; ; i++ {
		select {
		case <-done:
			t.Fatalf("named exited:\n%s", log.String())
		default:
		}
		m := new(mdns.Msg)
		m.SetQuestion("example.test.", mdns.TypeSOA)
		if r, _, err := (&mdns.Client{Net: "tcp", Timeout: time.Second}).Exchange(m, addr); err == nil && r.Rcode == mdns.RcodeSuccess {
			break
		}
		if i > 500 {
			t.Fatalf("named never answered on %s:\n%s", addr, log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return addr, keyFile
}

func freePort(t *testing.T) int {
	for i := 0; i < 20; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		_ = l.Close()
		if err == nil {
			_ = u.Close()
			return port
		}
	}
	t.Fatal("no free port for named")
	return 0
}

func write(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

func newRouter(t *testing.T, addr, keyFile string) *Router {
	t.Helper()
	r, err := New(cutover.DNSConfig{
		Server: addr, Zone: "example.test", Name: "app.example.test", TTL: 15,
		BlueAddrs:   []string{"192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"},
		GreenAddrs:  []string{"198.51.100.1", "198.51.100.2", "198.51.100.3", "198.51.100.4"},
		TSIGKeyFile: keyFile,
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestBINDServesTheWeightedRecords(t *testing.T) {
	addr, keyFile := startNamed(t)
	r := newRouter(t, addr, keyFile)
	ctx := context.Background()
	if w, err := r.Weights(ctx); err != nil || w != cutover.AllBlue {
		t.Fatalf("initial %v %v", w, err)
	}
	for _, tc := range []struct{ green, wantGreen, wantAddrs int }{
		{10, 20, 5}, {50, 50, 2}, {75, 75, 4}, {100, 100, 4}, {0, 0, 4},
	} {
		if err := r.SetWeights(ctx, 100-tc.green, tc.green); err != nil {
			t.Fatalf("green %d: %v", tc.green, err)
		}
		w, err := r.Weights(ctx)
		if err != nil || w.Green != tc.wantGreen {
			t.Errorf("green %d: BIND serves %v %v, want green %d", tc.green, w, err, tc.wantGreen)
		}
		addrs, _ := r.Addresses(ctx)
		if len(addrs) != tc.wantAddrs {
			t.Errorf("green %d: %d addresses %v, want %d", tc.green, len(addrs), addrs, tc.wantAddrs)
		}
	}
	if r.RollbackBound() != 15*time.Second {
		t.Errorf("rollback bound %s, want the TTL", r.RollbackBound())
	}
}

func TestBadTSIGKeyIsRefusedAndLeavesRecords(t *testing.T) {
	addr, keyFile := startNamed(t)
	good := newRouter(t, addr, keyFile)
	ctx := context.Background()
	if err := good.SetWeights(ctx, 50, 50); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(t.TempDir(), "bad.key")
	write(t, bad, "key \"phoenix\" {\n\talgorithm hmac-sha256;\n\tsecret \"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\";\n};\n")
	unknown := filepath.Join(t.TempDir(), "unknown.key")
	write(t, unknown, "key \"stranger\" {\n\talgorithm hmac-sha256;\n\tsecret \"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\";\n};\n")
	for _, kf := range []string{bad, unknown} {
		err := newRouter(t, addr, kf).SetWeights(ctx, 100, 0)
		if err == nil || !strings.Contains(err.Error(), "refused") || !strings.Contains(err.Error(), kf) {
			t.Fatalf("%s: got %v, want a refusal naming the key file", filepath.Base(kf), err)
		}
		if strings.Contains(err.Error(), "AAAAAAAA") || strings.Contains(err.Error(), testSecret) {
			t.Fatalf("the error leaks the secret: %v", err)
		}
		t.Logf("%s: %v", filepath.Base(kf), err)
		if w, err := good.Weights(ctx); err != nil || w.Green != 50 {
			t.Fatalf("records changed after a refused update: %v %v", w, err)
		}
	}
}

func TestBadConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	key := filepath.Join(dir, "k")
	write(t, key, fmt.Sprintf("key \"k\" { algorithm hmac-sha256; secret %q; };", testSecret))
	notKey := filepath.Join(dir, "n")
	write(t, notKey, "secret")
	base := cutover.DNSConfig{Server: "127.0.0.1:53", Zone: "example.test", Name: "app.example.test", BlueAddrs: []string{"192.0.2.1"}, GreenAddrs: []string{"192.0.2.2"}, TSIGKeyFile: key}
	for _, tc := range []struct {
		name string
		mod  func(*cutover.DNSConfig)
		want string
	}{
		{"name outside the zone", func(c *cutover.DNSConfig) { c.Name = "app.other.test" }, "is not in --dns-zone"},
		{"bad address", func(c *cutover.DNSConfig) { c.GreenAddrs = []string{"green"} }, "not an IP"},
		{"same address twice", func(c *cutover.DNSConfig) { c.GreenAddrs = c.BlueAddrs }, "in both"},
		{"not a key file", func(c *cutover.DNSConfig) { c.TSIGKeyFile = notKey }, "not a BIND key file"},
		{"missing key file", func(c *cutover.DNSConfig) { c.TSIGKeyFile = key + "x" }, "reading TSIG key file"},
	} {
		cfg := base
		tc.mod(&cfg)
		_, err := New(cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q", tc.name, err, tc.want)
		}
	}
	r, err := New(base)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.SetWeights(context.Background(), 20, 90); !errors.Is(err, cutover.ErrOutOfRange) {
		t.Errorf("weights 20/90: %v", err)
	}
}

func TestMix(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ green, nb, ng, b, g int }{
		{0, 3, 3, 3, 0}, {100, 3, 3, 0, 3}, {10, 1, 1, 1, 1}, {10, 9, 1, 9, 1}, {50, 4, 4, 1, 1}, {25, 4, 4, 3, 1},
	} {
		if b, g := mix(tc.green, tc.nb, tc.ng); b != tc.b || g != tc.g {
			t.Errorf("mix(%d, %d, %d) = %d, %d; want %d, %d", tc.green, tc.nb, tc.ng, b, g, tc.b, tc.g)
		}
	}
}
