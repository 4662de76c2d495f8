package app

import (
	"bufio"
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/phoenix-upgrade/phoenix/kube"
	"github.com/phoenix-upgrade/phoenix/provision"
	"github.com/phoenix-upgrade/phoenix/provision/kind"
	"github.com/phoenix-upgrade/phoenix/provision/kubeadm"
	"github.com/phoenix-upgrade/phoenix/provision/local"
	"github.com/phoenix-upgrade/phoenix/state"
)

// newManager builds the provisioning front door with every provider phoenix knows.
// kubeadmOpts carries the kubeadm provider's flags (only `provision` sets them; delete and
// status read the inventory path from the cluster record).
func newManager(g *Global, ws *state.Workspace, kubeadmOpts ...kubeadm.Options) *provision.Manager {
	log := g.Logger()
	var ko kubeadm.Options
	if len(kubeadmOpts) > 0 {
		ko = kubeadmOpts[0]
	}
	return &provision.Manager{
		Workspace: ws,
		Providers: map[string]provision.Provider{
			local.Name:             local.New(ws, log),
			kind.Name:              kind.New(ws, log),
			kubeadm.Name:           kubeadm.New(ws, log, ko),
			provision.ExternalName: &provision.External{Workspace: ws},
		},
		AutoOrder: []string{kind.Name, local.Name},
		Log:       log,
	}
}

type clusterRow struct {
	state.Cluster
	Status provision.Status `json:"status"`
}

type clustersFlags struct{ output string }

func newClustersCommand(g *Global) *cobra.Command {
	f := &clustersFlags{}
	cmd := &cobra.Command{
		Use:     "clusters",
		Aliases: []string{"cluster"},
		Short:   "List the clusters phoenix knows, with version and health",
		Example: example(`
  phoenix clusters
  phoenix clusters -o json
  phoenix clusters add blue --context prod-admin --role blue`),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			format, err := checkOutput(f.output, OutputTable, OutputJSON, OutputYAML, OutputName)
			if err != nil {
				return err
			}
			ws, err := g.OpenWorkspace()
			if err != nil {
				return err
			}
			list, err := ws.Clusters()
			if err != nil {
				return err
			}
			if format == OutputName {
				for _, c := range list {
					fmt.Fprintln(g.Streams.Out, c.Name)
				}
				return nil
			}
			m := newManager(g, ws)
			rows := make([]clusterRow, len(list))
			var wg sync.WaitGroup
			for i, c := range list {
				wg.Add(1)
				go func() {
					defer wg.Done()
					ctx, cancel := context.WithTimeout(cmd.Context(), 10*time.Second)
					defer cancel()
					rows[i] = clusterRow{Cluster: c, Status: m.Status(ctx, c)}
				}()
			}
			wg.Wait()
			if format != OutputTable {
				if rows == nil {
					rows = []clusterRow{}
				}
				return printStructured(g.Streams.Out, format, rows)
			}
			if len(rows) == 0 {
				fmt.Fprintf(g.Streams.ErrOut, "No clusters in %s. Create one with `phoenix provision --version v1.37.2` or register one with `phoenix clusters add NAME --context CTX`.\n", ws.Root)
				return nil
			}
			tw := newTable(g.Streams.Out)
			fmt.Fprintln(tw, "NAME\tROLE\tPROVIDER\tVERSION\tHEALTH\tAGE\tREASON")
			for _, r := range rows {
				v := r.Status.Version
				if v == "" {
					v = r.Version
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Name, dash(r.Role), r.Provider, dash(v), r.Status.Health, age(r.Created), r.Status.Reason)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVarP(&f.output, "output", "o", "table", "output format: table, json, yaml or name")
	cmd.AddCommand(newClustersAddCommand(g))
	return cmd
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func age(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := time.Since(t).Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

type clustersAddFlags struct {
	role string
}

func newClustersAddCommand(g *Global) *cobra.Command {
	f := &clustersAddFlags{role: state.RoleBlue}
	cmd := &cobra.Command{
		Use:   "add NAME",
		Short: "Register an existing cluster (usually blue) from a kubeconfig context",
		Long: strings.TrimSpace(`
Register a cluster phoenix did not create. phoenix stores a minified copy of the
kubeconfig for the chosen context in its workspace (mode 0600) and never deletes
or changes that cluster on its own.`),
		Example: example(`
  phoenix clusters add blue --context prod-admin
  phoenix clusters add blue --kubeconfig ~/.kube/prod.yaml --context admin --role blue`),
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if err := state.ValidateName(name); err != nil {
				return usageError("%v", err)
			}
			if f.role != state.RoleBlue && f.role != state.RoleGreen && f.role != "" {
				return usageError("--role %q: use blue or green", f.role)
			}
			ws, err := g.OpenWorkspace()
			if err != nil {
				return err
			}
			if ws.HasCluster(name) {
				return fmt.Errorf("cluster %q already exists in the workspace: pick another name, or forget it first with `phoenix delete cluster %s`", name, name)
			}
			path, ctxName := "", ""
			if g.ConfigFlags.KubeConfig != nil {
				path = *g.ConfigFlags.KubeConfig
			}
			if g.ConfigFlags.Context != nil {
				ctxName = *g.ConfigFlags.Context
			}
			data, ctxName, err := kube.LoadKubeconfigFile(path, ctxName)
			if err != nil {
				return err
			}
			cfg, err := kube.ConfigFromKubeconfig(data, ctxName)
			if err != nil {
				return err
			}
			c := state.Cluster{
				Name: name, Role: f.role, Provider: provision.ExternalName, Managed: false,
				Context: ctxName, Server: cfg.Host, Created: time.Now().UTC(),
			}
			if err := ws.SaveCluster(c, data); err != nil {
				return err
			}
			st, _ := provision.APIStatus(cmd.Context(), ws, name)
			if st.Version != "" {
				c.Version = st.Version
				if err := ws.SaveCluster(c, nil); err != nil {
					return err
				}
			}
			fmt.Fprintf(g.Streams.Out, "Registered cluster %s (role %s, context %s, %s): %s %s\n", name, dash(f.role), ctxName, cfg.Host, st.Health, st.Reason)
			return nil
		},
	}
	cmd.Flags().StringVar(&f.role, "role", f.role, "role of the cluster in the upgrade: blue (source) or green (target)")
	return cmd
}

func newKubeconfigCommand(g *Global) *cobra.Command {
	return &cobra.Command{
		Use:     "kubeconfig NAME",
		Short:   "Print a cluster's kubeconfig (like `kind get kubeconfig`)",
		Example: "  phoenix kubeconfig green > green.kubeconfig\n  kubectl --kubeconfig <(phoenix kubeconfig green) get nodes",
		Args:    cobra.ExactArgs(1),
		ValidArgsFunction: func(cmd *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
			return clusterNames(g), cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			ws, err := g.OpenWorkspace()
			if err != nil {
				return err
			}
			data, err := newManager(g, ws).Kubeconfig(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			_, err = g.Streams.Out.Write(data)
			return err
		},
	}
}

func clusterNames(g *Global) []string {
	ws, err := g.OpenWorkspace()
	if err != nil {
		return nil
	}
	list, _ := ws.Clusters()
	var out []string
	for _, c := range list {
		out = append(out, c.Name)
	}
	return out
}

func newDeleteCommand(g *Global) *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use:   "delete",
		Short: "Delete things phoenix made",
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "cluster NAME",
		Short: "Tear down a cluster phoenix created, or forget one it registered",
		Long: strings.TrimSpace(`
Tear down a cluster phoenix provisioned (its processes, containers, files) and remove
it from the workspace. A cluster registered with 'phoenix clusters add' is only
forgotten: phoenix never touches clusters it did not create.`),
		Example: "  phoenix delete cluster green",
		Args:    cobra.ExactArgs(1),
		ValidArgsFunction: func(cmd *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
			return clusterNames(g), cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			ws, err := g.OpenWorkspace()
			if err != nil {
				return err
			}
			c, err := ws.Cluster(args[0])
			if err != nil {
				return err
			}
			m := newManager(g, ws)
			touched, err := m.DeletePlan(cmd.Context(), c.Name)
			if err != nil {
				return err
			}
			if len(touched) > 0 && !yes {
				if err := confirm(g, fmt.Sprintf("Deleting cluster %s runs `kubeadm reset -f` on:\n  %s\n", c.Name, strings.Join(touched, "\n  "))); err != nil {
					return err
				}
			}
			if err := m.Delete(cmd.Context(), c.Name); err != nil {
				return err
			}
			if c.Managed {
				fmt.Fprintf(g.Streams.Out, "Deleted cluster %s\n", c.Name)
			} else {
				fmt.Fprintf(g.Streams.Out, "Forgot cluster %s (phoenix did not create it, so it was left running)\n", c.Name)
			}
			return nil
		},
	})
	cmd.Commands()[0].Flags().BoolVar(&yes, "yes", false, "do not ask before resetting the hosts of a kubeadm cluster")
	return cmd
}

// confirm shows what is about to happen and asks; anything but y or yes refuses.
func confirm(g *Global, what string) error {
	fmt.Fprint(g.Streams.ErrOut, what+"Go on? [y/N] ")
	answer, _ := bufio.NewReader(g.Streams.In).ReadString('\n')
	switch strings.ToLower(strings.TrimSpace(answer)) {
	case "y", "yes":
		return nil
	}
	return usageError("not confirmed: nothing was deleted (pass --yes to skip the question)")
}
