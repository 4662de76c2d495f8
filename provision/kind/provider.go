package kind

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
	"strings"
	"time"

	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	"sigs.k8s.io/kind/pkg/cluster"
	kindlog "sigs.k8s.io/kind/pkg/log"

	"github.com/phoenix-upgrade/phoenix/provision"
	"github.com/phoenix-upgrade/phoenix/state"
)

// Name is the provider's name.
const Name = "kind"

// ClusterPrefix prefixes the kind cluster name so phoenix's clusters are recognisable in
// `kind get clusters`.
const ClusterPrefix = "phoenix-"

// EngineProbe answers whether a container engine is running; it returns the engine's
// name ("docker", "podman", "nerdctl") or an error saying what is missing.
type EngineProbe func(ctx context.Context) (string, error)

// Provider creates kind clusters.
type Provider struct {
	ws    *state.Workspace
	log   *slog.Logger
	Probe EngineProbe
}

var (
	_ provision.Provider     = (*Provider)(nil)
	_ provision.Availability = (*Provider)(nil)
)

// New returns the kind provider working in ws.
func New(ws *state.Workspace, log *slog.Logger) *Provider {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Provider{ws: ws, log: log, Probe: ProbeEngine}
}

// Name implements provision.Provider.
func (p *Provider) Name() string { return Name }

// ErrNoEngine says that no container engine answers.
var ErrNoEngine = errors.New("no container engine answers: kind needs a running Docker or Podman (start it, or use --provider local)")

// ProbeEngine asks docker, podman and nerdctl, in that order, for their server version.
// A client without a running engine (a `docker` binary whose daemon is absent) does not
// count.
func ProbeEngine(ctx context.Context) (string, error) {
	var tried []string
	for _, engine := range []string{"docker", "podman", "nerdctl"} {
		if _, err := exec.LookPath(engine); err != nil {
			continue
		}
		tried = append(tried, engine)
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		out, err := exec.CommandContext(cctx, engine, "info", "--format", "{{.ServerVersion}}").CombinedOutput()
		cancel()
		if err == nil && strings.TrimSpace(string(out)) != "" {
			return engine, nil
		}
	}
	if len(tried) == 0 {
		return "", fmt.Errorf("%w (none of docker, podman, nerdctl is installed)", ErrNoEngine)
	}
	return "", fmt.Errorf("%w (%s installed but its engine does not answer `info`)", ErrNoEngine, strings.Join(tried, ", "))
}

// Available implements provision.Availability.
func (p *Provider) Available(ctx context.Context) error {
	_, err := p.Probe(ctx)
	return err
}

func (p *Provider) kindProvider(engine string) *cluster.Provider {
	opts := []cluster.ProviderOption{cluster.ProviderWithLogger(kindlog.NoopLogger{})}
	switch engine {
	case "podman":
		opts = append(opts, cluster.ProviderWithPodman())
	case "nerdctl":
		opts = append(opts, cluster.ProviderWithNerdctl(""))
	default:
		opts = append(opts, cluster.ProviderWithDocker())
	}
	return cluster.NewProvider(opts...)
}

// Create implements provision.Provider.
func (p *Provider) Create(ctx context.Context, spec provision.Spec) (state.Cluster, []byte, error) {
	if err := provision.ValidateSpec(spec); err != nil {
		return state.Cluster{}, nil, err
	}
	engine, err := p.Probe(ctx)
	if err != nil {
		return state.Cluster{}, nil, err
	}
	cfg := Config(spec)
	image := NodeImage(spec.Version)
	kp := p.kindProvider(engine)
	kindName := ClusterPrefix + spec.Name
	wait := spec.Wait
	if wait <= 0 {
		wait = 5 * time.Minute
	}
	p.log.Info("creating kind cluster", "name", kindName, "image", image, "engine", engine)
	if err := kp.Create(kindName,
		cluster.CreateWithV1Alpha4Config(cfg),
		cluster.CreateWithNodeImage(image),
		cluster.CreateWithWaitForReady(wait),
		cluster.CreateWithKubeconfigPath(p.ws.KubeconfigPath(spec.Name)+".kind"),
		cluster.CreateWithDisplayUsage(false),
		cluster.CreateWithDisplaySalutation(false),
	); err != nil {
		_ = kp.Delete(kindName, "")
		return state.Cluster{}, nil, fmt.Errorf("kind create cluster %s (image %s): %w", kindName, image, err)
	}
	kc, err := kp.KubeConfig(kindName, false)
	if err != nil {
		_ = kp.Delete(kindName, "")
		return state.Cluster{}, nil, err
	}
	c := state.Cluster{
		Name: spec.Name, Role: spec.Role, Provider: Name, Version: spec.Version.String(), Managed: true,
		Context: "kind-" + kindName, Created: time.Now().UTC(),
		Details: map[string]string{"kindCluster": kindName, "nodeImage": image, "engine": engine},
	}
	return c, []byte(kc), nil
}

// Delete implements provision.Provider.
func (p *Provider) Delete(ctx context.Context, c state.Cluster) error {
	engine, err := p.Probe(ctx)
	if err != nil {
		return err
	}
	name := c.Details["kindCluster"]
	if name == "" {
		name = ClusterPrefix + c.Name
	}
	return p.kindProvider(engine).Delete(name, "")
}

// Kubeconfig implements provision.Provider.
func (p *Provider) Kubeconfig(_ context.Context, c state.Cluster) ([]byte, error) {
	return p.ws.Kubeconfig(c.Name)
}

// Status implements provision.Provider.
func (p *Provider) Status(ctx context.Context, c state.Cluster) (provision.Status, error) {
	if _, err := p.Probe(ctx); err != nil {
		return provision.Status{Health: provision.Unknown, Reason: err.Error()}, nil
	}
	return provision.APIStatus(ctx, p.ws, c.Name)
}

// Config builds the kind cluster configuration for spec: one control-plane node and
// spec.Nodes-1 workers (a single node is a control plane that also runs workloads).
func Config(spec provision.Spec) *v1alpha4.Cluster {
	cfg := &v1alpha4.Cluster{
		TypeMeta: v1alpha4.TypeMeta{Kind: "Cluster", APIVersion: "kind.x-k8s.io/v1alpha4"},
		Name:     ClusterPrefix + spec.Name,
	}
	cfg.Nodes = append(cfg.Nodes, v1alpha4.Node{Role: v1alpha4.ControlPlaneRole, Image: NodeImage(spec.Version)})
	for i := 1; i < spec.Nodes; i++ {
		cfg.Nodes = append(cfg.Nodes, v1alpha4.Node{Role: v1alpha4.WorkerRole, Image: NodeImage(spec.Version)})
	}
	v1alpha4.SetDefaultsCluster(cfg)
	return cfg
}

// NodeImage is the kind node image of a Kubernetes version.
func NodeImage(v interface{ String() string }) string { return "kindest/node:" + v.String() }
