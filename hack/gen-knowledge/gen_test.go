package main

import (
	"context"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"testing"

	"github.com/phoenix-upgrade/phoenix/assess"
)

func TestSpansGiveTheFirstReleaseWithoutANameAsItsRemoval(t *testing.T) {
	t.Parallel()
	minors := []string{"v1.20", "v1.21", "v1.22", "v1.23"}
	per := [][]string{{"a", "b"}, {"a", "b"}, {"b"}, {"b", "a"}}
	got := spans(minors, func(i int) []string { return per[i] })
	want := []span{
		{name: "a", first: 0, last: 1, from: "v1.20", to: "v1.21", removedIn: "v1.22"},
		{name: "a", first: 3, last: 3, from: "v1.23", to: "v1.23"},
		{name: "b", first: 0, last: 3, from: "v1.20", to: "v1.23"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("spans = %+v, want %+v", got, want)
	}
}

func TestFoldGatesRecordsTheFirstLockedRelease(t *testing.T) {
	t.Parallel()
	minors := []string{"v1.30", "v1.31", "v1.32", "v1.33"}
	per := []map[string]gateSpec{
		{"G": {stage: "Beta", def: true}},
		{"G": {stage: "GA", def: true, locked: true}},
		{"G": {stage: "GA", def: true, locked: true}},
		{},
	}
	got := foldGates(minors, per)
	if len(got) != 1 || got[0].LockedIn != "v1.31" || got[0].RemovedIn != "v1.33" || len(got[0].Spans) != 2 || got[0].Last().To != "v1.32" {
		t.Fatalf("foldGates = %+v, want locked in v1.31, removed in v1.33, two spans", got)
	}
}

func TestVersionedSpecsPickTheSpecOfTheRelease(t *testing.T) {
	t.Parallel()
	src := `package features
const G featuregate.Feature = "G"
var m = map[featuregate.Feature]featuregate.VersionedSpecs{
	G: {
		{Version: version.MustParse("1.28"), Default: false, PreRelease: featuregate.Alpha},
		{Version: version.MustParse("1.30"), Default: true, PreRelease: featuregate.Beta},
		{Version: version.MustParse("1.33"), Default: true, PreRelease: featuregate.GA, LockToDefault: true},
	},
}`
	f, err := parser.ParseFile(token.NewFileSet(), "f.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	consts := map[string]string{}
	stringConsts([]*ast.File{f}, consts)
	for minor, want := range map[int]string{27: "", 29: "Alpha false false", 32: "Beta true false", 35: "GA true true"} {
		got := ""
		collectGates(f, consts, minor, func(name string, _ ast.Expr, s gateSpec) { got = fmt.Sprintf("%s %v %v", s.stage, s.def, s.locked) })
		if got != want {
			t.Errorf("1.%d: spec %q, want %q", minor, got, want)
		}
	}
}

// TestGeneratedDataMatchesTheSource re-reads one release and compares every feature gate,
// kubeadm's defaults and a sample of flags with assess/data/generated.json: the newest
// release whose modules are already in the module cache, else the newest release, downloaded
// through the module proxy (`make test-binaries` has fetched most of v1.37.2 already).
func TestGeneratedDataMatchesTheSource(t *testing.T) {
	if testing.Short() {
		t.Skip("reads a Kubernetes module source")
	}
	g, err := assess.LoadGenerated()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var rel *release
	var idx int
	for i := len(g.Releases) - 1; i >= 0 && rel == nil; i-- {
		gr := g.Releases[i]
		dir, ok := cachedDir(ctx, "k8s.io/kubernetes", gr.Version)
		if !ok {
			continue
		}
		r := release{dirs: map[string]string{k8s: dir}}
		r.v, _ = parseSemver(gr.Version)
		complete := true
		for m, v := range gr.Modules {
			d, ok := cachedDir(ctx, m, v)
			if !ok {
				complete = false
				break
			}
			r.dirs[m] = d
		}
		if complete {
			rel, idx = &r, i
		}
	}
	if rel == nil {
		idx = len(g.Releases) - 1
		gr := g.Releases[idx]
		dir, err := download(ctx, "k8s.io/kubernetes", gr.Version)
		if err != nil {
			t.Fatalf("no release is in the module cache, and downloading %s failed: %v", gr.Version, err)
		}
		r := release{dirs: map[string]string{k8s: dir}}
		r.v, _ = parseSemver(gr.Version)
		for m, v := range gr.Modules {
			if r.dirs[m], err = download(ctx, m, v); err != nil {
				t.Fatalf("downloading %s@%s: %v", m, v, err)
			}
		}
		rel = &r
	}
	minor := g.Releases[idx].Minor
	t.Logf("checking %s against %s", minor, rel.dirs[k8s])

	gates := releaseGates(*rel)
	for _, gg := range g.FeatureGates {
		var in *assess.GateSpan
		for i := range gg.Spans {
			if versionIn(minor, gg.Spans[i].From, gg.Spans[i].To) {
				in = &gg.Spans[i]
			}
		}
		s, ok := gates[gg.Name]
		switch {
		case in == nil && ok:
			t.Errorf("gate %s: the source of %s has it, the data does not", gg.Name, minor)
		case in != nil && !ok:
			t.Errorf("gate %s: the data has it in %s, the source does not", gg.Name, minor)
		case in != nil && (in.Stage != s.stage || in.Default != s.def || in.Locked != s.locked):
			t.Errorf("gate %s in %s: data %+v, source %+v", gg.Name, minor, *in, s)
		}
		delete(gates, gg.Name)
	}
	for n := range gates {
		t.Errorf("gate %s: in the source of %s, missing from the data", n, minor)
	}

	p, c, e := kubeadmDefaults(*rel)
	if d := g.KubeadmDefaults[idx]; d.Pause != p || d.CoreDNS != c || d.Etcd != e {
		t.Errorf("kubeadm defaults of %s: data %+v, source pause %s coredns %s etcd %s", minor, d, p, c, e)
	}

	flags := releaseFlags(*rel)
	checked := 0
	for _, f := range g.Flags {
		if !versionIn(minor, f.From, f.To) {
			continue
		}
		if _, ok := flags[f.Component][f.Flag[2:]]; !ok {
			t.Errorf("flag %s %s: the data has it in %s, the source does not", f.Component, f.Flag, minor)
		}
		checked++
	}
	if checked == 0 {
		t.Errorf("no flag of %s in the data", minor)
	}
}

func TestGeneratedDataCoversEveryMinorFrom115(t *testing.T) {
	t.Parallel()
	g, err := assess.LoadGenerated()
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Releases) == 0 || g.Releases[0].Minor != "v1.15" {
		t.Fatalf("generated data starts at %+v, want v1.15", g.Releases)
	}
	for i := 1; i < len(g.Releases); i++ {
		if minorNum(g.Releases[i].Minor) != minorNum(g.Releases[i-1].Minor)+1 {
			t.Fatalf("release %s follows %s: a minor is missing", g.Releases[i].Minor, g.Releases[i-1].Minor)
		}
	}
}
