package benchmigrate

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/phoenix-upgrade/phoenix/internal/testenv"
	"github.com/phoenix-upgrade/phoenix/migrate"
	"github.com/phoenix-upgrade/phoenix/state"
)

var (
	objects  = flag.Int("objects", 5000, "objects per namespace")
	rounds   = flag.Int("rounds", 2, "rounds of ceiling and phoenix, alternating their order")
	before   = flag.String("before", "", "another phoenix binary (e.g. an older build) to run in every round too, with -before-args")
	bArgs    = flag.String("before-args", "--concurrency 64 --qps 0", "flags for the -before binary; ';' separates variants, each run in every round")
	report   = flag.String("report", "", "write the markdown table here too")
	quick    = flag.Bool("quick", false, "skip kubectl (minutes at 5000 objects)")
	ceilings = flag.String("ceilings", "64x1", "raw ceiling variants, WORKERSxCONNECTIONS, comma-separated; each runs in every round, the fastest is the round's ceiling")
	noCeil   = flag.Bool("no-ceiling", false, "phoenix only (for peak memory at large counts)")
	profile  = flag.String("cpuprofile", "", "also run migrate.Run in the test process under the CPU profiler, writing the profile here")
)

func TestMain(m *testing.M) { testenv.Main(m) }

// ceilingVariants are the raw ceiling's {workers, connections}.
func ceilingVariants() [][2]int {
	if *noCeil {
		return nil
	}
	var out [][2]int
	for _, v := range strings.Split(*ceilings, ",") {
		var w, c int
		if _, err := fmt.Sscanf(strings.TrimSpace(v), "%dx%d", &w, &c); err != nil || w < 1 || c < 1 {
			panic(fmt.Sprintf("-ceilings %q: want WORKERSxCONNECTIONS, e.g. 64x1,128x4", v))
		}
		out = append(out, [2]int{w, c})
	}
	return out
}

// variants are the flag sets the -before binary runs with.
func variants() []string {
	if *before == "" {
		return nil
	}
	return strings.Split(*bArgs, ";")
}

func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func TestBenchMigrate(t *testing.T) {
	if os.Getenv("PHOENIX_BENCH") != "1" {
		t.Skip("benchmark: run hack/bench-migrate.sh (sets PHOENIX_BENCH=1)")
	}
	n := *objects
	blue, green := testenv.Start(t, "v1.24.17"), testenv.Start(t, "v1.37.2")
	dir := t.TempDir()
	bin := filepath.Join(dir, "phoenix")
	root, _ := exec.Command("go", "env", "GOMOD").Output()
	build := exec.Command("go", "build", "-o", bin, "./cmd/phoenix")
	build.Dir = filepath.Dir(strings.TrimSpace(string(root)))
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building phoenix: %v\n%s", err, out)
	}
	ws, err := state.Open(filepath.Join(dir, "ws"))
	if err != nil {
		t.Fatal(err)
	}
	_ = ws.SaveCluster(state.Cluster{Name: "blue", Role: state.RoleBlue, Provider: "external", Created: time.Now()}, blue.Kubeconfig)
	_ = ws.SaveCluster(state.Cluster{Name: "green", Role: state.RoleGreen, Provider: "external", Created: time.Now()}, green.Kubeconfig)

	var nss []string
	for r := 1; r <= *rounds; r++ {
		nss = append(nss, fmt.Sprintf("phoenix-%d", r))
		for k := range ceilingVariants() {
			nss = append(nss, fmt.Sprintf("raw-%d-%d", r, k))
		}
		for k := range variants() {
			nss = append(nss, fmt.Sprintf("before-%d-%d", r, k))
		}
	}
	if !*quick {
		nss = append(nss, "kubectl")
	}
	if *profile != "" {
		nss = append(nss, "inproc")
	}
	start := time.Now()
	for _, ns := range nss {
		seed(t, blue.Config, ns, n)
	}
	t.Logf("seeded %d objects on blue in %s", n*len(nss), time.Since(start).Round(time.Second))
	load0 := loadavg()

	var rows []row
	phoenixRun := func(round int, label, binary, ns string, extra ...string) {
		var out bytes.Buffer
		args := append([]string{"migrate", "--ns", ns, "--workspace", ws.Root, "-o", "json"}, extra...)
		elapsed, rss := run(t, &out, binary, args...)
		var res migrate.Result
		if err := json.Unmarshal(out.Bytes(), &res); err != nil {
			t.Fatalf("phoenix -o json: %v", err)
		}
		moved := res.Counts[migrate.Applied] + res.Counts[migrate.Converted]
		var apply time.Duration
		for _, p := range res.Phases {
			if p.Name == "apply" {
				apply = p.Duration
			}
		}
		flags := strings.Join(extra, " ")
		if flags == "" {
			flags = "no flags"
		}
		rows = append(rows, row{round, label + ", apply phase", moved, apply, rss, flags})
		rows = append(rows, row{round, label + ", whole run", moved, elapsed, rss, "discover + export + apply"})
		if binary == bin {
			rows = append(rows, verifyRun(t, round, bin, ws.Root, ns))
		}
	}
	// kubectl and the raw ceiling apply the same exported directory.
	export := func(ns string) string {
		art := filepath.Join(dir, "art-"+ns)
		run(t, io.Discard, bin, "migrate", "--ns", ns, "--workspace", ws.Root, "--dry-run=client", "--artifacts", art, "-o", "json")
		return art
	}
	for r := 1; r <= *rounds; r++ {
		var steps []func()
		for k, c := range ceilingVariants() {
			steps = append(steps, func() {
				rw := rawSSA(t, green.Config, loadYAML(t, export(fmt.Sprintf("raw-%d-%d", r, k))), c[0], c[1])
				rw.round = r
				rows = append(rows, rw)
			})
		}
		steps = append(steps, func() { phoenixRun(r, "phoenix migrate", bin, fmt.Sprintf("phoenix-%d", r)) })
		for k, v := range variants() {
			steps = append(steps, func() {
				phoenixRun(r, "phoenix before", *before, fmt.Sprintf("before-%d-%d", r, k), strings.Fields(v)...)
			})
		}
		if r%2 == 0 { // green fills up as the runs go: alternate who goes first
			for i, j := 0, len(steps)-1; i < j; i, j = i+1, j-1 {
				steps[i], steps[j] = steps[j], steps[i]
			}
		}
		for _, s := range steps {
			s()
		}
	}
	if *profile != "" {
		rows = append(rows, inProcess(t, blue.Config, green.Config, "inproc", filepath.Join(dir, "inproc")))
	}
	if !*quick {
		kArt := export("kubectl")
		elapsed, rss := run(t, io.Discard, "kubectl", "--kubeconfig", green.KubeconfigPath, "apply", "--server-side", "-R", "-f", kArt)
		rows = append(rows, row{0, "kubectl apply --server-side -R -f DIR", countYAML(t, kArt), elapsed, rss, "kubectl's default client throttling"})
	}
	t.Log("\n" + table(n, rows, load0, loadavg()))
	if *report != "" {
		if err := os.WriteFile(*report, []byte(table(n, rows, load0, loadavg())), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// table renders the rows, each phoenix row with its share of the ceiling of its round.
func table(n int, rows []row, load0, load1 string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d objects per run (mix per 20: 8 ConfigMaps, 3 Secrets, 2 Services, 1 ServiceAccount, 2 Deployments, "+
		"1 CronJob batch/v1beta1, 1 Role, 1 RoleBinding, 1 PDB policy/v1beta1), blue v1.24.17 -> green v1.37.2, both local; "+
		"%d cores, load average %s at the start, %s at the end, %s\n\n", n, runtime.NumCPU(), load0, load1, runtime.Version())
	ceiling := map[int]float64{}
	for _, r := range rows {
		if r.round > 0 && strings.HasPrefix(r.name, "raw") {
			ceiling[r.round] = max(ceiling[r.round], r.rate())
		}
	}
	b.WriteString("\"of ceiling\" is the rate over the fastest raw ceiling of the same round.\n\n")
	b.WriteString("| round | method | objects | seconds | objects/s | of ceiling | peak RSS MB | notes |\n|---|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		round, share, rss := "-", "", ""
		if r.round > 0 {
			round = fmt.Sprint(r.round)
			if c := ceiling[r.round]; c > 0 {
				share = fmt.Sprintf("%.0f%%", 100*r.rate()/c)
			}
		}
		if r.rssMB > 0 {
			rss = fmt.Sprintf("%.0f", r.rssMB)
		}
		fmt.Fprintf(&b, "| %s | %s | %d | %.1f | %.0f | %s | %s | %s |\n", round, r.name, r.objects, r.elapsed.Seconds(), r.rate(), share, rss, r.note)
	}
	return b.String()
}

// inProcess runs migrate.Run in the test process (like the raw ceiling) under the CPU
// profiler and reports its apply phase.
func inProcess(t *testing.T, blue, green *rest.Config, ns, root string) row {
	t.Helper()
	f, err := os.Create(*profile)
	if err != nil {
		t.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		t.Fatal(err)
	}
	defer func() { pprof.StopCPUProfile(); _ = f.Close() }()
	res, err := migrate.Run(context.Background(), migrate.Options{Blue: blue, Green: green, Namespaces: []string{ns}, JournalRoot: root})
	if err != nil || res.Failed() {
		t.Fatalf("in-process migrate: %v", err)
	}
	var apply time.Duration
	for _, p := range res.Phases {
		if p.Name == "apply" {
			apply = p.Duration
		}
	}
	return row{0, "phoenix migrate.Run in-process, apply phase", res.Counts[migrate.Applied] + res.Counts[migrate.Converted], apply, 0, "defaults, under the CPU profiler"}
}
