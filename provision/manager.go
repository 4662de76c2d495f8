package provision

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"time"

	"github.com/phoenix-upgrade/phoenix/state"
)

// Auto is the provider name that picks kind when a container engine answers and local
// otherwise.
const Auto = "auto"

// Availability is implemented by providers that need something on the machine (a
// container engine, SSH access) and can tell whether it is there.
type Availability interface {
	Available(ctx context.Context) error
}

// Manager is the front door of provisioning: it picks a provider, creates clusters and
// records them in the workspace, and reports their health.
type Manager struct {
	Workspace *state.Workspace
	Providers map[string]Provider
	// AutoOrder is the order in which --provider auto tries providers.
	AutoOrder []string
	Log       *slog.Logger
}

// Names lists the registered providers.
func (m *Manager) Names() []string {
	var out []string
	for n := range m.Providers {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Resolve returns the provider named name; for Auto it returns the first available one
// in AutoOrder and says why the others were passed over.
func (m *Manager) Resolve(ctx context.Context, name string) (Provider, string, error) {
	if name == "" || name == Auto {
		var reasons []string
		for _, n := range m.AutoOrder {
			p, ok := m.Providers[n]
			if !ok {
				continue
			}
			if a, ok := p.(Availability); ok {
				if err := a.Available(ctx); err != nil {
					reasons = append(reasons, fmt.Sprintf("%s: %v", n, err))
					continue
				}
			}
			why := "chosen by --provider auto"
			if len(reasons) > 0 {
				why = fmt.Sprintf("chosen by --provider auto (%s)", reasons[0])
			}
			return p, why, nil
		}
		return nil, "", fmt.Errorf("no provider is available: %v", reasons)
	}
	p, ok := m.Providers[name]
	if !ok {
		return nil, "", fmt.Errorf("unknown provider %q: use one of %v or auto", name, m.Names())
	}
	return p, "", nil
}

// Create provisions a cluster with provider p and records it in the workspace. A name
// already taken is refused before anything is made.
func (m *Manager) Create(ctx context.Context, p Provider, spec Spec) (state.Cluster, error) {
	if err := ValidateSpec(spec); err != nil {
		return state.Cluster{}, err
	}
	if m.Workspace.HasCluster(spec.Name) {
		return state.Cluster{}, fmt.Errorf("cluster %q already exists in the workspace: pick another --name, or remove it with `phoenix delete cluster %s`", spec.Name, spec.Name)
	}
	c, kubeconfig, err := p.Create(ctx, spec)
	if err != nil {
		return state.Cluster{}, err
	}
	if c.Created.IsZero() {
		c.Created = time.Now().UTC()
	}
	if err := m.Workspace.SaveCluster(c, kubeconfig); err != nil {
		derr := p.Delete(context.WithoutCancel(ctx), c)
		return state.Cluster{}, errors.Join(fmt.Errorf("recording cluster %s: %w", c.Name, err), derr)
	}
	return c, nil
}

// Delete tears down a cluster phoenix created and forgets it; a cluster registered with
// `clusters add` is only forgotten, never touched.
func (m *Manager) Delete(ctx context.Context, name string) error {
	c, err := m.Workspace.Cluster(name)
	if err != nil {
		return err
	}
	if c.Managed {
		p, err := m.provider(c)
		if err != nil {
			return err
		}
		if err := p.Delete(ctx, c); err != nil {
			return fmt.Errorf("deleting cluster %s: %w", name, err)
		}
	}
	return m.Workspace.RemoveCluster(name)
}

// provider returns the provider that made c, or an error for a record naming one this
// phoenix does not know (an edited or newer cluster.json).
func (m *Manager) provider(c state.Cluster) (Provider, error) {
	p, ok := m.Providers[c.Provider]
	if !ok || p == nil {
		return nil, fmt.Errorf("cluster %s was made by provider %q, which this phoenix does not know (it knows %v): check %s", c.Name, c.Provider, m.Names(), m.Workspace.ClusterDir(c.Name))
	}
	return p, nil
}

// Kubeconfig returns the admin kubeconfig of a recorded cluster.
func (m *Manager) Kubeconfig(ctx context.Context, name string) ([]byte, error) {
	c, err := m.Workspace.Cluster(name)
	if err != nil {
		return nil, err
	}
	p, err := m.provider(c)
	if err != nil {
		return nil, err
	}
	return p.Kubeconfig(ctx, c)
}

// DeletePlanner is implemented by providers whose Delete reaches machines that outlive
// the cluster (the kubeadm provider resets real hosts): DeletePlan lists what Delete will
// touch, so the command can show it and ask first.
type DeletePlanner interface {
	DeletePlan(ctx context.Context, c state.Cluster) ([]string, error)
}

// DeletePlan lists what deleting the named cluster touches when its provider says so
// (nil otherwise, or for a cluster phoenix only registered).
func (m *Manager) DeletePlan(ctx context.Context, name string) ([]string, error) {
	c, err := m.Workspace.Cluster(name)
	if err != nil || !c.Managed {
		return nil, err
	}
	p, err := m.provider(c)
	if err != nil {
		return nil, err
	}
	if dp, ok := p.(DeletePlanner); ok {
		return dp.DeletePlan(ctx, c)
	}
	return nil, nil
}

// Status reports the health of a recorded cluster. Clusters phoenix did not create are
// asked through their kubeconfig by the External provider.
func (m *Manager) Status(ctx context.Context, c state.Cluster) Status {
	p, err := m.provider(c)
	if err != nil {
		return Status{Health: Unknown, Reason: err.Error()}
	}
	st, err := p.Status(ctx, c)
	if err != nil {
		return Status{Health: Unknown, Reason: err.Error()}
	}
	return st
}
