package assess

import (
	"fmt"
	"sort"
)

// gateSourcePath is where each origin defines its gates in the kubernetes repository.
var gateSourcePath = map[string]string{
	"kubernetes":              "pkg/features",
	"kubeadm":                 "cmd/kubeadm/app/features",
	"apiserver":               "staging/src/k8s.io/apiserver/pkg/features",
	"component-base":          "staging/src/k8s.io/component-base",
	"controller-manager":      "staging/src/k8s.io/controller-manager/pkg/features",
	"apiextensions-apiserver": "staging/src/k8s.io/apiextensions-apiserver/pkg/features",
	"client-go":               "staging/src/k8s.io/client-go/features",
}

// generatedSource names the source tree of the last release that still had a fact.
func (g *Generated) source(minor, path string) string {
	for _, r := range g.Releases {
		if r.Minor == minor {
			return fmt.Sprintf("https://github.com/kubernetes/kubernetes/tree/%s/%s (hack/gen-knowledge)", r.Version, path)
		}
	}
	return "hack/gen-knowledge"
}

// derive replaces the hand-written gate removals and adds the flag removals with what the
// generated data says; the hand-written notes stay with their gate, and entries about
// releases before the generated data (gates removed up to v1.15) stay as written. Every
// hand-written removal version the generated data contradicts is recorded in Disagreements.
func (kb *KnowledgeBase) derive(g *Generated) {
	kb.Generated = g
	if len(g.Releases) == 0 {
		return
	}
	first := g.Releases[0].Minor
	hand := map[string]FeatureGate{}
	for _, h := range kb.FeatureGates {
		hand[h.Name] = h
	}
	var gates []FeatureGate
	seen := map[string]bool{}
	add := func(gg GenGate, kubeadm bool) {
		if gg.RemovedIn == "" && gg.LockedIn == "" {
			return
		}
		last := gg.Last()
		f := FeatureGate{Name: gg.Name, Stage: last.Stage, LastIn: last.To, RemovedIn: gg.RemovedIn, LockedIn: gg.LockedIn,
			Default: last.Default, Kubeadm: kubeadm, Source: g.source(last.To, gateSourcePath[gg.Origin])}
		if !kubeadm {
			if h, ok := hand[gg.Name]; ok {
				f.Notes = h.Notes
				if h.RemovedIn != gg.RemovedIn {
					kb.Disagreements = append(kb.Disagreements, fmt.Sprintf("gate %s: featuregates.yaml says removed in %s (%s), the source says %s",
						gg.Name, h.RemovedIn, h.Source, orStill(gg.RemovedIn, g.Newest())))
				}
			}
			seen[gg.Name] = true
		}
		gates = append(gates, f)
	}
	present := map[string]bool{}
	for _, gg := range g.FeatureGates {
		present[gg.Name] = true
		add(gg, false)
	}
	for _, gg := range g.KubeadmFeatureGates {
		add(gg, true)
	}
	for _, h := range kb.FeatureGates {
		if seen[h.Name] {
			continue
		}
		if present[h.Name] { // known to the source and neither removed nor locked
			kb.Disagreements = append(kb.Disagreements, fmt.Sprintf("gate %s: featuregates.yaml says removed in %s (%s), the source still has it in %s", h.Name, h.RemovedIn, h.Source, g.Newest()))
			continue
		}
		if versionLess(first, h.RemovedIn) {
			kb.Disagreements = append(kb.Disagreements, fmt.Sprintf("gate %s: featuregates.yaml says removed in %s, the source of %s to %s never has it", h.Name, h.RemovedIn, first, g.Newest()))
		}
		gates = append(gates, h)
	}
	sort.SliceStable(gates, func(i, j int) bool { return gates[i].Name < gates[j].Name })
	kb.FeatureGates = gates

	handFlag := map[string]Flag{}
	for _, f := range kb.Flags {
		if f.Effect == "removed" {
			handFlag[f.Component+" "+f.Flag] = f
		}
	}
	for _, gf := range g.Flags {
		// The apiserver's, scheduler's and controller-manager's flags are read with all of the
		// generic apiserver options, some of which they stopped registering long before the
		// options went away (--insecure-port/--port would be "removed" in v1.31 instead of
		// v1.24): only the hand-written entries count for them.
		if gf.RemovedIn == "" || !derivedFlagComponents[gf.Component] {
			continue
		}
		key := gf.Component + " " + gf.Flag
		if h, ok := handFlag[key]; ok {
			if h.Since != gf.RemovedIn {
				kb.Disagreements = append(kb.Disagreements, fmt.Sprintf("flag %s: flags.yaml says removed in %s, the source says %s", key, h.Since, gf.RemovedIn))
			}
			continue
		}
		kb.Flags = append(kb.Flags, Flag{Component: gf.Component, Flag: gf.Flag, Effect: "removed", Since: gf.RemovedIn,
			Source: g.source(gf.To, "cmd/"+gf.Component)})
	}
}

var derivedFlagComponents = map[string]bool{"kubelet": true, "kube-proxy": true}

func orStill(removedIn, newest string) string {
	if removedIn == "" {
		return "it is still there in " + newest
	}
	return removedIn
}
