package inplace

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadInventory(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"id", "known_hosts"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	good := `
name: prod
user: ops
key: id
knownHosts: known_hosts
hosts:
- {name: cp-1, address: 10.0.0.1, role: control-plane}
- {name: w-1, address: "10.0.0.2:2222", role: worker, user: root, packageManager: yum}
`
	for _, tc := range []struct {
		name, yaml string
		want       []string // substrings of the error; none means valid
	}{
		{"a valid inventory loads with defaults filled", good, nil},
		{"no control plane is refused", strings.Replace(good, "control-plane", "worker", 1), []string{"no control-plane host"}},
		{"duplicate names are refused", strings.Replace(good, "name: w-1", "name: cp-1", 1), []string{"duplicate name"}},
		{"a missing key file is refused", strings.Replace(good, "key: id", "key: nope", 1), []string{"key", "nope"}},
		{"a missing known_hosts is refused", strings.Replace(good, "knownHosts: known_hosts\n", "", 1), []string{"knownHosts is required"}},
		{"an unknown role is refused", strings.Replace(good, "role: worker", "role: master", 1), []string{`role "master"`}},
		{"an unknown package manager is refused", strings.Replace(good, "yum", "pacman", 1), []string{`packageManager "pacman"`}},
		{"unknown fields are refused", good + "extra: 1\n", []string{"not valid"}},
		{"every problem is reported at once", strings.Replace(strings.Replace(good, "control-plane", "worker", 1), "name: w-1", "name: cp-1", 1), []string{"no control-plane", "duplicate name"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, "inv.yaml")
			if err := os.WriteFile(path, []byte(tc.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			inv, err := LoadInventory(path)
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				cp := inv.ControlPlanes()[0]
				if cp.Address != "10.0.0.1:22" || cp.Key != filepath.Join(dir, "id") || cp.PackageManager != PackageManagerApt || !cp.UseSudo() {
					t.Errorf("defaults not filled: %+v", cp)
				}
				if w := inv.Workers()[0]; w.UseSudo() || w.PackageManager != PackageManagerYum {
					t.Errorf("worker: %+v", w)
				}
				return
			}
			if err == nil {
				t.Fatal("inventory accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestRedactRemovesSecrets(t *testing.T) {
	for _, tc := range []struct{ name, in, secret string }{
		{"a join command's token", "kubeadm join 10.0.0.1:6443 --token abcdef.0123456789abcdef --discovery-token-ca-cert-hash sha256:aa", "0123456789abcdef"},
		{"a bare bootstrap token", "token is k8s12a.zyx9876543210abc ok", "zyx9876543210abc"},
		{"a certificate key flag", "kubeadm join --control-plane --certificate-key 0f1e2d3c4b5a69780f1e2d3c4b5a69780f1e2d3c4b5a69780f1e2d3c4b5a6978", "0f1e2d3c4b5a6978"},
		{"a certificate key in a config", `certificateKey: "0f1e2d3c4b5a69780f1e2d3c"`, "0f1e2d3c4b5a6978"},
		{"a password", "password=hunter2", "hunter2"},
		{"a private key", "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEI\n-----END EC PRIVATE KEY-----", "MHcCAQEEI"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Redact(tc.in)
			if strings.Contains(got, tc.secret) || !strings.Contains(got, Redacted) {
				t.Errorf("Redact(%q) = %q", tc.in, got)
			}
		})
	}
	if got := Redact("kubeadm upgrade apply v1.28.15 --yes"); got != "kubeadm upgrade apply v1.28.15 --yes" {
		t.Errorf("plain command changed: %q", got)
	}
}
