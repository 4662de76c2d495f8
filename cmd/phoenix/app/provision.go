package app

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/phoenix-upgrade/phoenix/kube"
	"github.com/phoenix-upgrade/phoenix/provision"
	"github.com/phoenix-upgrade/phoenix/state"
)

type provisionFlags struct {
	version  string
	name     string
	provider string
	role     string
	nodes    int
	binDir   string
	wait     time.Duration
}

func newProvisionCommand(g *Global) *cobra.Command {
	f := &provisionFlags{name: "green", provider: provision.Auto, role: state.RoleGreen, nodes: 3, wait: 5 * time.Minute}
	cmd := &cobra.Command{
		Use:   "provision",
		Short: "Create a fresh cluster at the target version (green)",
		Long: strings.TrimSpace(`
Create a cluster at a Kubernetes version and record it in the workspace.

Providers:
  local  a real control plane (etcd, kube-apiserver, kube-controller-manager,
         kube-scheduler) as local processes, nodes simulated by kwok; needs no Docker
  kind   a kind cluster (needs a Docker or Podman engine)
  auto   kind when a container engine answers, local otherwise (the default)

The local provider finds Kubernetes binaries in --bin-dir, then in the per-version
cache (~/.cache/phoenix/k8s/VERSION), then builds them from the k8s.io/kubernetes Go
module (hack/build-k8s.sh VERSION does the same ahead of time).`),
		Example: example(`
  phoenix provision --version v1.37.2
  phoenix provision --version v1.24.17 --name blue --role blue --provider local
  phoenix provision --version v1.37.2 --provider kind --nodes 1`),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.version == "" {
				return usageError("--version is required, e.g. --version v1.37.2")
			}
			v, err := kube.ParseExactVersion(f.version)
			if err != nil {
				return usageError("%v", err)
			}
			if err := state.ValidateName(f.name); err != nil {
				return usageError("%v", err)
			}
			ws, err := g.OpenWorkspace()
			if err != nil {
				return err
			}
			m := newManager(g, ws)
			p, why, err := m.Resolve(cmd.Context(), f.provider)
			if err != nil {
				return err
			}
			if why != "" {
				g.Progress("Provider %s %s", p.Name(), why)
			}
			g.Progress("Creating cluster %s (%s, %s, %d nodes) ...", f.name, p.Name(), v, f.nodes)
			start := time.Now()
			c, err := m.Create(cmd.Context(), p, provision.Spec{
				Name: f.name, Version: v, Role: f.role, Nodes: f.nodes, BinDir: f.binDir, Wait: f.wait,
			})
			if err != nil {
				return err
			}
			out := g.Streams.Out
			fmt.Fprintf(out, "Cluster %s is ready: %s at %s, %d nodes Ready (%s, %s).\n", c.Name, c.Version, c.Server, f.nodes, c.Provider, time.Since(start).Round(100*time.Millisecond))
			if src := c.Details["binarySource"]; src != "" {
				fmt.Fprintf(out, "Kubernetes binaries: %s\n", src)
			}
			fmt.Fprintf(out, "\nUse it with:\n  phoenix kubeconfig %s > %s.kubeconfig\n  kubectl --kubeconfig %s get nodes\n\nDelete it with:\n  phoenix delete cluster %s\n",
				c.Name, c.Name, ws.KubeconfigPath(c.Name), c.Name)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.version, "version", "", "Kubernetes version of the new cluster, e.g. v1.37.2 (required)")
	fl.StringVar(&f.name, "name", f.name, "name of the cluster in the workspace")
	fl.StringVar(&f.provider, "provider", f.provider, "provider: auto, local or kind")
	fl.StringVar(&f.role, "role", f.role, "role of the cluster: green (target) or blue (source)")
	fl.IntVar(&f.nodes, "nodes", f.nodes, "number of nodes")
	fl.StringVar(&f.binDir, "bin-dir", "", "directory with kube-apiserver, kube-controller-manager, kube-scheduler (local provider)")
	fl.DurationVar(&f.wait, "wait", f.wait, "how long to wait for the API and Ready nodes")
	_ = cmd.RegisterFlagCompletionFunc("provider", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return []string{"auto", "local", "kind"}, cobra.ShellCompDirectiveNoFileComp
	})
	return cmd
}
