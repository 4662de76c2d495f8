package app

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/phoenix-upgrade/phoenix/inplace"
	"github.com/phoenix-upgrade/phoenix/kube"
)

type upgradeFlags struct {
	to, from, inventory, cluster, output, revision string
	via                                            []string
	dryRun, resume, everyHop, deleteEmptyDir       bool
	stopCM                                         bool
	runtimeUpgrade, runtimeService                 string
	maxUnavailable, logLevel                       int
	drainTimeout, readyTimeout, commandTimeout     time.Duration
}

func newUpgradeCommand(g *Global) *cobra.Command {
	f := &upgradeFlags{output: string(OutputTable), maxUnavailable: 1,
		drainTimeout: 10 * time.Minute, readyTimeout: 10 * time.Minute, commandTimeout: 10 * time.Minute}
	cmd := &cobra.Command{
		Use:   "upgrade",
		Short: "Upgrade a kubeadm cluster in place, one minor per hop, over SSH (resumable)",
		Long: strings.TrimSpace(`
Upgrade a kubeadm cluster in place, for clusters that cannot be duplicated blue-green.

phoenix plans the hops (kubeadm moves one minor at a time; worker kubelets may stay
behind within the skew policy and jump once), then for every hop: preflight (nodes
Ready, control plane healthy, swap off, PodDisruptionBudgets that would block a drain),
an etcd snapshot copied into the workspace, the pkgs.k8s.io repository of the minor,
kubeadm pinned and held, 'kubeadm upgrade plan' and 'kubeadm upgrade apply' on the
first control plane, 'kubeadm upgrade node' on the others, then node by node (workers
in batches of --max-unavailable): drain, kubelet and kubectl, daemon-reload, restart,
uncordon, wait Ready; and the post-hop checks (control-plane pods, CoreDNS, kube-proxy,
CNI, API writes through admission webhooks).

Hosts come from --inventory (see docs/upgrade.md); host keys are always checked against
known_hosts. The cluster is reached through --kubeconfig/--context, or --cluster NAME from
the workspace. Every step is journaled in the workspace; after a failure, fix the cause
and run again with --resume. --dry-run prints every command on every host; with --from
it touches no host and no cluster.`),
		Example: example(`
  phoenix upgrade --to v1.28.15 --inventory hosts.yaml --dry-run --from v1.27.16
  phoenix upgrade --to v1.28.15 --inventory hosts.yaml --kubeconfig admin.conf
  phoenix upgrade --to v1.21.14 --inventory hosts.yaml --max-unavailable 2
  phoenix upgrade --resume --inventory hosts.yaml --kubeconfig admin.conf`),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			format, err := checkOutput(f.output, OutputTable, OutputJSON, OutputYAML)
			if err != nil {
				return err
			}
			o, err := f.options()
			if err != nil {
				return err
			}
			ws, err := g.OpenWorkspace()
			if err != nil {
				return err
			}
			o.Workspace = ws
			if o.Inventory, err = inplace.LoadInventory(f.inventory); err != nil {
				return err
			}
			if f.resume {
				if _, err := inplace.LoadJournal(inplace.JournalPath(ws, o.Inventory.Name)); err != nil {
					return fmt.Errorf("nothing to resume for %s: %w", o.Inventory.Name, err)
				}
			}
			if !(f.dryRun && f.from != "") {
				cfg, err := kube.ConfigFromFlags(g.ConfigFlags)
				if f.cluster != "" {
					cfg, err = kube.ClusterConfig(ws, f.cluster)
				}
				if err != nil {
					return err
				}
				c, err := kube.NewClients(kube.Throttle(cfg, 20, 40))
				if err != nil {
					return err
				}
				o.Cluster = &inplace.KubeCluster{Client: c.Kube, DeleteEmptyDirData: f.deleteEmptyDir, Log: g.Logger()}
			}
			o.Log = g.Logger()
			o.OnStep = func(s inplace.Step, event string) {
				if event == "start" {
					g.Progress("[%s] %s", s.Phase, strings.TrimPrefix(s.ID, s.Phase+"/"))
				}
			}
			res, err := inplace.Upgrade(cmd.Context(), o)
			if err != nil {
				return err
			}
			if format != OutputTable {
				return printStructured(g.Streams.Out, format, res)
			}
			if res.DryRun {
				return res.Runbook.Render(g.Streams.Out)
			}
			for _, w := range res.Warnings {
				fmt.Fprintf(g.Streams.Out, "WARNING: %s\n", w)
			}
			fmt.Fprintf(g.Streams.Out, "Cluster %s upgraded %s -> %s: %d steps run, %d already done. Journal: %s\n",
				o.Inventory.Name, res.Plan.From, res.Plan.To, res.Ran, res.Skipped, res.Journal)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.to, "to", "", "target release, e.g. v1.28.15 (required unless --resume)")
	fl.StringVar(&f.from, "from", "", "running release; default: ask the cluster (with --dry-run: plan offline)")
	fl.StringVar(&f.inventory, "inventory", "", "inventory file of the cluster's hosts (required; see docs/upgrade.md)")
	fl.StringVar(&f.cluster, "cluster", "", "cluster in the workspace to reach the API through (default: --kubeconfig/--context)")
	fl.StringSliceVar(&f.via, "via", nil, "patch release of an intermediate hop whose minor is still supported, e.g. v1.36.4")
	fl.BoolVar(&f.dryRun, "dry-run", false, "print the runbook, every command on every host, and change nothing")
	fl.BoolVar(&f.resume, "resume", false, "continue the stopped upgrade from its failed step")
	fl.BoolVar(&f.everyHop, "kubelets-every-hop", false, "upgrade worker kubelets at every hop instead of letting them jump within the skew policy")
	fl.BoolVar(&f.deleteEmptyDir, "delete-emptydir-data", false, "let drain evict pods with emptyDir volumes (their data is lost)")
	fl.BoolVar(&f.stopCM, "stop-controller-manager", false, "keep kube-controller-manager stopped from the control-plane upgrade until every kubelet of the hop is upgraded (seed 001)")
	fl.IntVar(&f.logLevel, "log-level", 0, "run every kubeadm command with -v=N (seed 001: raise log levels during the upgrade)")
	fl.StringVar(&f.runtimeUpgrade, "runtime-upgrade", "", "command that upgrades the container runtime, run on each node after its drain with the kubelet stopped (seed 002), e.g. 'apt-get install -y containerd.io=1.7.27-1'")
	fl.StringVar(&f.runtimeService, "runtime-service", "containerd", "systemd unit of the container runtime restarted after --runtime-upgrade (containerd, crio)")
	fl.IntVar(&f.maxUnavailable, "max-unavailable", f.maxUnavailable, "workers drained and upgraded at a time")
	fl.StringVar(&f.revision, "package-revision", "", "package revision (default 1.1 for deb, 150500.1.1 for rpm, as pkgs.k8s.io)")
	fl.DurationVar(&f.drainTimeout, "drain-timeout", f.drainTimeout, "how long a drain may wait (PodDisruptionBudgets)")
	fl.DurationVar(&f.readyTimeout, "ready-timeout", f.readyTimeout, "how long to wait for a node to be Ready at the new version")
	fl.DurationVar(&f.commandTimeout, "command-timeout", f.commandTimeout, "timeout of one command on a host (kubeadm upgrade gets twice as long)")
	fl.StringVarP(&f.output, "output", "o", f.output, "output: table (the runbook text with --dry-run), json or yaml")
	return cmd
}

func (f *upgradeFlags) options() (inplace.Options, error) {
	var o inplace.Options
	if f.inventory == "" {
		return o, usageError("--inventory is required: the YAML list of the cluster's hosts (see docs/upgrade.md)")
	}
	if f.to == "" && !f.resume {
		return o, usageError("--to is required, e.g. --to v1.28.15")
	}
	if f.resume && f.dryRun {
		return o, usageError("--resume and --dry-run do not go together")
	}
	if f.logLevel < 0 || f.logLevel > 10 {
		return o, usageError("--log-level %d: must be between 0 and 10", f.logLevel)
	}
	if strings.ContainsAny(f.runtimeService, " \t\n;|&$`'\"") || f.runtimeService == "" {
		return o, usageError("--runtime-service %q: give a systemd unit name, e.g. containerd or crio", f.runtimeService)
	}
	if f.maxUnavailable < 1 {
		return o, usageError("--max-unavailable %d: must be at least 1", f.maxUnavailable)
	}
	var err error
	if f.to != "" {
		if o.To, err = kube.ParseExactVersion(f.to); err != nil {
			return o, usageError("--to: %v", err)
		}
	}
	if f.from != "" {
		if f.resume {
			return o, usageError("--from is taken from the journal on --resume: leave it out")
		}
		if o.From, err = kube.ParseExactVersion(f.from); err != nil {
			return o, usageError("--from: %v", err)
		}
	}
	for _, v := range f.via {
		pv, err := kube.ParseExactVersion(v)
		if err != nil {
			return o, usageError("--via: %v", err)
		}
		o.Via = append(o.Via, pv)
	}
	if err := inplace.ValidateRevision(f.revision); err != nil {
		return o, usageError("--package-revision: %v", err)
	}
	o.DryRun, o.Resume, o.KubeletsEveryHop = f.dryRun, f.resume, f.everyHop
	o.Runbook = inplace.RunbookOptions{MaxUnavailable: f.maxUnavailable, DeleteEmptyDirData: f.deleteEmptyDir, Revision: f.revision,
		CommandTimeout: f.commandTimeout, ApplyTimeout: 2 * f.commandTimeout, DrainTimeout: f.drainTimeout, ReadyTimeout: f.readyTimeout,
		StopControllerManager: f.stopCM, LogLevel: f.logLevel, RuntimeUpgrade: strings.TrimSpace(f.runtimeUpgrade), RuntimeService: f.runtimeService}
	return o, nil
}
