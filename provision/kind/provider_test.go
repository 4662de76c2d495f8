package kind

import (
	"context"
	"errors"
	"strings"
	"testing"

	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"

	"github.com/phoenix-upgrade/phoenix/kube"
	"github.com/phoenix-upgrade/phoenix/provision"
	"github.com/phoenix-upgrade/phoenix/state"
)

func TestConfigHasOneControlPlaneAndWorkersAtTheVersionImage(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		nodes, workers int
	}{{1, 0}, {3, 2}} {
		cfg := Config(provision.Spec{Name: "green", Version: kube.MustParseVersion("v1.37.2"), Nodes: tc.nodes})
		if cfg.Name != "phoenix-green" {
			t.Errorf("kind cluster name %q, want phoenix-green", cfg.Name)
		}
		if len(cfg.Nodes) != tc.nodes {
			t.Fatalf("%d nodes, want %d", len(cfg.Nodes), tc.nodes)
		}
		if cfg.Nodes[0].Role != v1alpha4.ControlPlaneRole {
			t.Errorf("first node role %s, want control-plane", cfg.Nodes[0].Role)
		}
		workers := 0
		for _, n := range cfg.Nodes {
			if n.Role == v1alpha4.WorkerRole {
				workers++
			}
			if n.Image != "kindest/node:v1.37.2" {
				t.Errorf("node image %s, want kindest/node:v1.37.2", n.Image)
			}
		}
		if workers != tc.workers {
			t.Errorf("%d workers, want %d", workers, tc.workers)
		}
		if cfg.Networking.IPFamily == "" {
			t.Error("config was not defaulted by kind")
		}
	}
}

func TestCreateWithoutContainerEngineSaysWhatToDo(t *testing.T) {
	t.Parallel()
	ws, err := state.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	p := New(ws, nil)
	p.Probe = func(context.Context) (string, error) {
		return "", errors.Join(ErrNoEngine, errors.New("docker installed but its engine does not answer"))
	}
	_, _, err = p.Create(context.Background(), provision.Spec{Name: "green", Version: kube.MustParseVersion("v1.37.2"), Nodes: 1})
	if !errors.Is(err, ErrNoEngine) || !strings.Contains(err.Error(), "--provider local") {
		t.Errorf("error %v: want ErrNoEngine that suggests --provider local", err)
	}
	if err := p.Available(context.Background()); err == nil {
		t.Error("Available() = nil without an engine")
	}
}

func TestProbeEngineOnThisMachine(t *testing.T) {
	t.Parallel()
	// Whatever this machine has, the probe must either name an engine or return
	// ErrNoEngine — never a bare client without a daemon.
	engine, err := ProbeEngine(context.Background())
	if err != nil && !errors.Is(err, ErrNoEngine) {
		t.Errorf("unexpected error %v", err)
	}
	if err == nil && engine == "" {
		t.Error("no error and no engine")
	}
}
