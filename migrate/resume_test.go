package migrate_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/phoenix-upgrade/phoenix/kube"
	"github.com/phoenix-upgrade/phoenix/migrate"
)

const childEnv = "PHOENIX_TEST_MIGRATE_CHILD"

// TestChildMigrate is not a test: it is the process TestKilledMigration... SIGKILLs. It
// runs one migration configured by environment variables.
func TestChildMigrate(t *testing.T) {
	if os.Getenv(childEnv) != "1" {
		t.Skip("helper process for TestKilledMigrationResumesToTheSameEnd")
	}
	cfg := func(path string) *rest.Config {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		c, err := kube.ConfigFromKubeconfig(data, "")
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	_, err := migrate.Run(context.Background(), migrate.Options{
		Blue: cfg(os.Getenv("CHILD_BLUE")), Green: cfg(os.Getenv("CHILD_GREEN")),
		Namespaces: []string{os.Getenv("CHILD_NS")}, JournalRoot: os.Getenv("CHILD_ROOT"), Concurrency: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
}

// journalLines counts the records a migration in root has journaled so far.
func journalLines(root string) int {
	id, err := migrate.LatestID(root)
	if err != nil {
		return 0
	}
	f, err := os.Open(filepath.Join(root, id, "journal.jsonl"))
	if err != nil {
		return 0
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		n++
	}
	return n
}

func TestKilledMigrationResumesToTheSameEnd(t *testing.T) {
	blue, green := clusters(t)
	const bulk = 60
	ctx := context.Background()

	createFixture(t, blue.RESTConfig(), "resume-ref", bulk)
	refRoot := t.TempDir()
	ref, err := migrate.Run(ctx, migrate.Options{Blue: blue.RESTConfig(), Green: green.RESTConfig(), Namespaces: []string{"resume-ref"}, JournalRoot: refRoot})
	if err != nil || ref.Failed() {
		t.Fatalf("uninterrupted migration: %v (%s)", err, ref.Summary())
	}
	total := len(ref.Objects)
	want := snapshot(t, green.Config, "resume-ref")

	type trial struct {
		name string
		kill func(t *testing.T, ns, root string, at int) int // returns records journaled when stopped
	}
	sigkill := func(t *testing.T, ns, root string, at int) int {
		cmd := exec.Command(os.Args[0], "-test.run=^TestChildMigrate$", "-test.count=1")
		cmd.Env = append(os.Environ(), childEnv+"=1", "CHILD_BLUE="+blue.KubeconfigPath, "CHILD_GREEN="+green.KubeconfigPath,
			"CHILD_NS="+ns, "CHILD_ROOT="+root)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		for {
			select {
			case err := <-exited:
				t.Fatalf("the child finished (%v) before %d records; nothing was killed", err, at)
			case <-time.After(2 * time.Millisecond):
			}
			if n := journalLines(root); n >= at {
				_ = cmd.Process.Kill() // SIGKILL: no deferred code, no flush
				<-exited
				return journalLines(root)
			}
		}
	}
	cancel := func(t *testing.T, ns, root string, at int) int {
		cctx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			for journalLines(root) < at {
				time.Sleep(time.Millisecond)
			}
			stop()
		}()
		_, err := migrate.Run(cctx, migrate.Options{Blue: blue.RESTConfig(), Green: green.RESTConfig(), Namespaces: []string{ns}, JournalRoot: root, Concurrency: 2})
		stop()
		<-done
		if err == nil {
			t.Fatalf("the run was not interrupted at %d records", at)
		}
		return journalLines(root)
	}
	var trials []trial
	for i := range 5 {
		trials = append(trials, trial{fmt.Sprintf("sigkill-%d", i), sigkill})
	}
	for i := range 3 {
		trials = append(trials, trial{fmt.Sprintf("cancel-%d", i), cancel})
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	for _, tr := range trials {
		t.Run(tr.name, func(t *testing.T) {
			ns := "resume-" + tr.name
			createFixture(t, blue.RESTConfig(), ns, bulk)
			root := t.TempDir()
			at := 1 + rng.IntN(total-2)
			stoppedAt := tr.kill(t, ns, root, at)
			t.Logf("stopped after %d of %d records; resuming", stoppedAt, total)
			res, err := migrate.Run(ctx, migrate.Options{Blue: blue.RESTConfig(), Green: green.RESTConfig(), Namespaces: []string{ns}, JournalRoot: root, Resume: true})
			if err != nil || res.Failed() {
				t.Fatalf("resume: %v (%s)", err, res.Summary())
			}
			if len(res.Objects) != total {
				t.Errorf("resumed run reports %d objects, the uninterrupted one %d", len(res.Objects), total)
			}
			got := snapshot(t, green.Config, ns)
			compareSnapshots(t, want, got)
		})
	}
}

// snapshot renders every object of ns on green (and the cluster-scoped ones named after
// it), normalized: the namespace name replaced, server-assigned fields dropped.
func snapshot(t *testing.T, cfg *rest.Config, ns string) map[string]string {
	t.Helper()
	dyn := dynamic.NewForConfigOrDie(cfg)
	out := map[string]string{}
	norm := func(o *unstructured.Unstructured) {
		for _, f := range []string{"uid", "resourceVersion", "creationTimestamp", "managedFields", "generation"} {
			unstructured.RemoveNestedField(o.Object, "metadata", f)
		}
		// green's deployment controller adds this some time after the apply; when it lands
		// is a race with the snapshot, not something phoenix wrote.
		unstructured.RemoveNestedField(o.Object, "metadata", "annotations", "deployment.kubernetes.io/revision")
		if len(o.GetAnnotations()) == 0 {
			unstructured.RemoveNestedField(o.Object, "metadata", "annotations")
		}
		unstructured.RemoveNestedField(o.Object, "status")
		unstructured.RemoveNestedField(o.Object, "spec", "clusterIP")
		unstructured.RemoveNestedField(o.Object, "spec", "clusterIPs")
		data, _ := json.Marshal(o.Object)
		name := strings.ReplaceAll(o.GetKind()+" "+o.GetName(), ns, "NS")
		out[name] = strings.ReplaceAll(string(data), ns, "NS")
	}
	for _, r := range snapshotResources {
		l, err := dyn.Resource(r).Namespace(ns).List(context.Background(), metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for i := range l.Items {
			norm(&l.Items[i])
		}
	}
	for _, r := range clusterResources {
		l, err := dyn.Resource(r).List(context.Background(), metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for i := range l.Items {
			if strings.HasPrefix(l.Items[i].GetName(), ns+"-") || l.Items[i].GetName() == ns {
				norm(&l.Items[i])
			}
		}
	}
	return out
}

var clusterResources = append([]schema.GroupVersionResource{}, gvr("", "v1", "namespaces"), gvr("storage.k8s.io", "v1", "storageclasses"),
	gvr("scheduling.k8s.io", "v1", "priorityclasses"), gvr("rbac.authorization.k8s.io", "v1", "clusterroles"),
	gvr("rbac.authorization.k8s.io", "v1", "clusterrolebindings"),
	gvr("admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations"))

func compareSnapshots(t *testing.T, want, got map[string]string) {
	t.Helper()
	var diff []string
	for k, v := range want {
		if got[k] != v {
			diff = append(diff, fmt.Sprintf("%s: want %s\n    got  %s", k, v, got[k]))
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			diff = append(diff, k+": extra")
		}
	}
	sort.Strings(diff)
	if len(diff) > 0 {
		t.Errorf("green after kill+resume differs from an uninterrupted run:\n  %s", strings.Join(diff, "\n  "))
	}
	if len(want) < 20 {
		t.Errorf("snapshot has only %d objects; the comparison proves little", len(want))
	}
}
