package app

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/phoenix-upgrade/phoenix/state"
)

func run(t *testing.T, ws string, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := Run(context.Background(), append([]string{"--workspace", ws}, args...),
		genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut})
	return out.String(), errOut.String(), err
}

const kubeconfig = `apiVersion: v1
kind: Config
clusters:
- name: prod
  cluster:
    server: https://127.0.0.1:1
contexts:
- name: prod-admin
  context: {cluster: prod, user: admin}
current-context: prod-admin
users:
- name: admin
  user: {token: s3cr3t-token}
`

func TestBadInputGetsOneClearErrorAndExitCode(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := filepath.Join(dir, "good.kubeconfig")
	bad := filepath.Join(dir, "bad.kubeconfig")
	if err := os.WriteFile(good, []byte(kubeconfig), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte("clusters: [:::"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		args     []string
		wantCode int
		wantMsg  string
	}{
		{"malformed version", []string{"provision", "--version", "1.x"}, ExitUsage, "invalid Kubernetes version"},
		{"version without patch", []string{"provision", "--version", "v1.37"}, ExitUsage, "no patch number"},
		{"missing version", []string{"provision"}, ExitUsage, "--version is required"},
		{"bad cluster name", []string{"provision", "--version", "v1.37.2", "--name", "Green_1"}, ExitUsage, "invalid cluster name"},
		{"unknown provider", []string{"provision", "--version", "v1.37.2", "--provider", "vagrant"}, ExitError, "unknown provider"},
		{"unknown flag", []string{"provision", "--versoin", "v1"}, ExitUsage, "unknown flag"},
		{"unknown node runtime", []string{"provision", "--version", "v1.37.2", "--node-runtime", "docker"}, ExitUsage, "use containerd (real nodes) or kwok"},
		{"node runtime for kind", []string{"provision", "--version", "v1.37.2", "--provider", "kind", "--node-runtime", "kwok"}, ExitUsage, "--node-runtime is for the local provider"},
		{"kubeconfig that does not parse", []string{"clusters", "add", "blue", "--kubeconfig", bad}, ExitError, "does not parse"},
		{"context that does not exist", []string{"clusters", "add", "blue", "--kubeconfig", good, "--context", "nope"}, ExitError, `context "nope" does not exist`},
		{"unknown cluster", []string{"kubeconfig", "nope"}, ExitError, "not found"},
		{"unknown output", []string{"clusters", "-o", "xml"}, ExitUsage, "unknown output format"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, _, err := run(t, t.TempDir(), tc.args...)
			if err == nil {
				t.Fatal("no error")
			}
			var buf bytes.Buffer
			if code := exitCode(err, &buf); code != tc.wantCode {
				t.Errorf("exit code %d, want %d (%v)", code, tc.wantCode, err)
			}
			if !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("error %q does not contain %q", err, tc.wantMsg)
			}
			if strings.Count(strings.TrimSpace(buf.String()), "\n") > 0 && tc.wantCode == ExitUsage {
				t.Errorf("usage error spans several lines: %q", buf.String())
			}
		})
	}
}

func TestClustersAddRegistersAndKubeconfigPrintsIt(t *testing.T) {
	t.Parallel()
	ws := t.TempDir()
	kc := filepath.Join(t.TempDir(), "k")
	if err := os.WriteFile(kc, []byte(kubeconfig), 0o600); err != nil {
		t.Fatal(err)
	}
	out, _, err := run(t, ws, "clusters", "add", "blue", "--kubeconfig", kc, "--context", "prod-admin")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, "s3cr3t") {
		t.Errorf("output leaks the token: %s", out)
	}
	// Registering the same name twice is refused and the first record kept.
	if _, _, err := run(t, ws, "clusters", "add", "blue", "--kubeconfig", kc); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("second add: %v, want already exists", err)
	}
	out, _, err = run(t, ws, "kubeconfig", "blue")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "server: https://127.0.0.1:1") || !strings.Contains(out, "current-context: prod-admin") {
		t.Errorf("kubeconfig output:\n%s", out)
	}
	names, _, err := run(t, ws, "clusters", "-o", "name")
	if err != nil || strings.TrimSpace(names) != "blue" {
		t.Errorf("clusters -o name = %q, %v", names, err)
	}
	// The cluster does not answer: clusters shows it, unhealthy, and does not fail.
	table, _, err := run(t, ws, "clusters")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(table, "blue") || !strings.Contains(table, "external") || strings.Contains(table, "Healthy ") {
		t.Errorf("clusters table:\n%s", table)
	}
	// delete forgets a registered cluster without touching it.
	out, _, err = run(t, ws, "delete", "cluster", "blue")
	if err != nil || !strings.Contains(out, "left running") {
		t.Errorf("delete: %q %v", out, err)
	}
	w, _ := state.Open(ws)
	if _, err := w.Cluster("blue"); !errors.Is(err, state.ErrNotFound) {
		t.Errorf("blue still recorded: %v", err)
	}
}

func TestProvisionRefusesATakenName(t *testing.T) {
	t.Parallel()
	ws := t.TempDir()
	w, _ := state.Open(ws)
	if err := w.SaveCluster(state.Cluster{Name: "green", Provider: "external"}, nil); err != nil {
		t.Fatal(err)
	}
	_, _, err := run(t, ws, "provision", "--version", "v1.37.2", "--provider", "local", "--name", "green")
	if err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("error %v, want already exists", err)
	}
}

func TestEveryCommandShowsAnExample(t *testing.T) {
	t.Parallel()
	root := NewRootCommand(genericiooptions.NewTestIOStreamsDiscard())
	for _, c := range allCommands(root) {
		if c.Runnable() && c.Example == "" && c.Name() != "help" && !strings.HasPrefix(c.CommandPath(), "phoenix completion") {
			t.Errorf("%s has no Example", c.CommandPath())
		}
	}
}

func TestProvisionKubeadmNeedsAnInventory(t *testing.T) {
	t.Parallel()
	_, _, err := run(t, t.TempDir(), "provision", "--version", "v1.37.2", "--provider", "kubeadm")
	var buf bytes.Buffer
	if err == nil || exitCode(err, &buf) != ExitUsage || !strings.Contains(err.Error(), "--inventory") {
		t.Errorf("error %v, want a usage error naming --inventory", err)
	}
}
