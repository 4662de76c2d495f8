package migrate

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Outcome is what happened to one object.
type Outcome string

// Outcomes recorded in the journal and the result.
const (
	// Applied: sent to green (or validated by green in a server dry run) in the version blue stored it.
	Applied Outcome = "applied"
	// Converted: applied in a different API version than blue's clients used, by blue's
	// own conversion or the offline registry.
	Converted Outcome = "converted"
	// Unchanged: green already held exactly this object; nothing changed.
	Unchanged Outcome = "unchanged"
	// Skipped: deliberately not moved (green re-creates it, or moving it would be wrong).
	Skipped Outcome = "skipped"
	// Failed: could not be moved; Reason says why and what to do.
	Failed Outcome = "failed"
	// Planned: a client dry run stopped before sending it.
	Planned Outcome = "planned"
)

// Ref names one object.
type Ref struct {
	Group     string `json:"group"`
	Version   string `json:"version"`
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
}

// RefOf returns the Ref of an object.
func RefOf(obj *unstructured.Unstructured) Ref {
	gvk := obj.GroupVersionKind()
	return Ref{Group: gvk.Group, Version: gvk.Version, Kind: gvk.Kind, Namespace: obj.GetNamespace(), Name: obj.GetName()}
}

// Key identifies the object independent of its API version: group/Kind/namespace/name
// (group "core" for the legacy group).
func (r Ref) Key() string {
	g := r.Group
	if g == "" {
		g = "core"
	}
	return g + "/" + r.Kind + "/" + r.Namespace + "/" + r.Name
}

// GVK is the object's group, version and kind.
func (r Ref) GVK() schema.GroupVersionKind {
	return schema.GroupVersionKind{Group: r.Group, Version: r.Version, Kind: r.Kind}
}

// String is "Kind namespace/name" or "Kind name" for cluster-scoped objects.
func (r Ref) String() string {
	k := r.Kind
	if r.Group != "" {
		k += "." + r.Group
	}
	if r.Namespace == "" {
		return k + " " + r.Name
	}
	return k + " " + r.Namespace + "/" + r.Name
}

// ObjectResult is one object's outcome.
type ObjectResult struct {
	Ref     Ref     `json:"ref"`
	Outcome Outcome `json:"outcome"`
	Reason  string  `json:"reason,omitempty"`
	// From is the apiVersion blue's clients used, To the one applied to green.
	From  string   `json:"from,omitempty"`
	To    string   `json:"to,omitempty"`
	Level int      `json:"level"`
	Notes []string `json:"notes,omitempty"`
}

// Messages are the warnings and errors of one namespace (velero's results style).
type Messages struct {
	Warnings []string `json:"warnings,omitempty"`
	Errors   []string `json:"errors,omitempty"`
}

// Result is what a migration did.
type Result struct {
	ID           string    `json:"id"`
	DryRun       DryRun    `json:"dryRun"`
	Started      time.Time `json:"started"`
	Finished     time.Time `json:"finished"`
	JournalDir   string    `json:"journalDir"`
	ArtifactsDir string    `json:"artifactsDir"`
	// SecretsRemoved counts the plaintext Secret artifacts removed at the end of the run.
	SecretsRemoved int `json:"secretsRemoved,omitempty"`
	// Namespaces holds warnings and errors per namespace; "" holds cluster-scoped ones.
	Namespaces map[string]*Messages `json:"namespaces"`
	Objects    []ObjectResult       `json:"objects"`
	Counts     map[Outcome]int      `json:"counts"`
	// Phases is how long each phase of the pipeline took.
	Phases []PhaseTiming `json:"phases"`
	// Unread lists what could not be read on blue (failed discovery, forbidden or failed
	// LISTs): a migration stops on it unless Options.AllowPartial, and verify fails on it.
	Unread []Unread `json:"unread,omitempty"`
	// BlueWritesRefused counts write requests the read-only transport stopped (always 0
	// unless phoenix has a bug).
	BlueWritesRefused int `json:"blueWritesRefused"`
}

// PhaseTiming is the duration of one pipeline phase.
type PhaseTiming struct {
	Name     string        `json:"name"`
	Duration time.Duration `json:"duration"`
}

// Failed reports whether any object failed.
func (r *Result) Failed() bool { return r.Counts[Failed] > 0 }

func (r *Result) messages(ns string) *Messages {
	if r.Namespaces == nil {
		r.Namespaces = map[string]*Messages{}
	}
	m := r.Namespaces[ns]
	if m == nil {
		m = &Messages{}
		r.Namespaces[ns] = m
	}
	return m
}

// nsKey is the namespace a result message belongs to: a Namespace's own name for
// itself, "" for other cluster-scoped objects.
func nsKey(ref Ref) string {
	if ref.Group == "" && ref.Kind == "Namespace" {
		return ref.Name
	}
	return ref.Namespace
}

// Warn records a warning about ref.
func (r *Result) Warn(ref Ref, format string, args ...any) {
	m := r.messages(nsKey(ref))
	m.Warnings = append(m.Warnings, ref.String()+": "+fmt.Sprintf(format, args...))
}

func (r *Result) record(o ObjectResult) {
	if r.Counts == nil {
		r.Counts = map[Outcome]int{}
	}
	r.Counts[o.Outcome]++
	r.Objects = append(r.Objects, o)
	if o.Outcome == Failed {
		m := r.messages(nsKey(o.Ref))
		m.Errors = append(m.Errors, o.Ref.String()+": "+o.Reason)
	}
	for _, n := range o.Notes {
		r.Warn(o.Ref, "%s", n)
	}
}

func (r *Result) sortObjects() {
	sort.SliceStable(r.Objects, func(i, j int) bool {
		a, b := r.Objects[i], r.Objects[j]
		if a.Level != b.Level {
			return a.Level < b.Level
		}
		return a.Ref.Key() < b.Ref.Key()
	})
}

// Summary is one line: "12 applied, 3 converted, 2 skipped, 0 failed".
func (r *Result) Summary() string {
	var parts []string
	for _, o := range []Outcome{Applied, Converted, Unchanged, Planned, Skipped, Failed} {
		if n := r.Counts[o]; n > 0 || o == Failed {
			parts = append(parts, fmt.Sprintf("%d %s", n, o))
		}
	}
	return strings.Join(parts, ", ")
}
