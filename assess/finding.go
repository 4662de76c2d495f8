package assess

import (
	"fmt"
	"sort"

	"github.com/phoenix-upgrade/phoenix/kube"
	"github.com/phoenix-upgrade/phoenix/skew"
)

// Severity ranks a finding.
type Severity string

// Severities, most severe first.
const (
	// Blocker: the upgrade fails or breaks a workload unless this is fixed first.
	Blocker Severity = "blocker"
	// Action: something must be changed, but the upgrade itself goes through.
	Action Severity = "action"
	// Info: worth knowing; nothing to change.
	Info Severity = "info"
)

func (s Severity) valid() bool { return s == Blocker || s == Action || s == Info }

func (s Severity) rank() int {
	switch s {
	case Blocker:
		return 0
	case Action:
		return 1
	}
	return 2
}

// Finding is one thing that will break, or needs doing, on the way to the target version.
type Finding struct {
	Severity Severity `json:"severity"`
	// Check names the scanner check that found it (api-removed, coredns-corefile, ...).
	Check string `json:"check"`
	// Object is what the finding is about: "batch/v1beta1 CronJob payments/report", a
	// manifest file, a ConfigMap.
	Object string `json:"object"`
	// Where is how phoenix saw it: a file path, "live", "helm release payments/web v3".
	Where string `json:"where,omitempty"`
	// Message says what is wrong.
	Message string `json:"message"`
	// Action says what to do.
	Action string `json:"action"`
	// Version is the release at which the finding bites (empty: any).
	Version string `json:"version,omitempty"`
	// Hop is, for an in-place upgrade, the control-plane version of the hop at which the
	// finding bites.
	Hop string `json:"hop,omitempty"`
	// Source names the knowledge-base entry's upstream source.
	Source string `json:"source,omitempty"`
}

// Path is the upgrade path a report is for.
type Path string

// Upgrade paths.
const (
	BlueGreen Path = "blue-green"
	InPlace   Path = "in-place"
)

// Report is the result of an assessment.
type Report struct {
	From    string   `json:"from,omitempty"`
	To      string   `json:"to"`
	Path    Path     `json:"path"`
	Sources []string `json:"scanned"`
	// Hops is the in-place plan (empty for blue-green: one jump).
	Hops     []HopSummary `json:"hops,omitempty"`
	Findings []Finding    `json:"findings"`
	// Errors are parts of the scan that failed (an unreadable Helm release, a resource that
	// could not be listed); the rest of the report stands.
	Errors []string `json:"errors,omitempty"`
}

// HopSummary is one hop of an in-place plan, as reported.
type HopSummary struct {
	ControlPlane string `json:"controlPlane"`
	Kubelets     string `json:"kubelets"`
	Force        bool   `json:"kubeadmForce,omitempty"`
}

// Counts returns the number of findings per severity.
func (r *Report) Counts() map[Severity]int {
	c := map[Severity]int{Blocker: 0, Action: 0, Info: 0}
	for _, f := range r.Findings {
		c[f.Severity]++
	}
	return c
}

// HasBlockers reports whether any finding is a blocker.
func (r *Report) HasBlockers() bool { return r.Counts()[Blocker] > 0 }

// sortFindings orders findings by severity, then version, check and object.
func sortFindings(fs []Finding) {
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if a.Severity != b.Severity {
			return a.Severity.rank() < b.Severity.rank()
		}
		if a.Version != b.Version {
			return versionLess(a.Version, b.Version)
		}
		if a.Check != b.Check {
			return a.Check < b.Check
		}
		if a.Object != b.Object {
			return a.Object < b.Object
		}
		return a.Where < b.Where
	})
}

func versionLess(a, b string) bool {
	va, ea := kube.ParseVersion(a)
	vb, eb := kube.ParseVersion(b)
	switch {
	case ea != nil && eb != nil:
		return a < b
	case ea != nil:
		return true
	case eb != nil:
		return false
	}
	return va.Less(vb)
}

// Window is the range of releases an assessment covers: findings whose version is after
// From (when known) and at or before To apply.
type Window struct {
	From *kube.Version
	To   kube.Version
	// Plan is the in-place hop plan, when the path is in-place.
	Plan *skew.Plan
}

// applies reports whether something that bites at version v (vMAJOR.MINOR) falls inside w.
func (w Window) applies(v string) bool {
	ver, err := kube.ParseVersion(v)
	if err != nil {
		return false
	}
	if w.To.Minor < ver.Minor {
		return false
	}
	return w.From == nil || w.From.Minor < ver.Minor
}

// hopFor returns the control-plane version of the first hop that reaches version v.
func (w Window) hopFor(v string) string {
	if w.Plan == nil {
		return ""
	}
	ver, err := kube.ParseVersion(v)
	if err != nil {
		return ""
	}
	for _, h := range w.Plan.Hops {
		if h.To.Minor >= ver.Minor {
			return h.To.String()
		}
	}
	return ""
}

// placeKubelet fills in Hop for a worker's finding: the first hop whose kubelets move to
// (or past) its Version.
func (w Window) placeKubelet(f Finding) Finding {
	if f.Version == "" || w.Plan == nil {
		return f
	}
	ver, err := kube.ParseVersion(f.Version)
	if err != nil {
		return f
	}
	for _, h := range w.Plan.Hops {
		if h.Kubelets && h.To.Minor >= ver.Minor {
			f.Hop = h.To.String()
			return f
		}
	}
	return f
}

// place fills in Hop for a finding that bites at its Version.
func (w Window) place(f Finding) Finding {
	if f.Version != "" {
		f.Hop = w.hopFor(f.Version)
	}
	return f
}

func newWindow(from *kube.Version, to kube.Version, path Path) (Window, error) {
	if err := skew.Known(to); err != nil {
		return Window{}, fmt.Errorf("target: %w", err)
	}
	w := Window{From: from, To: to}
	if from != nil {
		if err := skew.Known(*from); err != nil {
			return Window{}, fmt.Errorf("source: %w", err)
		}
		if to.Less(*from) {
			return Window{}, fmt.Errorf("target %s is older than the source %s: Kubernetes does not support downgrades", to, from)
		}
	}
	if path == InPlace {
		if from == nil {
			return Window{}, fmt.Errorf("an in-place assessment needs the source version: give --from-version, or assess a live cluster")
		}
		p, err := skew.PlanInPlace(*from, to, skew.Options{})
		if err != nil {
			return Window{}, err
		}
		w.Plan = &p
	}
	return w, nil
}
