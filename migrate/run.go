package migrate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/phoenix-upgrade/phoenix/kube"
	"github.com/phoenix-upgrade/phoenix/state"
)

// LockFileName is the lock file of the migrations area (in JournalRoot).
const LockFileName = ".lock"

// run is the state of one migration as it goes through the phases.
type run struct {
	o         Options
	blueDyn   dynamic.Interface
	blueDisc  *discovery.DiscoveryClient
	blueLog   *RequestLog
	greenDyn  dynamic.Interface
	greenDisc *discovery.DiscoveryClient
	bIdx      *apiIndex
	gIdx      *apiIndex
	crdServed map[schema.GroupVersionKind]bool // kinds the CRDs being moved will serve
	d         *discoverer
	items     []*item
	res       *Result
	j         *Journal
	// prev holds the records of the migration being resumed, or of the previous
	// migration (to tell "unchanged" from "applied").
	prev   map[string]Record
	resume bool
	// scratch holds the namespaces a server dry run created on green (dryrun.go).
	scratch []string

	mu                    sync.Mutex
	done                  int
	level                 int // the level being applied, its size and objects done
	levelDone, levelTotal int
	applyStart            time.Time
}

// phase is one named step of the pipeline.
type phase struct {
	name string
	run  func(*run, context.Context) error
}

var phases = []phase{
	{"discover APIs", (*run).discoverAPIs},
	{"discover", (*run).discover},
	{"sanitize and convert", (*run).convert},
	{"completeness", (*run).complete},
	{"preflight", (*run).preflight},
	{"journal", (*run).openJournal},
	{"export", (*run).export},
	{"apply", (*run).apply},
}

// Run migrates the selected namespaces from blue to green. It returns the result even
// when objects failed (Result.Failed); an error means the migration could not run or
// stopped (a preflight check, a cancelled context), and says what to do.
func Run(ctx context.Context, opts Options) (*Result, error) {
	if err := opts.defaults(true); err != nil {
		return nil, err
	}
	// One migration at a time per workspace: the journal's torn-line repair and its
	// appends must not meet another run's.
	lockPath := filepath.Join(opts.JournalRoot, LockFileName)
	_, statErr := os.Lstat(opts.JournalRoot)
	rootExisted := statErr == nil
	_, statErr = os.Lstat(lockPath)
	lockExisted := statErr == nil
	lock, err := state.LockFile(lockPath, "a migration")
	if err != nil {
		return nil, err
	}
	var r *run
	defer func() {
		// A run that stopped before its journal (bad input, an unreachable cluster)
		// leaves the workspace as it found it: no lock file, no migrations directory.
		// Still holding the lock, nobody else can be using this file.
		if r == nil || r.j == nil {
			if !lockExisted {
				_ = os.Remove(lockPath)
			}
			if !rootExisted {
				_ = os.Remove(opts.JournalRoot) // only when empty
			}
		}
		lock.Unlock()
	}()
	r, err = newRun(opts)
	if err != nil {
		return nil, err
	}
	blueLog := r.blueLog
	for _, p := range phases {
		opts.Log.Debug("phase", "name", p.name)
		began := time.Now()
		err = p.run(r, ctx)
		r.res.Phases = append(r.res.Phases, PhaseTiming{Name: p.name, Duration: time.Since(began)})
		if err != nil {
			err = fmt.Errorf("%s: %w", p.name, err)
			break
		}
	}
	if !opts.KeepSecrets && r.res.ArtifactsDir != "" {
		n, rerr := removeSecretArtifacts(r.res.ArtifactsDir, r.items)
		r.res.SecretsRemoved = n
		if rerr != nil && err == nil {
			err = rerr
		}
		if n > 0 {
			opts.Progress(fmt.Sprintf("Removed %d plaintext Secret files from the artifacts (keep them with --keep-secrets)", n))
		}
	}
	r.res.Finished = time.Now().UTC()
	r.res.BlueWritesRefused = len(blueLog.Refused())
	r.res.sortObjects()
	if r.j != nil {
		status := "done"
		if err != nil || r.res.Failed() {
			status = "failed"
		}
		if cerr := r.j.Close(status); cerr != nil && err == nil {
			err = cerr
		}
	}
	if err == nil && r.res.BlueWritesRefused > 0 {
		err = fmt.Errorf("phoenix tried to write to blue %d times and was stopped (a bug, please report): %s", r.res.BlueWritesRefused, strings.Join(blueLog.Refused(), ", "))
	}
	return r.res, err
}

func newRun(opts Options) (*run, error) {
	r := &run{o: opts, res: &Result{DryRun: opts.DryRun, Started: time.Now().UTC(), Counts: map[Outcome]int{}, Namespaces: map[string]*Messages{}}}
	blueCfg, blueLog := ReadOnly(kube.Throttle(rest.CopyConfig(opts.Blue), opts.QPS, opts.Burst))
	greenCfg := kube.Throttle(rest.CopyConfig(opts.Green), opts.QPS, opts.Burst)
	r.blueLog = blueLog
	blueCfg.WarningHandler = warnLog{opts.Log, "blue"}
	greenCfg.WarningHandler = warnLog{opts.Log, "green"}
	var err error
	if r.blueDyn, err = dynamic.NewForConfig(blueCfg); err != nil {
		return nil, fmt.Errorf("blue client: %w", err)
	}
	if r.blueDisc, err = discovery.NewDiscoveryClientForConfig(blueCfg); err != nil {
		return nil, fmt.Errorf("blue client: %w", err)
	}
	if r.greenDyn, err = dynamic.NewForConfig(greenCfg); err != nil {
		return nil, fmt.Errorf("green client: %w", err)
	}
	if r.greenDisc, err = discovery.NewDiscoveryClientForConfig(greenCfg); err != nil {
		return nil, fmt.Errorf("green client: %w", err)
	}
	return r, nil
}

func (r *run) discoverAPIs(ctx context.Context) error {
	var partial []Unread
	var err error
	if r.bIdx, partial, err = discoverAPI(ctx, r.blueDisc.WithLegacyWithContext(ctx)); err != nil {
		return fmt.Errorf("blue: %w (check the blue cluster is reachable)", err)
	}
	for _, u := range partial {
		r.res.addUnread(u)
	}
	if r.gIdx, partial, err = discoverAPI(ctx, r.greenDisc.WithLegacyWithContext(ctx)); err != nil {
		return fmt.Errorf("green: %w (check the green cluster is reachable)", err)
	}
	for _, u := range partial {
		r.res.messages("").Warnings = append(r.res.messages("").Warnings,
			"green: "+u.String()+"; objects of that API cannot be applied there")
	}
	return nil
}

func (r *run) discover(ctx context.Context) error {
	r.d = &discoverer{o: &r.o, blue: r.blueDyn, bIdx: r.bIdx, gIdx: r.gIdx, res: r.res}
	if err := r.d.discover(ctx); err != nil {
		return err
	}
	r.items = r.d.items
	r.o.Progress(fmt.Sprintf("Discovered %d objects on blue in %s", len(r.items), strings.Join(r.o.Namespaces, ", ")))
	return nil
}

// served reports whether green serves gvk now or will once the moving CRDs land.
func (r *run) served(gvk schema.GroupVersionKind) bool {
	return r.gIdx.Served(gvk) || r.crdServed[gvk]
}

func (r *run) convert(ctx context.Context) error {
	r.crdServed = map[schema.GroupVersionKind]bool{}
	for _, it := range r.items {
		if it.skip == "" && it.obj.GetKind() == "CustomResourceDefinition" {
			g, _, _ := unstructured.NestedString(it.obj.Object, "spec", "group")
			kind, _, _ := unstructured.NestedString(it.obj.Object, "spec", "names", "kind")
			vers, _, _ := unstructured.NestedSlice(it.obj.Object, "spec", "versions")
			for _, v := range vers {
				if m, ok := v.(map[string]any); ok && m["served"] == true {
					r.crdServed[schema.GroupVersionKind{Group: g, Version: strField(m, "name"), Kind: kind}] = true
				}
			}
		}
	}
	for _, it := range r.items {
		if it.skip != "" {
			it.level = LevelOf(it.readRef.GVK().GroupKind())
			continue
		}
		it.notes = append(it.notes, Sanitize(it.obj)...)
		if it.offline {
			out, notes, err := offlineConvert(it.obj, r.served)
			if err != nil {
				it.failed = err.Error()
			} else {
				it.obj = out
				it.notes = append(it.notes, notes...)
			}
		}
		if changed, err := Suspend(it.obj); err != nil {
			it.failed = err.Error()
		} else if changed {
			it.notes = append(it.notes, "lands suspended on green so it does not run twice; cutover resumes it")
		}
		it.level = LevelOf(it.obj.GroupVersionKind().GroupKind())
		it.hash = Hash(it.obj)
	}
	sort.SliceStable(r.items, func(i, j int) bool {
		a, b := r.items[i], r.items[j]
		if a.level != b.level {
			return a.level < b.level
		}
		return a.readRef.Key() < b.readRef.Key()
	})
	return ctx.Err()
}

// preflight fails before anything is written when green lacks an API a custom resource
// needs (one served by an aggregated API server on blue, with no CRD to move).
func (r *run) preflight(context.Context) error {
	missing := map[string][]string{}
	for _, it := range r.items {
		if it.skip != "" || it.failed != "" {
			continue
		}
		gvk := it.obj.GroupVersionKind()
		if r.served(gvk) {
			continue
		}
		if builtinGroup(gvk.Group) {
			it.failed = fmt.Sprintf("green does not serve %s and phoenix has no converter for it", gvk.GroupVersion())
			continue
		}
		gv := gvk.GroupVersion().String()
		missing[gv] = append(missing[gv], it.readRef.String())
	}
	if len(missing) == 0 {
		return nil
	}
	var parts []string
	for gv, objs := range missing {
		if len(objs) > 3 {
			objs = append(objs[:3], fmt.Sprintf("and %d more", len(objs)-3))
		}
		parts = append(parts, fmt.Sprintf("%s (needed by %s)", gv, strings.Join(objs, ", ")))
	}
	sort.Strings(parts)
	return fmt.Errorf("green does not serve %s: install those APIs on green (their CRDs or aggregated API servers) and rerun; nothing was written",
		strings.Join(parts, "; "))
}

func (r *run) openJournal(ctx context.Context) error {
	root := r.o.JournalRoot
	if r.o.Resume {
		id, err := LatestID(root)
		if err != nil {
			return fmt.Errorf("nothing to resume: %w", err)
		}
		j, recs, err := ResumeJournal(root, id)
		if err != nil {
			return err
		}
		if m := j.Meta(); !slices.Equal(m.Namespaces, r.o.Namespaces) || m.Selector != r.o.Selector {
			_ = j.Close("failed")
			return fmt.Errorf("migration %s moved namespaces %v (selector %q), not %v (selector %q): rerun without --resume, or with the same --ns and -l",
				id, m.Namespaces, m.Selector, r.o.Namespaces, r.o.Selector)
		}
		if err := r.sameClusters(ctx, id, j.Meta()); err != nil {
			_ = j.Close("failed")
			return err
		}
		r.j, r.prev, r.resume = j, recs, true
	} else {
		if id, err := LatestID(root); err == nil {
			if _, recs, err := ReadJournal(filepath.Join(root, id)); err == nil {
				r.prev = recs
			}
		}
		meta := Meta{ID: NewID(time.Now()), Blue: r.o.BlueName, Green: r.o.GreenName,
			BlueID: clusterIdentity(ctx, r.blueDyn, r.o.Blue.Host), GreenID: clusterIdentity(ctx, r.greenDyn, r.o.Green.Host), Namespaces: r.o.Namespaces,
			Selector: r.o.Selector, DryRun: r.o.DryRun, Artifacts: r.o.ArtifactsDir, Started: r.res.Started}
		if meta.Artifacts == "" {
			meta.Artifacts = filepath.Join(root, meta.ID, "artifacts")
		}
		j, err := CreateJournal(root, meta, r.o.DryRun == DryRunNone)
		if err != nil {
			return err
		}
		r.j = j
	}
	r.res.ID = r.j.Meta().ID
	r.res.JournalDir = r.j.Dir
	r.res.ArtifactsDir = r.o.ArtifactsDir
	if r.res.ArtifactsDir == "" {
		r.res.ArtifactsDir = r.j.Meta().Artifacts
	}
	return ctx.Err()
}

func (r *run) export(ctx context.Context) error {
	if err := export(r.res.ArtifactsDir, r.items); err != nil {
		return err
	}
	r.o.Progress(fmt.Sprintf("Exported the plan to %s (plan.txt)", r.res.ArtifactsDir))
	return ctx.Err()
}

// Hash is the sha256 of an object's canonical JSON (map keys sorted).
func Hash(obj *unstructured.Unstructured) string {
	data, err := json.Marshal(obj.Object)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// errCanceled reports a cancelled or expired context.
func errCanceled(ctx context.Context, err error) bool {
	return ctx.Err() != nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// warnLog sends the apiservers' warnings (deprecated APIs read on blue) to the debug log
// instead of client-go's default of printing them to stderr.
type warnLog struct {
	log     *slog.Logger
	cluster string
}

func (w warnLog) HandleWarningHeader(_ int, _ string, text string) {
	w.log.Debug("apiserver warning", "cluster", w.cluster, "warning", text)
}
