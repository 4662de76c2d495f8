package assess

import (
	"embed"
	"fmt"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/phoenix-upgrade/phoenix/kube"
)

//go:embed data/*.yaml data/*.json
var dataFS embed.FS

// APIRemoval is one API version of one kind that a release stops serving.
type APIRemoval struct {
	APIVersion     string `json:"apiVersion"`
	Kind           string `json:"kind"`
	DeprecatedIn   string `json:"deprecatedIn,omitempty"`
	RemovedIn      string `json:"removedIn"`
	Successor      string `json:"successor,omitempty"`
	SuccessorSince string `json:"successorSince,omitempty"`
	Notes          string `json:"notes,omitempty"`
	Source         string `json:"source"`
}

// FeatureGate is a feature gate that components stop recognising at RemovedIn, or that
// refuses any value but Default from LockedIn on. Kubeadm marks kubeadm's own gates
// (kubeadm --feature-gates, ClusterConfiguration featureGates), not the components'.
type FeatureGate struct {
	Name      string `json:"name"`
	Stage     string `json:"stage"`
	LastIn    string `json:"lastIn"`
	RemovedIn string `json:"removedIn,omitempty"`
	LockedIn  string `json:"lockedIn,omitempty"`
	Default   bool   `json:"default,omitempty"`
	Kubeadm   bool   `json:"kubeadm,omitempty"`
	Notes     string `json:"notes,omitempty"`
	Source    string `json:"source"`
}

// Flag is a component flag that is removed (the component refuses to start) or becomes a
// no-op from Since.
type Flag struct {
	Component   string `json:"component"`
	Flag        string `json:"flag"`
	Effect      string `json:"effect"`
	Since       string `json:"since"`
	Replacement string `json:"replacement,omitempty"`
	Notes       string `json:"notes,omitempty"`
	Source      string `json:"source"`
}

// KubeadmAPI is a kubeadm configuration API version.
type KubeadmAPI struct {
	APIVersion   string `json:"apiVersion"`
	IntroducedIn string `json:"introducedIn,omitempty"`
	DeprecatedIn string `json:"deprecatedIn,omitempty"`
	RemovedIn    string `json:"removedIn,omitempty"`
	Successor    string `json:"successor,omitempty"`
	Notes        string `json:"notes,omitempty"`
	Source       string `json:"source"`
}

// Pitfall is a known upgrade trap with the release it bites at and how to detect it.
type Pitfall struct {
	ID       string   `json:"id"`
	Title    string   `json:"title"`
	Since    string   `json:"since"`
	Severity Severity `json:"severity"`
	Paths    []string `json:"paths"`
	Check    string   `json:"check,omitempty"`
	// Plan is where an in-place assessment's hop plan lists it: every-hop, at-since, or
	// empty (only a scanner check reports it).
	Plan   string `json:"plan,omitempty"`
	Detect string `json:"detect"`
	Action string `json:"action"`
	// Runbook says what phoenix upgrade does about it, if anything.
	Runbook string `json:"runbook,omitempty"`
	Source  string `json:"source"`
}

// Plan placements of a pitfall.
const (
	PlanEveryHop = "every-hop"
	PlanAtSince  = "at-since"
)

// Runtime is a container runtime version range a kubelet release no longer works with:
// runtimes older than Below, from kubelet Since on.
type Runtime struct {
	Runtime  string   `json:"runtime"`
	Below    string   `json:"below"`
	Since    string   `json:"since"`
	Severity Severity `json:"severity"`
	Message  string   `json:"message"`
	Action   string   `json:"action"`
	Source   string   `json:"source"`
}

// KnowledgeBase is everything phoenix knows about upgrades between 1.14 and 1.37.
type KnowledgeBase struct {
	APIs         []APIRemoval  `json:"apiRemovals"`
	FeatureGates []FeatureGate `json:"featureGates"`
	Flags        []Flag        `json:"flags"`
	KubeadmAPIs  []KubeadmAPI  `json:"kubeadmAPIVersions"`
	Pitfalls     []Pitfall     `json:"pitfalls"`
	Runtimes     []Runtime     `json:"runtimes"`

	// Generated is the extract of the Kubernetes source (data/generated.json) the gates and
	// flags above are derived from.
	Generated *Generated `json:"-"`
	// Disagreements lists where a hand-written gate or flag entry disagrees with the
	// generated data (the generated data wins); tests and reviews read it.
	Disagreements []string `json:"-"`

	byGVK         map[string]APIRemoval
	byGate        map[string]FeatureGate
	byKubeadmGate map[string]FeatureGate
}

type apisFile struct {
	Removals []struct {
		APIRemoval `json:",inline"`
		Kinds      []string `json:"kinds"`
	} `json:"removals"`
}

// Load parses the embedded knowledge base and checks every entry (versions parse, sources
// are present, kinds are not listed twice).
func Load() (*KnowledgeBase, error) {
	kb := &KnowledgeBase{byGVK: map[string]APIRemoval{}, byGate: map[string]FeatureGate{}, byKubeadmGate: map[string]FeatureGate{}}
	var apis apisFile
	if err := readData("apis.yaml", &apis); err != nil {
		return nil, err
	}
	for _, r := range apis.Removals {
		for _, k := range r.Kinds {
			e := r.APIRemoval
			e.Kind = k
			kb.APIs = append(kb.APIs, e)
		}
	}
	var gates struct {
		Gates []FeatureGate `json:"gates"`
	}
	var flags struct {
		Flags []Flag `json:"flags"`
	}
	var kubeadm struct {
		Versions []KubeadmAPI `json:"versions"`
	}
	var pitfalls struct {
		Pitfalls []Pitfall `json:"pitfalls"`
	}
	var runtimes struct {
		Runtimes []Runtime `json:"runtimes"`
	}
	for name, v := range map[string]any{"featuregates.yaml": &gates, "flags.yaml": &flags, "kubeadm.yaml": &kubeadm, "pitfalls.yaml": &pitfalls, "runtimes.yaml": &runtimes} {
		if err := readData(name, v); err != nil {
			return nil, err
		}
	}
	kb.FeatureGates, kb.Flags, kb.KubeadmAPIs, kb.Pitfalls, kb.Runtimes = gates.Gates, flags.Flags, kubeadm.Versions, pitfalls.Pitfalls, runtimes.Runtimes
	gen, err := LoadGenerated()
	if err != nil {
		return nil, err
	}
	kb.derive(gen)
	if err := kb.index(); err != nil {
		return nil, err
	}
	return kb, nil
}

// MustLoad is Load for the embedded data, which tests keep valid.
func MustLoad() *KnowledgeBase {
	kb, err := Load()
	if err != nil {
		panic(err)
	}
	return kb
}

func readData(name string, v any) error {
	data, err := dataFS.ReadFile("data/" + name)
	if err != nil {
		return fmt.Errorf("knowledge base: %w", err)
	}
	if err := yaml.UnmarshalStrict(data, v); err != nil {
		return fmt.Errorf("knowledge base data/%s: %w", name, err)
	}
	return nil
}

func (kb *KnowledgeBase) index() error {
	check := func(what, v string, required bool) error {
		if v == "" {
			if required {
				return fmt.Errorf("knowledge base: %s: version missing", what)
			}
			return nil
		}
		if _, err := kube.ParseVersion(v); err != nil {
			return fmt.Errorf("knowledge base: %s: %w", what, err)
		}
		return nil
	}
	for _, a := range kb.APIs {
		key := gvkKey(a.APIVersion, a.Kind)
		if _, dup := kb.byGVK[key]; dup {
			return fmt.Errorf("knowledge base: %s %s listed twice", a.APIVersion, a.Kind)
		}
		kb.byGVK[key] = a
		what := a.APIVersion + " " + a.Kind
		if err := firstErr(check(what+" removedIn", a.RemovedIn, true), check(what+" deprecatedIn", a.DeprecatedIn, false), check(what+" successorSince", a.SuccessorSince, false)); err != nil {
			return err
		}
		if a.Source == "" {
			return fmt.Errorf("knowledge base: %s has no source", what)
		}
	}
	for _, g := range kb.FeatureGates {
		if err := firstErr(check("gate "+g.Name, g.RemovedIn, g.LockedIn == ""), check("gate "+g.Name, g.LockedIn, false), check("gate "+g.Name, g.LastIn, true)); err != nil {
			return err
		}
		if g.Source == "" {
			return fmt.Errorf("knowledge base: gate %s has no source", g.Name)
		}
		if g.Kubeadm {
			kb.byKubeadmGate[g.Name] = g
		} else {
			kb.byGate[g.Name] = g
		}
	}
	for _, f := range kb.Flags {
		if err := check(f.Component+" "+f.Flag, f.Since, true); err != nil {
			return err
		}
		if f.Source == "" || (f.Effect != "removed" && f.Effect != "no-op") {
			return fmt.Errorf("knowledge base: flag %s %s needs a source and an effect of removed or no-op", f.Component, f.Flag)
		}
	}
	for _, k := range kb.KubeadmAPIs {
		if err := firstErr(check(k.APIVersion, k.RemovedIn, false), check(k.APIVersion, k.DeprecatedIn, false), check(k.APIVersion, k.IntroducedIn, false)); err != nil {
			return err
		}
		if k.Source == "" {
			return fmt.Errorf("knowledge base: %s has no source", k.APIVersion)
		}
	}
	for _, p := range kb.Pitfalls {
		if err := check("pitfall "+p.ID, p.Since, true); err != nil {
			return err
		}
		if p.Source == "" || p.Action == "" || !p.Severity.valid() {
			return fmt.Errorf("knowledge base: pitfall %s needs a source, an action and a severity", p.ID)
		}
		if p.Plan != "" && p.Plan != PlanEveryHop && p.Plan != PlanAtSince {
			return fmt.Errorf("knowledge base: pitfall %s: plan %q is neither %s nor %s", p.ID, p.Plan, PlanEveryHop, PlanAtSince)
		}
	}
	for _, r := range kb.Runtimes {
		if err := check("runtime "+r.Runtime, r.Since, true); err != nil {
			return err
		}
		if _, ok := parseSemver(r.Below); !ok || r.Source == "" || r.Action == "" || !r.Severity.valid() {
			return fmt.Errorf("knowledge base: runtime %s below %q needs a version, a source, an action and a severity", r.Runtime, r.Below)
		}
	}
	sort.SliceStable(kb.APIs, func(i, j int) bool {
		return kube.MustParseVersion(kb.APIs[i].RemovedIn).Less(kube.MustParseVersion(kb.APIs[j].RemovedIn))
	})
	return nil
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

func gvkKey(apiVersion, kind string) string { return apiVersion + "/" + kind }

// LookupAPI returns the removal entry of apiVersion/kind, if the knowledge base has one.
func (kb *KnowledgeBase) LookupAPI(apiVersion, kind string) (APIRemoval, bool) {
	a, ok := kb.byGVK[gvkKey(apiVersion, kind)]
	return a, ok
}

// RemovedGroupVersions returns the group/versions a release up to and including to stops
// serving, with their kinds, e.g. "batch/v1beta1" -> [CronJob].
func (kb *KnowledgeBase) RemovedGroupVersions(to kube.Version) map[string][]string {
	out := map[string][]string{}
	for _, a := range kb.APIs {
		if !to.Less(kube.MustParseVersion(a.RemovedIn)) {
			out[a.APIVersion] = append(out[a.APIVersion], a.Kind)
		}
	}
	return out
}

// LookupGate returns the entry of a component feature gate that is removed or locked.
func (kb *KnowledgeBase) LookupGate(name string) (FeatureGate, bool) {
	g, ok := kb.byGate[name]
	return g, ok
}

// LookupKubeadmGate returns the entry of a kubeadm feature gate that is removed or locked.
func (kb *KnowledgeBase) LookupKubeadmGate(name string) (FeatureGate, bool) {
	g, ok := kb.byKubeadmGate[name]
	return g, ok
}

// Pitfall returns a pitfall by id.
func (kb *KnowledgeBase) Pitfall(id string) (Pitfall, bool) {
	for _, p := range kb.Pitfalls {
		if p.ID == id {
			return p, true
		}
	}
	return Pitfall{}, false
}

// LookupKubeadmAPI returns the entry of a kubeadm.k8s.io apiVersion.
func (kb *KnowledgeBase) LookupKubeadmAPI(apiVersion string) (KubeadmAPI, bool) {
	for _, k := range kb.KubeadmAPIs {
		if strings.EqualFold(k.APIVersion, apiVersion) {
			return k, true
		}
	}
	return KubeadmAPI{}, false
}
