package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/phoenix-upgrade/phoenix/assess"
)

// extract reads every release and folds the per-release facts into runs of releases.
func extract(rels []release) *assess.Generated {
	g := &assess.Generated{}
	minors := make([]string, len(rels))
	gates := make([]map[string]gateSpec, len(rels))
	kgates := make([]map[string]gateSpec, len(rels))
	flags := map[string][]map[string]flagInfo{} // component -> per release
	configs := make([]map[string]string, len(rels))
	served := make([]map[string]bool, len(rels))
	for i, r := range rels {
		minors[i] = r.minor()
		g.Releases = append(g.Releases, assess.GenRelease{Minor: r.minor(), Version: r.v.String(), Modules: r.modules})
		gates[i], kgates[i] = releaseGates(r), kubeadmGates(r)
		for comp, fs := range releaseFlags(r) {
			if flags[comp] == nil {
				flags[comp] = make([]map[string]flagInfo, len(rels))
			}
			flags[comp][i] = fs
		}
		configs[i] = releaseConfigAPIs(r)
		served[i] = releaseServed(r)
		p, c, e := kubeadmDefaults(r)
		g.KubeadmDefaults = append(g.KubeadmDefaults, assess.GenKubeadmDefaults{Minor: r.minor(), Pause: p, CoreDNS: c, Etcd: e})
	}
	g.FeatureGates = foldGates(minors, gates)
	g.KubeadmFeatureGates = foldGates(minors, kgates)
	comps := make([]string, 0, len(flags))
	for c := range flags {
		comps = append(comps, c)
	}
	sort.Strings(comps)
	for _, c := range comps {
		per := flags[c]
		for _, run := range spans(minors, func(i int) []string { return keys(per[i]) }) {
			f := assess.GenFlag{Component: c, Flag: "--" + run.name, From: run.from, To: run.to, RemovedIn: run.removedIn}
			for i := run.first; i <= run.last; i++ {
				if per[i][run.name].deprecated {
					f.DeprecatedIn = minors[i]
					break
				}
			}
			g.Flags = append(g.Flags, f)
		}
	}
	for _, run := range spans(minors, func(i int) []string { return keys(configs[i]) }) {
		g.ConfigAPIs = append(g.ConfigAPIs, assess.GenConfigAPI{APIVersion: run.name, Path: configs[run.last][run.name], From: run.from, To: run.to, RemovedIn: run.removedIn})
	}
	for _, run := range spans(minors, func(i int) []string { return keys(served[i]) }) {
		gv, res, _ := strings.Cut(run.name, " ")
		g.ServedAPIs = append(g.ServedAPIs, assess.GenServedAPI{APIVersion: gv, Resource: res, From: run.from, To: run.to, RemovedIn: run.removedIn})
	}
	return g
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// span is a name present in releases first..last.
type span struct {
	name                string
	first, last         int
	from, to, removedIn string
}

// spans turns per-release name sets into runs of consecutive releases, sorted by name then
// start. removedIn is the release after a run unless the run reaches the newest release.
func spans(minors []string, names func(i int) []string) []span {
	open := map[string]*span{}
	var out []span
	for i := range minors {
		present := map[string]bool{}
		for _, n := range names(i) {
			present[n] = true
			if open[n] == nil {
				open[n] = &span{name: n, first: i}
			}
			open[n].last = i
		}
		for n, r := range open {
			if !present[n] {
				out = append(out, *r)
				delete(open, n)
			}
		}
	}
	for _, r := range open {
		out = append(out, *r)
	}
	for i := range out {
		r := &out[i]
		r.from, r.to = minors[r.first], minors[r.last]
		if r.last+1 < len(minors) {
			r.removedIn = minors[r.last+1]
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].name != out[j].name {
			return out[i].name < out[j].name
		}
		return out[i].first < out[j].first
	})
	return out
}

// foldGates turns per-release gate specs into one entry per gate with runs of equal specs.
func foldGates(minors []string, per []map[string]gateSpec) []assess.GenGate {
	byName := map[string]*assess.GenGate{}
	last := map[string]int{}
	for i, m := range per {
		for _, name := range keys(m) {
			s := m[name]
			g := byName[name]
			if g == nil {
				g = &assess.GenGate{Name: name, Origin: s.origin}
				byName[name] = g
			}
			g.Origin = s.origin
			span := assess.GateSpan{From: minors[i], To: minors[i], Stage: s.stage, Default: s.def, Locked: s.locked}
			if n := len(g.Spans); n > 0 && last[name] == i-1 {
				p := &g.Spans[n-1]
				if p.Stage == span.Stage && p.Default == span.Default && p.Locked == span.Locked {
					p.To = minors[i]
					last[name] = i
					continue
				}
			}
			g.Spans = append(g.Spans, span)
			last[name] = i
			if s.locked && g.LockedIn == "" {
				g.LockedIn = minors[i]
			}
		}
	}
	out := make([]assess.GenGate, 0, len(byName))
	for _, name := range keys(byName) {
		g := byName[name]
		if l := last[name]; l+1 < len(minors) {
			g.RemovedIn = minors[l+1]
		}
		out = append(out, *g)
	}
	return out
}

// writeJSON writes g with one array element per line: compact, and a diff shows what changed.
func writeJSON(path string, g *assess.Generated) error {
	var b bytes.Buffer
	b.WriteString("{\n")
	sections := []struct {
		name string
		n    int
		el   func(int) any
	}{
		{"releases", len(g.Releases), func(i int) any { return g.Releases[i] }},
		{"featureGates", len(g.FeatureGates), func(i int) any { return g.FeatureGates[i] }},
		{"kubeadmFeatureGates", len(g.KubeadmFeatureGates), func(i int) any { return g.KubeadmFeatureGates[i] }},
		{"flags", len(g.Flags), func(i int) any { return g.Flags[i] }},
		{"configAPIs", len(g.ConfigAPIs), func(i int) any { return g.ConfigAPIs[i] }},
		{"servedAPIs", len(g.ServedAPIs), func(i int) any { return g.ServedAPIs[i] }},
		{"kubeadmDefaults", len(g.KubeadmDefaults), func(i int) any { return g.KubeadmDefaults[i] }},
	}
	for si, s := range sections {
		fmt.Fprintf(&b, "%q: [", s.name)
		for i := 0; i < s.n; i++ {
			line, err := json.Marshal(s.el(i))
			if err != nil {
				return err
			}
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString("\n")
			b.Write(line)
		}
		if s.n > 0 {
			b.WriteString("\n")
		}
		b.WriteString("]")
		if si < len(sections)-1 {
			b.WriteByte(',')
		}
		b.WriteString("\n")
	}
	b.WriteString("}\n")
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

const (
	docsBegin = "<!-- BEGIN gen-knowledge: gate counts (make gen-knowledge rewrites this section) -->"
	docsEnd   = "<!-- END gen-knowledge -->"
)

// writeDocs rewrites the generated section of the docs: per release the gates known, removed
// and newly locked, and kubeadm's defaults.
func writeDocs(path string, g *assess.Generated) error {
	old, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var b strings.Builder
	b.WriteString(docsBegin + "\n\n")
	b.WriteString("| release | read | gates | removed | locked (first release) | kubeadm gates | kubeadm gates removed | pause | CoreDNS | etcd |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|\n")
	count := func(gs []assess.GenGate, minor string) (known, removed, locked int) {
		for _, x := range gs {
			if x.RemovedIn == minor {
				removed++
			}
			if x.LockedIn == minor {
				locked++
			}
			for _, s := range x.Spans {
				if versionIn(minor, s.From, s.To) {
					known++
				}
			}
		}
		return
	}
	var totalRemoved, totalLocked int
	for i, r := range g.Releases {
		k, rm, l := count(g.FeatureGates, r.Minor)
		kk, krm, _ := count(g.KubeadmFeatureGates, r.Minor)
		totalRemoved += rm
		totalLocked += l
		d := g.KubeadmDefaults[i]
		fmt.Fprintf(&b, "| %s | %s | %d | %d | %d | %d | %d | %s | %s | %s |\n", r.Minor, r.Version, k, rm, l, kk, krm, d.Pause, d.CoreDNS, d.Etcd)
	}
	lockedThenRemoved := 0
	for _, x := range g.FeatureGates {
		if x.LockedIn != "" && x.RemovedIn != "" {
			lockedThenRemoved++
		}
	}
	fmt.Fprintf(&b, "\n%d gates removed after %s, %d locked to their default at some release (%d of them locked before removal); %d component flags and %d served resources tracked.\n\n",
		totalRemoved, g.Releases[0].Minor, totalLocked, lockedThenRemoved, len(g.Flags), len(g.ServedAPIs))
	b.WriteString(docsEnd)
	s := string(old)
	i, j := strings.Index(s, docsBegin), strings.Index(s, docsEnd)
	if i < 0 || j < i {
		s = strings.TrimRight(s, "\n") + "\n\n" + b.String() + "\n"
	} else {
		s = s[:i] + b.String() + s[j+len(docsEnd):]
	}
	return os.WriteFile(path, []byte(s), 0o644)
}

// versionIn reports whether minor lies in [from, to] (all "v1.N").
func versionIn(minor, from, to string) bool {
	m, f, t := minorNum(minor), minorNum(from), minorNum(to)
	return f <= m && m <= t
}

func minorNum(v string) int {
	var n int
	fmt.Sscanf(strings.TrimPrefix(v, "v1."), "%d", &n)
	return n
}
