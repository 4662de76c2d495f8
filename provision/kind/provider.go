package kind

import (
	"context"
	"errors"
	"log/slog"

	"github.com/phoenix-upgrade/phoenix/provision"
	"github.com/phoenix-upgrade/phoenix/state"
)

// Name is the provider's name.
const Name = "kind"

// Provider creates kind clusters.
type Provider struct {
	ws  *state.Workspace
	log *slog.Logger
}

var _ provision.Provider = (*Provider)(nil)

// New returns the kind provider working in ws.
func New(ws *state.Workspace, log *slog.Logger) *Provider { return &Provider{ws: ws, log: log} }

// Name implements provision.Provider.
func (p *Provider) Name() string { return Name }

// Create implements provision.Provider.
func (p *Provider) Create(ctx context.Context, spec provision.Spec) (state.Cluster, []byte, error) {
	return state.Cluster{}, nil, errors.New("TODO")
}

// Delete implements provision.Provider.
func (p *Provider) Delete(ctx context.Context, c state.Cluster) error { return errors.New("TODO") }

// Kubeconfig implements provision.Provider.
func (p *Provider) Kubeconfig(ctx context.Context, c state.Cluster) ([]byte, error) {
	return p.ws.Kubeconfig(c.Name)
}

// Status implements provision.Provider.
func (p *Provider) Status(ctx context.Context, c state.Cluster) (provision.Status, error) {
	return provision.Status{}, errors.New("TODO")
}
