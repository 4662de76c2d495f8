package provision

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/phoenix-upgrade/phoenix/kube"
	"github.com/phoenix-upgrade/phoenix/state"
)

// Spec describes a cluster to create.
type Spec struct {
	Name    string
	Version kube.Version
	Role    string
	// Nodes is the number of (worker) nodes.
	Nodes int
	// BinDir, when set, is searched first for Kubernetes binaries (local provider).
	BinDir string
	// Wait bounds how long Create waits for the API and Ready nodes.
	Wait time.Duration
	// NodeRuntime is the local provider's node runtime: "containerd" (real nodes), "kwok"
	// (simulated nodes) or "" (containerd where it can run, kwok otherwise).
	NodeRuntime string
}

// Health is a cluster's state as a provider sees it.
type Health string

// Health values.
const (
	Healthy   Health = "Healthy"
	Unhealthy Health = "Unhealthy"
	Stopped   Health = "Stopped"
	Unknown   Health = "Unknown"
)

// Status reports a cluster's health and, when reachable, its server version.
type Status struct {
	Health  Health `json:"health"`
	Version string `json:"version,omitempty"`
	// Reason explains anything but Healthy (a dead process, an unreachable API).
	Reason string `json:"reason,omitempty"`
	// Components gives per-component health where the provider knows it.
	Components map[string]string `json:"components,omitempty"`
}

// Provider creates and deletes clusters of one kind.
type Provider interface {
	// Name is the provider's name as given to --provider.
	Name() string
	// Create makes the cluster, waits until the API answers and the nodes are Ready, and
	// returns the record to keep in the workspace plus the admin kubeconfig. On error it
	// leaves nothing behind.
	Create(ctx context.Context, spec Spec) (state.Cluster, []byte, error)
	// Delete tears down what Create made.
	Delete(ctx context.Context, c state.Cluster) error
	// Kubeconfig returns the cluster's admin kubeconfig.
	Kubeconfig(ctx context.Context, c state.Cluster) ([]byte, error)
	// Status reports the cluster's health.
	Status(ctx context.Context, c state.Cluster) (Status, error)
}

// ImageLoader is a provider that can put OCI image archives into a cluster's nodes without
// a registry (like `kind load image-archive`). Ask for it: `if l, ok := p.(ImageLoader)`.
type ImageLoader interface {
	// LoadImages imports each archive into every node of c, and returns the nodes.
	LoadImages(ctx context.Context, c state.Cluster, archives []string) ([]string, error)
}

// Logger is the logger providers report progress to.
type Logger = *slog.Logger

// ValidateSpec checks the parts of a spec every provider needs.
func ValidateSpec(s Spec) error {
	if err := state.ValidateName(s.Name); err != nil {
		return err
	}
	if s.Version.Patch < 0 {
		return fmt.Errorf("version %s has no patch number: give a full release, e.g. %s.0", s.Version, s.Version)
	}
	if s.Nodes < 1 || s.Nodes > 100 {
		return fmt.Errorf("--nodes %d out of range: use 1 to 100", s.Nodes)
	}
	return nil
}
