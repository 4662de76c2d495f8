package app

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/rest"

	"github.com/phoenix-upgrade/phoenix/assess"
	"github.com/phoenix-upgrade/phoenix/inplace"
	"github.com/phoenix-upgrade/phoenix/kube"
	"github.com/phoenix-upgrade/phoenix/skew"
	"github.com/phoenix-upgrade/phoenix/state"
)

type assessFlags struct {
	to          string
	from        string
	fromVersion string
	namespaces  []string
	dir         string
	inventory   string
	inPlace     bool
	list        bool
	output      string
}

func newAssessCommand(g *Global) *cobra.Command {
	f := &assessFlags{}
	cmd := &cobra.Command{
		Use:   "assess",
		Short: "Report what will break on the way to a Kubernetes version, before anything moves",
		Long: strings.TrimSpace(`
Assess a cluster, or a directory of manifests and rendered charts, against phoenix's
upgrade knowledge base: API versions removed on the way to --to, removed feature gates
and flags, kubeadm configuration API versions, and the pitfalls of past upgrades
(CoreDNS readiness, insecure ports, webhook certificates without SANs, bound
service-account tokens, dockershim, PodSecurityPolicy, ...).

Findings are grouped as blockers, actions and info, each with what to do. With
--in-place the report follows kubeadm's hops (one control-plane minor per hop, kubelets
within the skew policy) and says at which hop each finding bites; otherwise it is the
one jump of a blue-green upgrade.

The cluster is the one named by --from (a cluster in the workspace), else the one
--kubeconfig/--context name, else the workspace's blue cluster, else the current
kubeconfig context. With -f and no cluster flag, only the manifests are read.

Exit codes: 0 no blockers, 3 blockers found, 1 the assessment failed, 2 bad flags.
--list prints the knowledge base itself, for review.`),
		Example: example(`
  phoenix assess --to v1.37.2
  phoenix assess --ns payments --ns billing --to v1.37.2 -o markdown > assessment.md
  phoenix assess --from blue --to v1.28.15 --in-place
  phoenix assess -f ./rendered --to v1.37.2 --from-version v1.24.17
  phoenix assess --from blue --to v1.37.2 --in-place --inventory hosts.yaml
  phoenix assess --list -o yaml`),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.list {
				return runAssessList(g, f)
			}
			format, err := checkOutput(f.output, OutputTable, OutputJSON, OutputYAML, OutputMarkdown)
			if err != nil {
				return err
			}
			opts, err := f.options(g, cmd)
			if err != nil {
				return err
			}
			opts.Log = g.Logger()
			report, err := assess.Assess(cmd.Context(), opts)
			if err != nil {
				return err
			}
			if err := report.Render(g.Streams.Out, string(format)); err != nil {
				return err
			}
			if report.HasBlockers() {
				return WithExitCode(ExitFindings, fmt.Errorf("%d blockers on the way to %s", report.Counts()[assess.Blocker], report.To))
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.to, "to", "", "target Kubernetes version, e.g. v1.37.2 (required)")
	fl.StringVar(&f.from, "from", "", "the cluster to assess: a cluster registered in the workspace (default: --kubeconfig/--context, else the blue cluster)")
	fl.StringVar(&f.fromVersion, "from-version", "", "source Kubernetes version (default: asked from the cluster; needed offline with --in-place)")
	fl.StringSliceVar(&f.namespaces, "ns", nil, "namespaces to scan (repeatable; default all)")
	fl.StringVarP(&f.dir, "filename", "f", "", "directory or file of manifests and rendered charts to scan offline")
	fl.StringVar(&f.inventory, "inventory", "", "inventory of the cluster's hosts (see docs/upgrade.md): read each node's kubelet flags and configuration, static-pod manifests, audit policy and /proc/mounts over SSH")
	fl.BoolVar(&f.inPlace, "in-place", false, "assess the kubeadm in-place path hop by hop instead of a blue-green jump")
	fl.BoolVar(&f.list, "list", false, "print the knowledge base (API removals, feature gates, flags, kubeadm APIs, pitfalls)")
	fl.StringVarP(&f.output, "output", "o", "table", "output format: table, json, yaml or markdown (--list: table, json or yaml)")
	return cmd
}

func runAssessList(g *Global, f *assessFlags) error {
	format, err := checkOutput(f.output, OutputTable, OutputJSON, OutputYAML)
	if err != nil {
		return err
	}
	kb, err := assess.Load()
	if err != nil {
		return err
	}
	if format == OutputTable {
		return kb.WriteTable(g.Streams.Out)
	}
	return printStructured(g.Streams.Out, format, kb)
}

// options turns the flags into assess.Options, choosing the cluster to read.
func (f *assessFlags) options(g *Global, cmd *cobra.Command) (assess.Options, error) {
	var opts assess.Options
	if f.to == "" {
		return opts, usageError("--to is required, e.g. --to v1.37.2")
	}
	to, err := kube.ParseVersion(f.to)
	if err != nil {
		return opts, usageError("--to: %v", err)
	}
	if err := skew.Known(to); err != nil {
		return opts, usageError("--to: %v", err)
	}
	opts.To, opts.Namespaces, opts.ManifestDir = to, f.namespaces, f.dir
	if f.fromVersion != "" {
		v, err := kube.ParseVersion(f.fromVersion)
		if err != nil {
			return opts, usageError("--from-version: %v", err)
		}
		opts.From = &v
	}
	if f.inPlace {
		opts.Path = assess.InPlace
	}
	if f.inventory != "" {
		inv, err := inplace.LoadInventory(f.inventory)
		if err != nil {
			return opts, err
		}
		if opts.Nodes, err = inplace.ReadNodes(cmd.Context(), inv, 15*time.Second); err != nil {
			return opts, err
		}
	}
	cfg, err := f.clusterConfig(g, cmd)
	if err != nil {
		return opts, err
	}
	if cfg != nil {
		clients, err := kube.NewClients(kube.Throttle(cfg, kube.DefaultQPS, kube.DefaultBurst))
		if err != nil {
			return opts, fmt.Errorf("building clients: %w", err)
		}
		opts.Clients = clients
	}
	return opts, nil
}

// clusterConfig returns the REST config of the cluster to assess, or nil for an offline run.
func (f *assessFlags) clusterConfig(g *Global, cmd *cobra.Command) (*rest.Config, error) {
	kubeFlagsSet := cmd.Flags().Changed("kubeconfig") || cmd.Flags().Changed("context")
	switch {
	case f.from != "":
		ws, err := g.OpenWorkspace()
		if err != nil {
			return nil, err
		}
		return kube.ClusterConfig(ws, f.from)
	case kubeFlagsSet:
		return kube.ConfigFromFlags(g.ConfigFlags)
	case f.dir != "" || f.inventory != "":
		return nil, nil
	}
	if ws, err := g.OpenWorkspace(); err == nil {
		if c, err := ws.ClusterByRole(state.RoleBlue); err == nil {
			return kube.ClusterConfig(ws, c.Name)
		}
	}
	return kube.ConfigFromFlags(g.ConfigFlags)
}
