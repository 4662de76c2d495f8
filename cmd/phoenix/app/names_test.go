package app

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/yaml"

	"github.com/phoenix-upgrade/phoenix/inplace"
	"github.com/phoenix-upgrade/phoenix/inplace/inplacetest"
	"github.com/phoenix-upgrade/phoenix/state"
)

func TestWorkspaceNamesCannotEscapeAndUnknownProvidersAreErrors(t *testing.T) {
	t.Parallel()
	ws := t.TempDir()
	w, err := state.Open(ws)
	if err != nil {
		t.Fatal(err)
	}
	// A file outside the clusters directory that ../../x would reach.
	if err := os.MkdirAll(filepath.Join(ws, "x"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ws, "x", "kubeconfig"), []byte("outside"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ws, "x", "cluster.json"), []byte(`{"name":"../../x","provider":"external"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"kubeconfig", "../../x"}, {"kubeconfig", "../x"}, {"delete", "cluster", "../../x", "--yes"}} {
		out, _, err := run(t, ws, args...)
		if err == nil || !strings.Contains(err.Error(), "invalid cluster name") || strings.Contains(out, "outside") {
			t.Errorf("%v: out %q err %v, want an invalid-name refusal", args, out, err)
		}
	}
	if err := state.WriteJSONAtomic(filepath.Join(w.ClusterDir("odd"), "cluster.json"), state.Cluster{Name: "odd", Provider: "martian", Managed: true}, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"kubeconfig", "odd"}, {"delete", "cluster", "odd", "--yes"}} {
		_, _, err := run(t, ws, args...)
		if err == nil || !strings.Contains(err.Error(), `provider "martian"`) {
			t.Errorf("%v: %v, want an unknown-provider error", args, err)
		}
	}
}

func TestDeletingAKubeadmClusterListsTheHostsAndAsks(t *testing.T) {
	lab := inplacetest.NewLab(t, "cp-1", "worker-1")
	inv := lab.Inventory("green", map[string]string{"cp-1": inplace.RoleControlPlane})
	data, err := yaml.Marshal(inv)
	if err != nil {
		t.Fatal(err)
	}
	invPath := filepath.Join(t.TempDir(), "hosts.yaml")
	if err := os.WriteFile(invPath, data, 0o600); err != nil {
		t.Fatal(err)
	}
	ws := t.TempDir()
	w, err := state.Open(ws)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.SaveCluster(state.Cluster{Name: "green", Provider: "kubeadm", Managed: true, Created: time.Now(), Details: map[string]string{"inventory": invPath}}, []byte("kc")); err != nil {
		t.Fatal(err)
	}
	del := func(answer string, extra ...string) (string, string, error) {
		var out, errOut bytes.Buffer
		err := Run(context.Background(), append([]string{"--workspace", ws, "delete", "cluster", "green"}, extra...),
			genericiooptions.IOStreams{In: strings.NewReader(answer), Out: &out, ErrOut: &errOut})
		return out.String(), errOut.String(), err
	}
	for _, answer := range []string{"", "n\n", "whatever\n"} {
		_, errOut, err := del(answer)
		if err == nil || !strings.Contains(err.Error(), "not confirmed") {
			t.Errorf("answer %q: %v, want a refusal", answer, err)
		}
		if !strings.Contains(errOut, "cp-1 ("+inv.Hosts[0].Address) || !strings.Contains(errOut, "worker-1 (") || !strings.Contains(errOut, "kubeadm reset -f") {
			t.Errorf("the question does not list the hosts:\n%s", errOut)
		}
	}
	if got := lab.Recorded(); len(got) != 0 || !w.HasCluster("green") {
		t.Fatalf("an unconfirmed delete ran %v (cluster still recorded: %v)", got, w.HasCluster("green"))
	}
	if out, _, err := del("y\n"); err != nil || !strings.Contains(out, "Deleted cluster green") {
		t.Fatalf("confirmed delete: %v %s", err, out)
	}
	if got := strings.Join(lab.Recorded(), ";"); got != "worker-1: kubeadm reset -f;cp-1: kubeadm reset -f" {
		t.Errorf("delete ran %s", got)
	}
}
