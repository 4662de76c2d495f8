package app

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/phoenix-upgrade/phoenix/kube"
	"github.com/phoenix-upgrade/phoenix/state"
	"github.com/phoenix-upgrade/phoenix/verify"
	"github.com/phoenix-upgrade/phoenix/volumes"
)

type verifyFlags struct {
	namespaces []string
	from, to   string
	migration  string
	probes     []string
	output     string
}

func newVerifyCommand(g *Global) *cobra.Command {
	f := &verifyFlags{output: "table"}
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Prove parity between blue and green; non-zero exit when not at parity",
		Long: strings.TrimSpace(`
Compare every object the latest migration moved: what green holds against what blue holds
after the same sanitize and convert steps migrate applies (fields green's apiserver
defaulted do not count). Report missing and extra objects and field-level diffs (Secret
values masked), and check on green that Deployments, StatefulSets and DaemonSets are
available, Services have endpoints, PVCs are bound, and --probe URLs answer. When
migrate moved volume data through Velero, check that the restore completed with every
item and byte and that each restored claim is on green and bound.

Exit code 3 when green is not at parity. The report is kept in the workspace
(verify/latest.json); cutover refuses to start unless it passed.`),
		Example: example(`
  phoenix verify --ns payments
  phoenix verify --ns payments --probe http://green.example.com/healthz -o json`),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			format, err := checkOutput(f.output, OutputTable, OutputJSON, OutputYAML)
			if err != nil {
				return err
			}
			ws, err := g.OpenWorkspace()
			if err != nil {
				return err
			}
			_, blue, err := clusterConfig(ws, f.from, state.RoleBlue)
			if err != nil {
				return err
			}
			_, green, err := clusterConfig(ws, f.to, state.RoleGreen)
			if err != nil {
				return err
			}
			vol, err := volumes.LoadResult(ws)
			if err != nil {
				return err
			}
			rep, err := verify.Run(cmd.Context(), verify.Options{
				Blue: blue, Green: green, JournalRoot: ws.Path("migrations"), MigrationID: f.migration,
				Namespaces: f.namespaces, Probes: f.probes, QPS: kube.DefaultQPS, Burst: kube.DefaultBurst,
				Volumes: vol, ReportPath: ws.Path("verify", "latest.json"), Log: g.Logger(),
				Progress: func(line string) { g.Progress("%s", line) },
			})
			if err != nil {
				return err
			}
			if err := printVerify(g, format, rep); err != nil {
				return err
			}
			if !rep.Passed {
				return WithExitCode(ExitFindings, fmt.Errorf("green is not at parity with blue: %d failures", rep.Failures))
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&f.namespaces, "ns", nil, "namespace to verify (repeatable; default: those the migration moved)")
	fl.StringVar(&f.from, "from", "", "blue cluster in the workspace (default: the cluster with role blue)")
	fl.StringVar(&f.to, "to", "", "green cluster in the workspace (default: the cluster with role green)")
	fl.StringVar(&f.migration, "migration", "", "migration id to verify (default: the latest)")
	fl.StringArrayVar(&f.probes, "probe", nil, "URL on green that must answer with a status below 400 (repeatable)")
	fl.StringVarP(&f.output, "output", "o", f.output, "output format: table, json or yaml")
	return cmd
}

func printVerify(g *Global, format OutputFormat, rep *verify.Report) error {
	if format != OutputTable {
		return printStructured(g.Streams.Out, format, rep)
	}
	out := g.Streams.Out
	if len(rep.Problems) > 0 {
		tw := newTable(out)
		fmt.Fprintln(tw, "STATUS\tOBJECT\tDETAIL")
		for _, p := range rep.Problems {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", p.Status, p.Object, p.Message)
			for _, d := range p.Diffs {
				fmt.Fprintf(tw, "\t\t  %s: blue %s, green %s\n", d.Path, d.Want, d.Green)
			}
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	var failed []verify.Check
	for _, c := range rep.Checks {
		if !c.Passed {
			failed = append(failed, c)
		}
	}
	if len(failed) > 0 {
		tw := newTable(out)
		fmt.Fprintln(tw, "CHECK\tOBJECT\tDETAIL")
		for _, c := range failed {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", c.Check, c.Object, c.Message)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	for _, w := range rep.Warnings {
		fmt.Fprintf(out, "Warning: %s\n", w)
	}
	verdict := "PASSED"
	if !rep.Passed {
		verdict = "FAILED"
	}
	fmt.Fprintf(out, "Verify %s: %d/%d objects at parity, %d checks, %d failures (migration %s, %s).\n",
		verdict, rep.AtParity, rep.Compared, len(rep.Checks), rep.Failures, rep.Migration, rep.Duration)
	return nil
}
