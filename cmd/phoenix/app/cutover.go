package app

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/phoenix-upgrade/phoenix/cutover"
)

type cutoverFlags struct {
	router   routerFlags
	steps    []int
	interval time.Duration
	gates    cutover.GatesConfig
	gateInt  time.Duration
	probeTO  time.Duration
	force    bool
	noGates  bool
	maxAge   time.Duration
	delta    bool
	discard  bool
	drain    time.Duration
	output   string
}

func newCutoverCommand(g *Global) *cobra.Command {
	def := cutover.DefaultGates()
	f := &cutoverFlags{steps: []int{10, 50, 100}, interval: 30 * time.Second, gates: def,
		gateInt: time.Duration(def.GateInterval), probeTO: time.Duration(def.ProbeTimeout)}
	cmd := &cobra.Command{
		Use:   "cutover",
		Short: "Shift traffic from blue to green in gated steps",
		Long: strings.TrimSpace(`
Move traffic from blue to green in steps. Before each step and during its interval,
gates are measured (HTTP probes against green, and for HAProxy green's 5xx rate); a
failed gate rolls back to blue at once and exits with code 3, inconclusive gates pause
(exit code 3, rerun to resume). The last step resumes green's CronJobs and Jobs and
suspends blue's. --final-delta moves the volume data once more through Velero just before
the last step, with blue's Deployments and StatefulSets scaled to zero; the report says
how long writes were stopped, and a failure rolls back (blue scaled back up, exit code 3).

Preflight: mandatory errors (no gate without --no-gates; --final-delta after split steps
without --discard-green-writes; a verify report for a migration this workspace does not
hold) stop the cutover whatever the flags; skippable ones (no migration, verify missing,
failed, older than --max-verify-age, for another migration or not covering its
namespaces) are overridden by --force, which records them.

A completed cutover rerun changes nothing and says so; an interrupted one (even by
kill -9) resumes from the journal and the router's weights.

Router flags, steps and gates are stored in the workspace (cutover/state.json): an
interrupted cutover resumes with a plain 'phoenix cutover', from any shell.`),
		Example: example(`
  phoenix cutover --router haproxy --haproxy-socket /run/haproxy/admin.sock --haproxy-backend shop \
      --steps 10,50,100 --interval 5m --probe https://green.shop.example/healthz
  phoenix cutover --router dns --dns-server ns1.example:53 --dns-zone example.com \
      --dns-name shop.example.com --dns-blue 203.0.113.10 --dns-green 203.0.113.20 \
      --dns-tsig-key-file /etc/phoenix/tsig.key
  phoenix cutover --router gateway --gateway-route shop/storefront \
      --gateway-blue-backend storefront-blue --gateway-green-backend storefront-green
  phoenix cutover --final-delta   # ... and move the volumes once more before the last step
  phoenix cutover            # resume with the stored router and plan`),
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
			stored, err := cutover.LoadState(ws)
			if err != nil {
				return err
			}
			var storedRouter *cutover.RouterConfig
			plan := cutover.Plan{Steps: f.steps, Interval: cutover.Duration(f.interval), Gates: f.gates, FinalDelta: f.delta,
				DiscardGreenWrites: f.discard, DrainTimeout: cutover.Duration(f.drain)}
			plan.Gates.GateInterval, plan.Gates.ProbeTimeout = cutover.Duration(f.gateInt), cutover.Duration(f.probeTO)
			if stored != nil {
				storedRouter = &stored.Router
				if stored.Phase == cutover.PhaseRunning || stored.Phase == cutover.PhasePaused {
					plan = mergePlan(cmd.Flags(), stored.Plan, plan)
				}
			}
			if err := cutover.ValidateSteps(plan.Steps); err != nil {
				return usageError("--steps: %v", err)
			}
			rc, err := f.router.resolve(cmd.Flags(), ws, storedRouter)
			if err != nil {
				return err
			}
			router, err := openRouter(ws, rc)
			if err != nil {
				return err
			}
			wl, err := openWorkloads(g, ws)
			if err != nil {
				return err
			}
			var finalDelta func(context.Context, func(context.Context) error) error
			if plan.FinalDelta && (stored == nil || stored.Phase != cutover.PhaseCompleted) {
				if finalDelta, err = finalDeltaHook(g, ws); err != nil {
					return err
				}
			}
			g.Progress("Cutover via %s: steps %v, %s each", router.Describe(), plan.Steps, time.Duration(plan.Interval))
			tl := startTimeline(cmd.Context(), router, timelineEvery(time.Duration(plan.Interval)))
			res, err := cutover.Run(cmd.Context(), cutover.Options{
				Workspace: ws, Router: router, RouterConfig: rc, Plan: plan, Workloads: wl,
				Gates: openGates(plan.Gates, router, rc), Force: f.force, NoGates: f.noGates, MaxVerifyAge: f.maxAge, Log: g.Logger(),
				FinalDelta: finalDelta, ResumeBlue: resumeBlue(ws), ResumeGreen: resumeGreen(ws), WaitBlueReady: waitBlueReady(ws),
				Notify: func(n cutover.Notice) {
					if n.Kind == "step-set" {
						g.Progress("Step %d%%: %s", n.Step, n.Weights)
						tl.mark(fmt.Sprintf("%d%%", n.Step))
					}
				},
			})
			if res != nil && res.Outcome == cutover.OutcomeRolledBack {
				tl.mark("rollback")
			}
			if path, terr := tl.finish(ws); terr == nil {
				g.Progress("Timeline: %s", path)
			} else {
				g.Progress("Timeline not written: %v", terr)
			}
			if err != nil {
				return err
			}
			if err := renderResult(g, format, res); err != nil {
				return err
			}
			switch res.Outcome {
			case cutover.OutcomeRolledBack:
				return WithExitCode(ExitFindings, fmt.Errorf("rolled back to blue 100%%: %s", res.Reason))
			case cutover.OutcomePaused:
				return WithExitCode(ExitFindings, errors.New(res.Reason))
			}
			return nil
		},
	}
	fl := cmd.Flags()
	f.router.add(fl)
	fl.IntSliceVar(&f.steps, "steps", f.steps, "green's weight in percent at each step, rising, ending at 100")
	fl.DurationVar(&f.interval, "interval", f.interval, "time each step is held and watched by the gates")
	fl.StringArrayVar(&f.gates.Probes, "probe", nil, "URL of green's entry point probed by the HTTP gate (repeatable)")
	fl.IntVar(&f.gates.ProbeRequests, "probe-requests", def.ProbeRequests, "requests per probe measurement")
	fl.Float64Var(&f.gates.ProbeSuccessRate, "probe-success-rate", def.ProbeSuccessRate, "share of probe requests that must answer 2xx/3xx")
	fl.DurationVar(&f.probeTO, "probe-timeout", f.probeTO, "timeout of one probe request")
	fl.Float64Var(&f.gates.Max5xxRate, "max-5xx-rate", def.Max5xxRate, "highest share of failed answers from green in HAProxy's stats (haproxy router; 0 disables)")
	fl.IntVar(&f.gates.MinRequests, "min-requests", def.MinRequests, "requests green must serve between measurements for the 5xx rate to count")
	fl.DurationVar(&f.gateInt, "gate-interval", f.gateInt, "time between two gate measurements")
	fl.IntVar(&f.gates.FailureLimit, "failure-limit", def.FailureLimit, "failed measurements tolerated per step before rolling back")
	fl.IntVar(&f.gates.InconclusiveLimit, "inconclusive-limit", def.InconclusiveLimit, "inconclusive measurements tolerated per step before pausing")
	fl.IntVar(&f.gates.ConsecutiveErrorLimit, "consecutive-error-limit", def.ConsecutiveErrorLimit, "measurements in a row that may not be taken before rolling back")
	fl.BoolVar(&f.delta, "final-delta", false, "move the volumes once more through Velero just before the last step, with blue's Deployments and StatefulSets scaled to zero (needs a `migrate --volumes velero-csi` record; stored for a resume)")
	fl.BoolVar(&f.discard, "discard-green-writes", false, "with --final-delta after split steps: accept that the delta replaces green's claims, and with them what green wrote at those steps (stored for a resume)")
	fl.DurationVar(&f.drain, "drain-timeout", cutover.DefaultDrainTimeout, "with --final-delta: how long to wait for blue's in-flight requests after the last switch")
	fl.BoolVar(&f.noGates, "no-gates", false, "accept a cutover without any gate (no --probe, and a router that adds none): it advances on time alone")
	fl.DurationVar(&f.maxAge, "max-verify-age", cutover.DefaultMaxVerifyAge, "oldest verify report a cutover starts from")
	fl.BoolVar(&f.force, "force", false, "start despite the skippable preflight errors (no migration, verify missing, failed, too old, for another migration or not covering its namespaces); recorded in the journal")
	fl.StringVarP(&f.output, "output", "o", "table", "output format: table, json or yaml")
	return cmd
}

// mergePlan keeps a resumed cutover's stored plan, except for the flags given now.
func mergePlan(fs *pflag.FlagSet, stored, flags cutover.Plan) cutover.Plan {
	p := stored
	if fs.Changed("steps") {
		p.Steps = flags.Steps
	}
	if fs.Changed("interval") {
		p.Interval = flags.Interval
	}
	if fs.Changed("final-delta") {
		p.FinalDelta = flags.FinalDelta
	}
	if fs.Changed("discard-green-writes") {
		p.DiscardGreenWrites = flags.DiscardGreenWrites
	}
	if fs.Changed("drain-timeout") {
		p.DrainTimeout = flags.DrainTimeout
	}
	for _, name := range []string{"probe", "probe-requests", "probe-success-rate", "probe-timeout", "max-5xx-rate", "min-requests", "gate-interval", "failure-limit", "inconclusive-limit", "consecutive-error-limit"} {
		if fs.Changed(name) {
			p.Gates = flags.Gates
			break
		}
	}
	return p
}

func renderResult(g *Global, format OutputFormat, res *cutover.Result) error {
	if format != OutputTable {
		return printStructured(g.Streams.Out, format, res)
	}
	if res.Unchanged {
		fmt.Fprintf(g.Streams.Out, "Cutover %s already: %s, nothing changed\n", res.Outcome, res.Weights)
	} else {
		fmt.Fprintf(g.Streams.Out, "Cutover %s: %s\n", res.Outcome, res.Weights)
	}
	if res.Reason != "" {
		fmt.Fprintf(g.Streams.Out, "Reason: %s\n", res.Reason)
	}
	if res.State != nil {
		renderFinalDelta(g, res.State.FinalDelta)
	}
	return nil
}

type rollbackFlags struct {
	router       routerFlags
	reason       string
	readyTimeout time.Duration
	force        bool
	output       string
}

func newRollbackCommand(g *Global) *cobra.Command {
	f := &rollbackFlags{}
	cmd := &cobra.Command{
		Use:   "rollback",
		Short: "Point all traffic back at blue at once, and hand CronJobs and Jobs back to blue",
		Long: strings.TrimSpace(`
Point the router at blue 100% / green 0%, using the router stored by 'phoenix cutover'
(flags override it), then reverse the CronJob and Job swap of the last step. A cutover
running in another shell notices and stops. For DNS, clients may keep green's answer for
up to the record TTL.

Before traffic moves, blue's Deployments and StatefulSets scaled to zero by a final delta
get their replicas back (from their phoenix.dev/scaled-down-from annotations) and
phoenix waits, up to --ready-timeout, until blue's workloads are ready; it reports how
long that took. When blue cannot be restored, traffic stays where it serves and the
rollback fails (rerun it once blue is fixed, or --force to move traffic anyway).`),
		Example: example(`
  phoenix rollback
  phoenix rollback --reason "checkout latency"
  phoenix rollback --router haproxy --haproxy-socket /run/haproxy/admin.sock --haproxy-backend shop`),
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
			st, err := cutover.LoadState(ws)
			if err != nil {
				return err
			}
			if st == nil {
				return fmt.Errorf("%w: no cutover recorded in %s (start one with `phoenix cutover`)", cutover.ErrNothingToRollBack, cutover.StatePath(ws))
			}
			rc, err := f.router.resolve(cmd.Flags(), ws, &st.Router)
			if err != nil {
				return err
			}
			router, err := openRouter(ws, rc)
			if err != nil {
				return err
			}
			wl, err := openWorkloads(g, ws)
			if err != nil {
				return err
			}
			res, err := cutover.Rollback(cmd.Context(), cutover.RollbackOptions{Workspace: ws, Router: router, Workloads: wl, Reason: f.reason, Log: g.Logger(),
				ResumeBlue: resumeBlue(ws), ResumeGreen: resumeGreen(ws), WaitBlueReady: waitBlueReady(ws), ReadyTimeout: f.readyTimeout, Force: f.force})
			if err != nil {
				return err
			}
			return renderResult(g, format, res)
		},
	}
	f.router.add(cmd.Flags())
	cmd.Flags().StringVar(&f.reason, "reason", "", "why, for the journal")
	cmd.Flags().DurationVar(&f.readyTimeout, "ready-timeout", cutover.DefaultReadyTimeout, "how long to wait for blue's workloads to be ready before moving traffic back")
	cmd.Flags().BoolVar(&f.force, "force", false, "move traffic to blue even when blue's workloads could not be restored or are not ready")
	cmd.Flags().StringVarP(&f.output, "output", "o", "table", "output format: table, json or yaml")
	return cmd
}

func newStatusCommand(g *Global) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:     "status",
		Short:   "Show where a migration stands: clusters, migrations, last verify, weights, cutover history",
		Example: "  phoenix status\n  phoenix status -o json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			format, err := checkOutput(output, OutputTable, OutputJSON, OutputYAML)
			if err != nil {
				return err
			}
			ws, err := g.OpenWorkspace()
			if err != nil {
				return err
			}
			st, err := cutover.LoadState(ws)
			if err != nil {
				return err
			}
			var router cutover.Router
			if st != nil && st.Router.Validate() == nil {
				router, _ = openRouter(ws, st.Router)
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 10*time.Second)
			defer cancel()
			rep, err := cutover.Status(ctx, ws, router)
			if err != nil {
				return err
			}
			if format != OutputTable {
				return printStructured(g.Streams.Out, format, rep)
			}
			return renderStatus(g, rep)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table, json or yaml")
	return cmd
}

func renderStatus(g *Global, r *cutover.Report) error {
	out := g.Streams.Out
	tw := newTable(out)
	fmt.Fprintln(tw, "CLUSTER\tROLE\tPROVIDER\tVERSION")
	for _, c := range r.Clusters {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.Name, dash(c.Role), c.Provider, dash(c.Version))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(out, "\nMigrations: %d recorded", len(r.Migrations))
	if len(r.Migrations) > 0 {
		fmt.Fprintf(out, " (latest %s, %s)", r.Migrations[0].Name, r.Migrations[0].Modified.Format(time.RFC3339))
	}
	fmt.Fprintln(out)
	switch {
	case r.Verify == nil:
		fmt.Fprintln(out, "Verify: never ran")
	case r.Verify.Passed:
		fmt.Fprintf(out, "Verify: passed at %s %s\n", r.Verify.Time.Format(time.RFC3339), r.Verify.Summary)
	default:
		fmt.Fprintf(out, "Verify: FAILED at %s %s\n", r.Verify.Time.Format(time.RFC3339), r.Verify.Summary)
	}
	if r.Cutover == nil {
		fmt.Fprintln(out, "Cutover: not started")
		return nil
	}
	fmt.Fprintf(out, "Cutover: %s, recorded weights %s", r.Cutover.Phase, r.Cutover.Weights)
	switch {
	case r.Live != nil:
		fmt.Fprintf(out, ", live %s (%s)", r.Live, r.Router)
	case r.LiveError != "":
		fmt.Fprintf(out, ", live weights unavailable: %s", r.LiveError)
	}
	fmt.Fprintln(out)
	if r.Cutover.Reason != "" {
		fmt.Fprintf(out, "Reason: %s\n", r.Cutover.Reason)
	}
	renderFinalDelta(g, r.Cutover.FinalDelta)
	tw = newTable(out)
	fmt.Fprintln(tw, "\nTIME\tEVENT\tWEIGHTS\tDETAIL")
	for _, e := range r.Cutover.History {
		w := "-"
		if e.Effective != nil {
			w = e.Effective.String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", e.Time.Format(time.RFC3339), e.Kind, w, dash(e.Detail))
	}
	return tw.Flush()
}

// timelineEvery samples often enough for a few points per step, at most 4 a second.
func timelineEvery(interval time.Duration) time.Duration {
	return min(max(interval/10, 250*time.Millisecond), 5*time.Second)
}
