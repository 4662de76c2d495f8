package verify

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"

	"github.com/phoenix-upgrade/phoenix/kube"
	"github.com/phoenix-upgrade/phoenix/migrate"
	"github.com/phoenix-upgrade/phoenix/state"
	"github.com/phoenix-upgrade/phoenix/volumes"
)

// Options configure a verification.
type Options struct {
	Blue, Green *rest.Config
	// JournalRoot holds the migrations (the workspace's "migrations"); MigrationID picks
	// one, default the latest.
	JournalRoot string
	MigrationID string
	// Namespaces to check; default those the migration moved.
	Namespaces []string
	// Probes are URLs (green's entry points) that must answer below 400.
	Probes       []string
	ProbeTimeout time.Duration
	HTTPClient   *http.Client
	QPS          float32
	Burst        int
	// Volumes is the Velero move on record (volumes.LoadResult); when it covers the
	// namespaces, volume parity is checked too. nil skips those checks.
	Volumes *volumes.Result
	// ReportPath receives the report as JSON when set (cutover reads passed and time).
	ReportPath string
	Log        *slog.Logger
	Progress   func(string)
}

// Object statuses in a report.
const (
	StatusOK      = "ok"
	StatusDiffers = "differs"
	StatusMissing = "missing"
	StatusExtra   = "extra"
)

// ObjectCheck is the parity of one object.
type ObjectCheck struct {
	Object    string      `json:"object"`
	Ref       migrate.Ref `json:"ref"`
	Status    string      `json:"status"`
	Message   string      `json:"message,omitempty"`
	BlueHash  string      `json:"blueHash,omitempty"`
	GreenHash string      `json:"greenHash,omitempty"`
	Diffs     []Diff      `json:"diffs,omitempty"`
}

// Check is one readiness check or probe.
type Check struct {
	Object  string `json:"object"`
	Check   string `json:"check"`
	Passed  bool   `json:"passed"`
	Message string `json:"message,omitempty"`
}

// Report is the outcome of a verification.
type Report struct {
	Passed     bool      `json:"passed"`
	Time       time.Time `json:"time"`
	Namespaces []string  `json:"namespaces"`
	Failures   int       `json:"failures"`
	Migration  string    `json:"migration"`
	// Compared counts objects compared; AtParity those equal on both sides.
	Compared int `json:"compared"`
	AtParity int `json:"atParity"`
	// Problems lists every object not at parity.
	Problems []ObjectCheck `json:"problems,omitempty"`
	Checks   []Check       `json:"checks,omitempty"`
	Warnings []string      `json:"warnings,omitempty"`
	Duration string        `json:"duration"`
	// Summary is one line for `phoenix status` and the cutover gate.
	Summary string `json:"summary"`
}

// Run verifies parity between blue and green for the latest (or the given) migration.
// A report that did not pass is not an error; an error means verify could not run.
func Run(ctx context.Context, o Options) (*Report, error) {
	start := time.Now()
	if o.Blue == nil || o.Green == nil {
		return nil, fmt.Errorf("verify needs both a blue and a green cluster")
	}
	if o.QPS == 0 {
		o.QPS, o.Burst = kube.DefaultQPS, kube.DefaultBurst
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Progress == nil {
		o.Progress = func(string) {}
	}
	id := o.MigrationID
	if id == "" {
		var err error
		if id, err = migrate.LatestID(o.JournalRoot); err != nil {
			return nil, err
		}
	}
	meta, recs, err := migrate.ReadJournal(filepath.Join(o.JournalRoot, id))
	if err != nil {
		return nil, err
	}
	if len(o.Namespaces) == 0 {
		o.Namespaces = meta.Namespaces
	}
	rep := &Report{Time: time.Now().UTC(), Namespaces: o.Namespaces, Migration: id}
	if meta.Status == "running" {
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("migration %s has not finished (rerun `phoenix migrate --resume`)", id))
	}
	plan, planRes, err := migrate.Plan(ctx, migrate.Options{Blue: o.Blue, Green: o.Green, Namespaces: o.Namespaces,
		Selector: meta.Selector, QPS: o.QPS, Burst: o.Burst, Log: o.Log})
	if err != nil {
		return nil, fmt.Errorf("reading blue: %w", err)
	}
	for _, m := range planRes.Namespaces {
		rep.Warnings = append(rep.Warnings, m.Warnings...)
	}
	// What blue would not show cannot be compared: parity is unproven, so it fails.
	for _, u := range planRes.Unread {
		rep.Checks = append(rep.Checks, Check{Object: u.Resource, Check: "blue-readable", Passed: false,
			Message: "not read on blue, so its objects are not compared (and were not migrated): " + u.String()})
	}
	o.Progress(fmt.Sprintf("Comparing %d objects of %s with green", len(plan), strings.Join(o.Namespaces, ", ")))
	g, err := newGreen(ctx, o.Green, o.QPS, o.Burst)
	if err != nil {
		return nil, err
	}
	green, err := g.listNamespaces(ctx, o.Namespaces)
	if err != nil {
		return nil, err
	}
	rep.parity(ctx, g, plan, recs, green)
	rep.Checks = append(rep.Checks, health(ctx, o.Blue, g.dyn, plan, green)...)
	if o.Volumes != nil {
		kc, err := kubernetes.NewForConfig(kube.Throttle(rest.CopyConfig(o.Green), o.QPS, o.Burst))
		if err != nil {
			return nil, err
		}
		checks, warns := volumeParity(ctx, kc, o.Volumes, o.Namespaces, id)
		rep.Checks, rep.Warnings = append(rep.Checks, checks...), append(rep.Warnings, warns...)
	}
	rep.Checks = append(rep.Checks, probe(ctx, o, o.Probes)...)
	for _, c := range rep.Checks {
		if !c.Passed {
			rep.Failures++
		}
	}
	rep.Failures += len(rep.Problems)
	rep.Passed = rep.Failures == 0
	rep.Duration = time.Since(start).Round(time.Millisecond).String()
	rep.Summary = rep.summary()
	if o.ReportPath != "" {
		if err := state.WriteJSONAtomic(o.ReportPath, rep, 0o600); err != nil {
			return rep, fmt.Errorf("writing the verify report: %w", err)
		}
	}
	return rep, nil
}

// parity compares every planned object and every object the journal says moved.
func (rep *Report) parity(ctx context.Context, g *greenReader, plan []migrate.PlannedObject, recs map[string]migrate.Record, green map[string]*unstructured.Unstructured) {
	expected := map[string]bool{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for _, p := range plan {
		if p.Skip != "" || p.Failed != "" {
			continue
		}
		key := p.Ref.Key()
		expected[key] = true
		got := green[key]
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			c := ObjectCheck{Object: p.Ref.String(), Ref: p.Ref}
			if got == nil || got.GetAPIVersion() != p.Object.GetAPIVersion() {
				got = g.get(ctx, p.Ref, p.Object.GetAPIVersion())
			}
			if got == nil {
				c.Status, c.Message = StatusMissing, "on blue but not on green"
				if r, ok := recs[key]; !ok || r.Outcome == migrate.Failed {
					c.Message += " (not migrated yet: rerun `phoenix migrate`)"
				} else {
					c.Message += fmt.Sprintf(" (migrate %s it; was it deleted on green?)", r.Outcome)
				}
			} else {
				c.Diffs, c.BlueHash, c.GreenHash = Compare(p.Object, got)
				c.Status = StatusOK
				if len(c.Diffs) > 0 {
					c.Status, c.Message = StatusDiffers, fmt.Sprintf("%d fields differ from blue", len(c.Diffs))
				}
			}
			mu.Lock()
			defer mu.Unlock()
			rep.Compared++
			if c.Status == StatusOK {
				rep.AtParity++
			} else {
				rep.Problems = append(rep.Problems, c)
			}
		}()
	}
	wg.Wait()
	for key, obj := range green {
		if expected[key] || greenMade(obj) {
			continue
		}
		ref := migrate.RefOf(obj)
		msg := "on green but not on blue"
		if r, ok := recs[key]; ok && r.Outcome != migrate.Skipped {
			msg += " (migrated, then deleted on blue?)"
		}
		rep.Problems = append(rep.Problems, ObjectCheck{Object: ref.String(), Ref: ref, Status: StatusExtra, Message: msg})
	}
	sort.Slice(rep.Problems, func(i, j int) bool { return rep.Problems[i].Ref.Key() < rep.Problems[j].Ref.Key() })
}

// greenReader reads green.
type greenReader struct {
	dyn    dynamic.Interface
	mapper *restmapper.DeferredDiscoveryRESTMapper
	disc   *discovery.DiscoveryClient
}

func newGreen(_ context.Context, cfg *rest.Config, qps float32, burst int) (*greenReader, error) {
	cfg = kube.Throttle(rest.CopyConfig(cfg), qps, burst)
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	disc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, err
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(disc))
	return &greenReader{dyn: dyn, disc: disc, mapper: mapper}, nil
}

// skipped are resources whose objects green makes itself.
var skipped = map[schema.GroupResource]bool{
	{Resource: "events"}: true, {Group: "events.k8s.io", Resource: "events"}: true,
	{Group: "discovery.k8s.io", Resource: "endpointslices"}: true, {Group: "coordination.k8s.io", Resource: "leases"}: true,
	{Resource: "endpoints"}: true, {Resource: "pods"}: true, {Group: "apps", Resource: "replicasets"}: true,
	{Group: "apps", Resource: "controllerrevisions"}: true, {Group: "metrics.k8s.io", Resource: "pods"}: true,
}

// listNamespaces lists every namespaced resource green serves in the namespaces, keyed by
// migrate.Ref.Key, leaving out what green creates by itself (the same rules migrate skips by).
func (g *greenReader) listNamespaces(ctx context.Context, namespaces []string) (map[string]*unstructured.Unstructured, error) {
	lists, err := discovery.ServerPreferredNamespacedResourcesWithContext(ctx, g.disc.WithLegacyWithContext(ctx))
	if err != nil && !discovery.IsGroupDiscoveryFailedError(err) {
		return nil, fmt.Errorf("green: API discovery: %w", err)
	}
	out := map[string]*unstructured.Unstructured{}
	for _, l := range lists {
		gv, _ := schema.ParseGroupVersion(l.GroupVersion)
		for _, r := range l.APIResources {
			if strings.Contains(r.Name, "/") || !contains(r.Verbs, "list") || skipped[gv.WithResource(r.Name).GroupResource()] {
				continue
			}
			for _, ns := range namespaces {
				opts := metav1.ListOptions{Limit: 500}
				for {
					list, err := g.dyn.Resource(gv.WithResource(r.Name)).Namespace(ns).List(ctx, opts)
					if err != nil {
						if apierrors.IsNotFound(err) || apierrors.IsMethodNotSupported(err) {
							break
						}
						return nil, fmt.Errorf("green: listing %s in %s: %w", r.Name, ns, err)
					}
					for i := range list.Items {
						obj := &list.Items[i]
						out[migrate.RefOf(obj).Key()] = obj
					}
					if list.GetContinue() == "" {
						break
					}
					opts.Continue = list.GetContinue()
				}
			}
		}
	}
	return out, nil
}

// greenMade reports objects green's controllers created.
func greenMade(obj *unstructured.Unstructured) bool {
	for _, r := range obj.GetOwnerReferences() {
		if r.Controller != nil && *r.Controller {
			return true
		}
	}
	if obj.GetKind() == "ConfigMap" && obj.GetName() == "kube-root-ca.crt" {
		return true
	}
	if obj.GetKind() == "ServiceAccount" && obj.GetName() == "default" {
		return true
	}
	t, _, _ := unstructured.NestedString(obj.Object, "type")
	return obj.GetKind() == "Secret" && t == "kubernetes.io/service-account-token" &&
		strings.HasPrefix(obj.GetName(), obj.GetAnnotations()["kubernetes.io/service-account.name"]+"-token-")
}

// get reads one object from green in apiVersion, or nil when it is not there.
func (g *greenReader) get(ctx context.Context, ref migrate.Ref, apiVersion string) *unstructured.Unstructured {
	if g.mapper == nil {
		return nil
	}
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return nil
	}
	m, err := g.mapper.RESTMapping(schema.GroupKind{Group: gv.Group, Kind: ref.Kind}, gv.Version)
	if err != nil {
		return nil
	}
	var ri dynamic.ResourceInterface = g.dyn.Resource(m.Resource)
	if ref.Namespace != "" {
		ri = g.dyn.Resource(m.Resource).Namespace(ref.Namespace)
	}
	obj, err := ri.Get(ctx, ref.Name, metav1.GetOptions{})
	if err != nil {
		return nil
	}
	return obj
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// summary says in one line how far green is from parity.
func (rep *Report) summary() string {
	failed := 0
	for _, c := range rep.Checks {
		if !c.Passed {
			failed++
		}
	}
	verdict := "at parity"
	if !rep.Passed {
		verdict = "NOT at parity"
	}
	return fmt.Sprintf("%s: %d/%d objects equal, %d of %d checks failed, namespaces %s",
		verdict, rep.AtParity, rep.Compared, failed, len(rep.Checks), strings.Join(rep.Namespaces, ","))
}
