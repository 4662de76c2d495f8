package kubeadm_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/phoenix-upgrade/phoenix/inplace"
	"github.com/phoenix-upgrade/phoenix/inplace/inplacetest"
	"github.com/phoenix-upgrade/phoenix/kube"
	"github.com/phoenix-upgrade/phoenix/provision"
	"github.com/phoenix-upgrade/phoenix/provision/kubeadm"
	"github.com/phoenix-upgrade/phoenix/state"
)

// The hosts are real sshd servers on loopback whose apt-get, kubeadm, kubectl, systemctl,
// crictl and ss are recording stand-ins (package inplacetest).

const adminConf = `apiVersion: v1
kind: Config
clusters:
- name: kubernetes
  cluster:
    server: https://127.0.0.1:6443
contexts:
- name: admin
  context: {cluster: kubernetes, user: admin}
current-context: admin
users:
- name: admin
  user: {token: not-a-real-token}
`

func setup(t *testing.T) (*inplacetest.Lab, string, *state.Workspace) {
	lab := inplacetest.NewLab(t, "cp-1", "cp-2", "worker-1")
	lab.SetAvailable("1.37.2-1.1")
	lab.SetFile("/etc/kubernetes/admin.conf", adminConf)
	inv := lab.Inventory("green", map[string]string{"cp-1": inplace.RoleControlPlane, "cp-2": inplace.RoleControlPlane})
	data, err := yaml.Marshal(inv)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "hosts.yaml")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	ws, err := state.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return lab, path, ws
}

func TestCreateInitsJoinsAndFetchesTheKubeconfig(t *testing.T) {
	lab, inv, ws := setup(t)
	var logs bytes.Buffer
	var waited []string
	p := kubeadm.New(ws, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})), kubeadm.Options{
		Inventory: inv,
		WaitReady: func(_ context.Context, kc []byte, nodes []string, _ time.Duration) error {
			if string(kc) != adminConf {
				t.Errorf("WaitReady got kubeconfig %q", kc)
			}
			waited = nodes
			return nil
		},
	})
	spec := provision.Spec{Name: "green", Version: kube.MustParseVersion("v1.37.2"), Role: state.RoleGreen, Nodes: 3}
	c, kc, err := p.Create(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	if string(kc) != adminConf || c.Server != "https://127.0.0.1:6443" || c.Provider != "kubeadm" || !c.Managed {
		t.Errorf("cluster %+v, kubeconfig %q", c, kc)
	}
	if strings.Join(waited, ",") != "cp-1,cp-2,worker-1" {
		t.Errorf("waited for %v", waited)
	}
	got := strings.Join(lab.Recorded(), "\n")
	order := []string{
		"cp-1: swapon --show --noheadings", "cp-1: crictl info", "cp-1: ss -Htln ( sport = :6443",
		"worker-1: ss -Htln ( sport = :10250 )",
		"cp-1: tee /etc/apt/sources.list.d/kubernetes.list", "https://pkgs.k8s.io/core:/stable:/v1.37/deb/ /",
		"cp-1: apt-get update", "cp-1: apt-cache madison kubeadm",
		"cp-1: apt-mark unhold kubelet kubeadm kubectl",
		"cp-1: apt-get install -y kubelet=1.37.2-1.1 kubeadm=1.37.2-1.1 kubectl=1.37.2-1.1",
		"cp-1: apt-mark hold kubelet kubeadm kubectl", "cp-1: systemctl enable --now kubelet",
		"worker-1: systemctl enable --now kubelet",
		"cp-1: mkdir -p /etc/kubernetes", "cp-1: rm -f /etc/kubernetes/phoenix-kubeadm.yaml",
		"cp-1: tee /etc/kubernetes/phoenix-kubeadm.yaml (umask 0077)",
		"apiVersion: kubeadm.k8s.io/v1beta4", "kubernetesVersion: v1.37.2", "controlPlaneEndpoint: 127.0.0.1:6443",
		"cp-1: kubeadm init --config /etc/kubernetes/phoenix-kubeadm.yaml --upload-certs",
		"cp-1: kubectl --kubeconfig /etc/kubernetes/admin.conf apply -f " + kubeadm.DefaultCNIManifest,
		"cp-1: kubeadm token create --print-join-command",
		"cp-2: kubeadm join 127.0.0.1:6443 --token abcdef.0123456789abcdef", "--node-name cp-2 --control-plane --certificate-key ",
		"worker-1: kubeadm join 127.0.0.1:6443 --token abcdef.0123456789abcdef",
		"cp-1: rm -f /etc/kubernetes/phoenix-kubeadm.yaml",
		"cp-1: cat /etc/kubernetes/admin.conf",
	}
	rest := got
	for _, o := range order {
		i := strings.Index(rest, o)
		if i < 0 {
			t.Fatalf("%q missing or out of order in:\n%s", o, got)
		}
		rest = rest[i+len(o):]
	}
	if strings.Contains(got, "worker-1: kubeadm join 127.0.0.1:6443 --token abcdef.0123456789abcdef --discovery-token-ca-cert-hash sha256:1111111111111111111111111111111111111111111111111111111111111111 --node-name worker-1 --control-plane") {
		t.Error("a worker joined as control plane")
	}
	if strings.Contains(logs.String(), "0123456789abcdef") || strings.Contains(logs.String(), "certificate-key 0") {
		t.Errorf("a secret reached the log:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "--token <redacted>") {
		t.Errorf("join not logged (redacted):\n%s", logs.String())
	}

	lab.ResetLog()
	if err := p.Delete(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(lab.Recorded(), ";"); got != "worker-1: kubeadm reset -f;cp-2: kubeadm reset -f;cp-1: kubeadm reset -f" {
		t.Errorf("delete ran %s", got)
	}
}

func TestCreateRefusesBadInput(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(lab *inplacetest.Lab) kubeadm.Options
		want  string
		none  bool // nothing may have been changed
	}{
		{"no inventory", func(*inplacetest.Lab) kubeadm.Options { return kubeadm.Options{} }, "needs --inventory", true},
		{"a version the repository lacks", func(lab *inplacetest.Lab) kubeadm.Options {
			lab.SetAvailable("1.37.1-1.1")
			return kubeadm.Options{}
		}, "1.37.2-1.1 is not in the v1.37 package repository", false},
		{"nodes that never become Ready reset every host", func(lab *inplacetest.Lab) kubeadm.Options {
			return kubeadm.Options{}
		}, "kubeadm reset -f", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lab, inv, ws := setup(t)
			o := tc.setup(lab)
			if tc.name != "no inventory" {
				o.Inventory = inv
			}
			o.WaitReady = func(context.Context, []byte, []string, time.Duration) error { return errors.New("stand-in: not ready") }
			_, _, err := kubeadm.New(ws, nil, o).Create(context.Background(), provision.Spec{Name: "green", Version: kube.MustParseVersion("v1.37.2"), Nodes: 1})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if tc.none && len(lab.Recorded()) != 0 {
				t.Errorf("commands ran: %v", lab.Recorded())
			}
		})
	}
}
