package app

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/phoenix-upgrade/phoenix/inplace"
	"github.com/phoenix-upgrade/phoenix/kube"
	"github.com/phoenix-upgrade/phoenix/provision"
	"github.com/phoenix-upgrade/phoenix/provision/kubeadm"
	"github.com/phoenix-upgrade/phoenix/provision/local"
	"github.com/phoenix-upgrade/phoenix/state"
)

type provisionFlags struct {
	version  string
	name     string
	provider string
	role     string
	nodes    int
	binDir   string
	runtime  string
	wait     time.Duration
	kubeadm  kubeadm.Options
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
         kube-scheduler) as local processes; needs no Docker. Its nodes
         (--node-runtime) are real where containerd can run: each node a network
         namespace with its own containerd, kubelet and kube-proxy, pods running
         images phoenix builds and imports (no registry); or simulated by kwok
         (no container runs; for scale tests)
  kind   a kind cluster (needs a Docker or Podman engine)
  kubeadm  kubeadm init/join on real machines over SSH (--inventory hosts.yaml)
  auto   kind when a container engine answers, local otherwise (the default)

The local provider finds Kubernetes binaries in --bin-dir, then in the per-version
cache (~/.cache/phoenix/k8s/VERSION), then builds them from the k8s.io/kubernetes Go
module (hack/build-k8s.sh VERSION does the same ahead of time).`),
		Example: example(`
  phoenix provision --version v1.37.2
  phoenix provision --version v1.24.17 --name blue --role blue --provider local --nodes 2
  phoenix provision --version v1.37.2 --provider local --node-runtime kwok --nodes 50
  phoenix provision --version v1.37.2 --provider kind --nodes 1
  phoenix provision --version v1.37.2 --provider kubeadm --inventory hosts.yaml`),
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
			if err := inplace.ValidateRevision(f.kubeadm.Revision); err != nil {
				return usageError("--package-revision: %v", err)
			}
			ws, err := g.OpenWorkspace()
			if err != nil {
				return err
			}
			if f.runtime != "" && !slices.Contains(local.NodeRuntimes, f.runtime) {
				return usageError("unknown --node-runtime %q: use containerd (real nodes) or kwok (simulated nodes)", f.runtime)
			}
			if f.runtime != "" && f.provider != local.Name && f.provider != provision.Auto {
				return usageError("--node-runtime is for the local provider; %s clusters bring their own nodes", f.provider)
			}
			if f.provider == kubeadm.Name && f.kubeadm.Inventory == "" {
				return usageError("--provider kubeadm needs --inventory hosts.yaml (see docs/upgrade.md for its format)")
			}
			m := newManager(g, ws, f.kubeadm)
			p, why, err := m.Resolve(cmd.Context(), f.provider)
			if err != nil {
				return err
			}
			if why != "" {
				g.Progress("Provider %s %s", p.Name(), why)
			}
			if f.runtime != "" && p.Name() != local.Name {
				return usageError("--node-runtime is for the local provider; %s clusters bring their own nodes", p.Name())
			}
			g.Progress("Creating cluster %s (%s, %s, %d nodes) ...", f.name, p.Name(), v, f.nodes)
			start := time.Now()
			c, err := m.Create(cmd.Context(), p, provision.Spec{
				Name: f.name, Version: v, Role: f.role, Nodes: f.nodes, BinDir: f.binDir, Wait: f.wait, NodeRuntime: f.runtime,
			})
			if err != nil {
				return err
			}
			out := g.Streams.Out
			fmt.Fprintf(out, "Cluster %s is ready: %s at %s, %d nodes Ready (%s, %s).\n", c.Name, c.Version, c.Server, f.nodes, c.Provider, time.Since(start).Round(100*time.Millisecond))
			if src := c.Details["binarySource"]; src != "" {
				fmt.Fprintf(out, "Kubernetes binaries: %s\n", src)
			}
			if rt := c.Details["nodeRuntime"]; rt != "" {
				fmt.Fprintf(out, "Node runtime: %s, %s\n", rt, c.Details["nodeRuntimeWhy"])
			}
			fmt.Fprintf(out, "\nUse it with:\n  phoenix kubeconfig %s > %s.kubeconfig\n  kubectl --kubeconfig %s get nodes\n\nDelete it with:\n  phoenix delete cluster %s\n",
				c.Name, c.Name, ws.KubeconfigPath(c.Name), c.Name)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.version, "version", "", "Kubernetes version of the new cluster, e.g. v1.37.2 (required)")
	fl.StringVar(&f.name, "name", f.name, "name of the cluster in the workspace")
	fl.StringVar(&f.provider, "provider", f.provider, "provider: auto, local, kind or kubeadm")
	fl.StringVar(&f.role, "role", f.role, "role of the cluster: green (target) or blue (source)")
	fl.IntVar(&f.nodes, "nodes", f.nodes, "number of nodes")
	fl.StringVar(&f.binDir, "bin-dir", "", "directory with kube-apiserver, kube-controller-manager, kube-scheduler (local provider)")
	fl.DurationVar(&f.wait, "wait", f.wait, "how long to wait for the API and Ready nodes")
	fl.StringVar(&f.runtime, "node-runtime", "", "local provider: containerd (real nodes) or kwok (simulated); default containerd where it can run")
	fl.StringVar(&f.kubeadm.Inventory, "inventory", "", "kubeadm provider: inventory file of the hosts (docs/upgrade.md)")
	fl.StringVar(&f.kubeadm.CNIManifest, "cni-manifest", "", "kubeadm provider: CNI manifest URL or file applied after init (default flannel)")
	fl.StringVar(&f.kubeadm.PodSubnet, "pod-subnet", "", "kubeadm provider: pod subnet (default "+kubeadm.DefaultPodSubnet+")")
	fl.StringVar(&f.kubeadm.ControlPlaneEndpoint, "control-plane-endpoint", "", "kubeadm provider: host:port of the API for all nodes (default the first control plane:6443)")
	fl.StringVar(&f.kubeadm.Revision, "package-revision", "", "kubeadm provider: package revision override (e.g. 1.1)")
	_ = cmd.RegisterFlagCompletionFunc("provider", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return []string{"auto", "local", "kind", "kubeadm"}, cobra.ShellCompDirectiveNoFileComp
	})
	_ = cmd.RegisterFlagCompletionFunc("node-runtime", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return local.NodeRuntimes, cobra.ShellCompDirectiveNoFileComp
	})
	return cmd
}
