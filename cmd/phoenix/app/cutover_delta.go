package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/phoenix-upgrade/phoenix/cutover"
	"github.com/phoenix-upgrade/phoenix/kube"
	"github.com/phoenix-upgrade/phoenix/state"
	"github.com/phoenix-upgrade/phoenix/volumes"
)

// finalDeltaHook builds the Options.FinalDelta of `phoenix cutover --final-delta` from the
// volume move migrate recorded; it refuses when there is none to repeat.
func finalDeltaHook(g *Global, ws *state.Workspace) (func(context.Context, func(context.Context) error) error, error) {
	rec, err := volumes.LoadResult(ws)
	if err != nil {
		return nil, err
	}
	switch {
	case rec == nil:
		return nil, fmt.Errorf("--final-delta repeats the volume move of `phoenix migrate --volumes velero|velero-csi`, and none is recorded in %s: migrate with --volumes first, or drop --final-delta", volumes.ResultPath(ws))
	case rec.Mode == volumes.ModeNone || rec.Claims == 0:
		return nil, fmt.Errorf("--final-delta: the recorded migration moved no volume data (%s, %d claims): there is nothing to move again, drop --final-delta", rec.Mode, rec.Claims)
	case rec.Mode == volumes.ModeFS:
		return nil, errors.New("--final-delta needs --volumes velero-csi: file-system backup (velero) reads volumes through running pods, and the final delta stops blue's writers by scaling them to zero, which leaves nothing to read")
	}
	blueCfg, err := roleConfig(ws, state.RoleBlue)
	if err != nil {
		return nil, err
	}
	greenCfg, err := roleConfig(ws, state.RoleGreen)
	if err != nil {
		return nil, err
	}
	blue, err := kubernetes.NewForConfig(blueCfg)
	if err != nil {
		return nil, err
	}
	green, err := kubernetes.NewForConfig(greenCfg)
	if err != nil {
		return nil, err
	}
	progress := func(line string) { g.Progress("Final delta: %s", line) }
	vopts := volumes.Options{Blue: blueCfg, Green: greenCfg, Namespaces: rec.Namespaces, Mode: rec.Mode,
		VeleroNamespace: rec.VeleroNamespace, StorageLocation: rec.StorageLocation, Migration: rec.Migration,
		Log: g.Logger(), Progress: progress}
	return cutover.FinalDeltaHook(cutover.FinalDeltaOptions{
		Workspace: ws, Blue: blue, Green: green, Namespaces: rec.Namespaces, Log: g.Logger(), Progress: progress,
		Run: func(ctx context.Context, stop volumes.StopWrites) (*volumes.Result, error) {
			return runFinalDelta(ctx, vopts, stop)
		},
	}), nil
}

// runFinalDelta moves the volumes for --final-delta; tests that run phoenix as a
// subprocess without Velero replace it (see cutover_kill_test.go).
var runFinalDelta = volumes.FinalDelta

// waitBlueReady returns what waits for blue's workloads before a rollback moves traffic,
// or nil when no blue cluster is registered.
func waitBlueReady(ws *state.Workspace) func(context.Context, []string) error {
	cfg, err := roleConfig(ws, state.RoleBlue)
	if err != nil {
		return nil
	}
	blue, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil
	}
	return cutover.WaitReadyFunc(blue, time.Second)
}

// resumeGreen returns what gives green's claim users their replicas back after a rollback
// interrupted a final delta, or nil when no green cluster is registered.
func resumeGreen(ws *state.Workspace) func(context.Context, []string) error {
	cfg, err := roleConfig(ws, state.RoleGreen)
	if err != nil {
		return nil
	}
	green, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil
	}
	return cutover.ResumeScaledOn("green", green)
}

// resumeBlue returns what gives blue's writers their replicas back after a final delta,
// or nil when no blue cluster is registered.
func resumeBlue(ws *state.Workspace) func(context.Context, []string) error {
	cfg, err := roleConfig(ws, state.RoleBlue)
	if err != nil {
		return nil
	}
	blue, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil
	}
	return cutover.ResumeScaledFunc(blue)
}

func roleConfig(ws *state.Workspace, role string) (*rest.Config, error) {
	c, err := ws.ClusterByRole(role)
	if err != nil {
		return nil, fmt.Errorf("--final-delta needs the %s cluster registered: %w", role, err)
	}
	return kube.ClusterConfig(ws, c.Name)
}

// renderFinalDelta prints the final delta's line of a cutover report or status.
func renderFinalDelta(g *Global, f *cutover.FinalDeltaRecord) {
	if f == nil {
		return
	}
	out := g.Streams.Out
	switch {
	case f.Error != "":
		fmt.Fprintf(out, "Final delta FAILED at %s (writes on blue stopped for %s): %s\n", f.Time.Format(time.RFC3339), time.Duration(f.Window).Round(time.Millisecond), f.Error)
	case f.Backup == "":
		fmt.Fprintf(out, "Final delta at %s: no claims to move\n", f.Time.Format(time.RFC3339))
	default:
		fmt.Fprintf(out, "Final delta at %s: backup %s, restore %s; writes on blue stopped for %s\n", f.Time.Format(time.RFC3339), f.Backup, f.Restore, time.Duration(f.Window).Round(time.Millisecond))
	}
	if (f.BlueStopping || len(f.ScaledBlue) > 0) && !f.BlueResumed {
		fmt.Fprintf(out, "Blue: %d workload(s) scaled to zero by the final delta (`phoenix rollback` gives them their replicas back)\n", len(f.ScaledBlue))
	}
}
