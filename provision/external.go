package provision

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/phoenix-upgrade/phoenix/kube"
	"github.com/phoenix-upgrade/phoenix/state"
)

// ExternalName is the provider of clusters registered with `phoenix clusters add`.
const ExternalName = "external"

// External is the provider of clusters phoenix did not create: it can report their
// status through the stored kubeconfig, and refuses to create or delete them.
type External struct {
	Workspace *state.Workspace
}

var _ Provider = (*External)(nil)

// Name implements Provider.
func (e *External) Name() string { return ExternalName }

// Create implements Provider; external clusters are registered, not created.
func (e *External) Create(context.Context, Spec) (state.Cluster, []byte, error) {
	return state.Cluster{}, nil, errors.New("external clusters are registered with `phoenix clusters add`, not provisioned")
}

// Delete implements Provider; phoenix never tears down a cluster it did not make.
func (e *External) Delete(context.Context, state.Cluster) error { return nil }

// Kubeconfig implements Provider.
func (e *External) Kubeconfig(_ context.Context, c state.Cluster) ([]byte, error) {
	return e.Workspace.Kubeconfig(c.Name)
}

// Status implements Provider by asking the API server for its version and health.
func (e *External) Status(ctx context.Context, c state.Cluster) (Status, error) {
	return APIStatus(ctx, e.Workspace, c.Name)
}

// APIStatus asks a recorded cluster's API server for /readyz and its version.
func APIStatus(ctx context.Context, ws *state.Workspace, name string) (Status, error) {
	cfg, err := kube.ClusterConfig(ws, name)
	if err != nil {
		return Status{Health: Unknown, Reason: err.Error()}, nil
	}
	cfg.Timeout = 5 * time.Second
	cl, err := kube.NewClients(cfg)
	if err != nil {
		return Status{Health: Unknown, Reason: err.Error()}, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	body, err := cl.Kube.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
	if err != nil {
		return Status{Health: Unhealthy, Reason: fmt.Sprintf("API not ready: %v", firstLine(err.Error(), string(body)))}, nil
	}
	v, err := cl.Discovery.ServerVersion()
	if err != nil {
		return Status{Health: Unhealthy, Reason: err.Error()}, nil
	}
	return Status{Health: Healthy, Version: v.GitVersion}, nil
}

func firstLine(ss ...string) string {
	for _, s := range ss {
		for i := 0; i < len(s); i++ {
			if s[i] == '\n' {
				return s[:i]
			}
		}
		if s != "" {
			return s
		}
	}
	return ""
}
