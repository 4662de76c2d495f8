package app

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/rest"

	"github.com/phoenix-upgrade/phoenix/kube"
	"github.com/phoenix-upgrade/phoenix/migrate"
	"github.com/phoenix-upgrade/phoenix/state"
	"github.com/phoenix-upgrade/phoenix/volumes"
)

type migrateFlags struct {
	namespaces     []string
	selector       string
	from, to       string
	dryRun         string
	artifacts      string
	keepSecrets    bool
	resume         bool
	concurrency    int
	qps            float32
	burst          int
	forceConflicts bool
	replace        bool
	holdWebhooks   bool
	allowPartial   bool
	webhookTimeout time.Duration
	output         string
	volumes        volumeFlags
}

func newMigrateCommand(g *Global) *cobra.Command {
	f := &migrateFlags{dryRun: "none", concurrency: migrate.DefaultConcurrency, qps: migrate.DefaultQPS, burst: migrate.DefaultBurst, output: "table"}
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Move namespaces from blue to green: converted, ordered, resumable",
		Long: strings.TrimSpace(`
Move every object of the selected namespaces from blue to green, with the cluster-scoped
objects they depend on (CRDs, ClusterRoles/Bindings of their ServiceAccounts, StorageClasses,
PriorityClasses, IngressClasses, RuntimeClasses, admission webhooks they serve).

Objects are exported to an artifact directory (one YAML per object, plan.txt), cleaned of
blue-only fields, converted to API versions green serves, and server-side applied to green
(field manager "phoenix") in dependency order. CronJobs and unfinished Jobs land suspended;
cutover resumes them. blue is only read. Every object's outcome is journaled in the
workspace: --resume continues a run that was interrupted, and a second run changes nothing.`),
		Example: example(`
  phoenix migrate --ns payments
  phoenix migrate --ns payments --ns billing -l tier=backend --dry-run=server
  phoenix migrate --ns payments --resume
  phoenix migrate --ns payments --from prod --to green-137 -o json`),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			format, err := checkOutput(f.output, OutputTable, OutputJSON, OutputYAML)
			if err != nil {
				return err
			}
			if len(f.namespaces) == 0 {
				return usageError("--ns is required, e.g. --ns payments")
			}
			dry, err := migrate.ParseDryRun(f.dryRun)
			if err != nil {
				return usageError("%v", err)
			}
			if f.concurrency < 1 {
				return usageError("--concurrency must be at least 1")
			}
			ws, err := g.OpenWorkspace()
			if err != nil {
				return err
			}
			blueName, blue, err := clusterConfig(ws, f.from, state.RoleBlue)
			if err != nil {
				return err
			}
			greenName, green, err := clusterConfig(ws, f.to, state.RoleGreen)
			if err != nil {
				return err
			}
			if blueName == greenName {
				return usageError("blue and green are the same cluster %q: pass --from and --to", blueName)
			}
			qps := f.qps
			if qps <= 0 {
				qps = -1 // unthrottled (0 means the default to the library)
			}
			vres, vplan, err := f.moveVolumes(cmd.Context(), g, ws, dry, blue, green)
			if err != nil {
				return err
			}
			view := newProgressView(g.Streams.ErrOut, g.Verbosity > 0)
			res, err := migrate.Run(cmd.Context(), migrate.Options{
				Blue: blue, Green: green, BlueName: blueName, GreenName: greenName,
				Namespaces: f.namespaces, Selector: f.selector, ArtifactsDir: f.artifacts, KeepSecrets: f.keepSecrets,
				JournalRoot: ws.Path("migrations"), Resume: f.resume, DryRun: dry,
				Concurrency: f.concurrency, QPS: qps, Burst: f.burst,
				ForceConflicts: f.forceConflicts, Replace: f.replace,
				HoldWebhooks: f.holdWebhooks, AllowPartial: f.allowPartial, WebhookTimeout: f.webhookTimeout,
				Log: g.Logger(), Progress: view.Line, OnApply: view.Update,
			})
			view.Finish()
			if res != nil {
				if perr := printMigrate(g, format, res); perr != nil && err == nil {
					err = perr
				}
			}
			if err != nil {
				return err
			}
			if vplan != nil {
				if err := vplan.record(ws, vres, res.ID); err != nil {
					return fmt.Errorf("recording the volume move: %w", err)
				}
			}
			if res.Failed() {
				return WithExitCode(ExitError, fmt.Errorf("%d objects failed (see the reasons above; fix them and rerun, or rerun with --resume)", res.Counts[migrate.Failed]))
			}
			return nil
		},
	}
	fl := cmd.Flags()
	f.volumes.add(fl)
	fl.StringArrayVar(&f.namespaces, "ns", nil, "namespace to move (repeatable, required)")
	fl.StringVarP(&f.selector, "selector", "l", "", "label selector for the namespaced objects to move")
	fl.StringVar(&f.from, "from", "", "source cluster in the workspace (default: the cluster with role blue)")
	fl.StringVar(&f.to, "to", "", "target cluster in the workspace (default: the cluster with role green)")
	fl.StringVar(&f.dryRun, "dry-run", f.dryRun, "none, client (plan only) or server (green validates, nothing persists)")
	fl.StringVar(&f.artifacts, "artifacts", "", "directory for the exported YAML and plan.txt (default: in the migration's journal); phoenix creates it 0700 and refuses one it did not create")
	fl.BoolVar(&f.keepSecrets, "keep-secrets", false, "keep the plaintext Secret YAML in the artifacts after the run (removed by default)")
	fl.BoolVar(&f.resume, "resume", false, "continue the latest migration from its journal")
	fl.IntVar(&f.concurrency, "concurrency", f.concurrency, "parallel applies within a dependency level")
	fl.Float32Var(&f.qps, "qps", f.qps, "client-side requests per second to each cluster (0 or less: unthrottled)")
	fl.IntVar(&f.burst, "burst", f.burst, "client-side request burst")
	fl.BoolVar(&f.forceConflicts, "force-conflicts", false, "take over fields another field manager owns on green")
	fl.BoolVar(&f.replace, "replace", false, "delete and re-create an object on green when an immutable field differs")
	fl.BoolVar(&f.allowPartial, "allow-partial", false, "go on when part of blue cannot be read (forbidden or failed LISTs, failed API discovery), listing what is left behind (default: stop before writing anything)")
	fl.BoolVar(&f.holdWebhooks, "hold-webhooks", false, "hold back an admission webhook or APIService whose backend Service has no ready endpoints on green after --webhook-timeout (default: apply it with a warning)")
	fl.DurationVar(&f.webhookTimeout, "webhook-timeout", migrate.DefaultWebhookTimeout, "how long to wait for the backends of admission webhooks and APIServices to be ready on green")
	fl.StringVarP(&f.output, "output", "o", f.output, "output format: table, json or yaml")
	_ = cmd.RegisterFlagCompletionFunc("dry-run", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return []string{"none", "client", "server"}, cobra.ShellCompDirectiveNoFileComp
	})
	return cmd
}

// clusterConfig resolves a cluster named explicitly, or the one with role.
func clusterConfig(ws *state.Workspace, name, role string) (string, *rest.Config, error) {
	if name == "" {
		c, err := ws.ClusterByRole(role)
		if err != nil {
			return "", nil, err
		}
		name = c.Name
	}
	cfg, err := kube.ClusterConfig(ws, name)
	return name, cfg, err
}

func printMigrate(g *Global, format OutputFormat, res *migrate.Result) error {
	if format != OutputTable {
		return printStructured(g.Streams.Out, format, res)
	}
	out := g.Streams.Out
	tw := newTable(out)
	fmt.Fprintln(tw, "LEVEL\tOUTCOME\tOBJECT\tVERSION\tREASON")
	shown := 0
	for _, o := range res.Objects {
		if o.Outcome == migrate.Applied || o.Outcome == migrate.Unchanged {
			continue
		}
		version := o.To
		if o.From != "" && o.From != o.To && o.To != "" {
			version = o.From + " -> " + o.To
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", migrate.LevelName(o.Level), o.Outcome, o.Ref, version, o.Reason)
		shown++
	}
	if shown > 0 {
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	for _, ns := range sortedMessageKeys(res.Namespaces) {
		m := res.Namespaces[ns]
		label := ns
		if label == "" {
			label = "(cluster-scoped)"
		}
		for _, w := range m.Warnings {
			fmt.Fprintf(out, "Warning %s: %s\n", label, w)
		}
		for _, e := range m.Errors {
			fmt.Fprintf(out, "Error %s: %s\n", label, e)
		}
	}
	fmt.Fprintf(out, "Migration %s (%s): %s.\nJournal: %s\nArtifacts: %s\n", res.ID, res.DryRun, res.Summary(), res.JournalDir, res.ArtifactsDir)
	return nil
}

func sortedMessageKeys(m map[string]*migrate.Messages) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// moveVolumes moves PVC data through Velero before anything is applied on green. A dry
// run and a resumed migration whose volumes already moved skip it.
func (f *migrateFlags) moveVolumes(ctx context.Context, g *Global, ws *state.Workspace, dry migrate.DryRun, blue, green *rest.Config) (*volumes.Result, *volumePlan, error) {
	if dry != migrate.DryRunNone {
		if f.volumes.mode != "" && f.volumes.mode != string(volumes.ModeNone) {
			g.Progress("Volumes: not moved in a dry run")
		}
		return nil, nil, nil
	}
	if f.resume {
		if prev, err := volumes.LoadResult(ws); err == nil && prev != nil && prev.RestorePhase == "Completed" && sameSet(prev.Namespaces, f.namespaces) {
			g.Progress("Volumes: already moved by restore %s; not moved again", prev.Restore)
			return nil, nil, nil
		}
	}
	vp, err := f.volumes.plan(ctx, blue, green, f.namespaces, func(line string) { g.Progress("Volumes: %s", line) })
	if err != nil {
		return nil, nil, err
	}
	if vp.skip != "" {
		g.Progress("Volumes: not moved: %s", vp.skip)
		return nil, nil, nil
	}
	g.Progress("Volumes: moving PVC data through Velero (%s) before applying workloads", vp.opts.Mode)
	res, err := vp.move(ctx)
	if err != nil {
		return nil, nil, err
	}
	g.Progress("Volumes: backup %s and restore %s completed (%d claims)", res.Backup, res.Restore, res.Claims)
	return res, vp, nil
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[string]bool{}
	for _, x := range a {
		seen[x] = true
	}
	for _, x := range b {
		if !seen[x] {
			return false
		}
	}
	return true
}
