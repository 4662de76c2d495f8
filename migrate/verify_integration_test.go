package migrate_test

// verify's integration test lives here so that it shares this package's blue and green
// clusters (each test binary starts its own).

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"

	"github.com/phoenix-upgrade/phoenix/migrate"
	"github.com/phoenix-upgrade/phoenix/state"
	"github.com/phoenix-upgrade/phoenix/verify"
)

func TestVerifyPassesAfterMigrateAndNamesWhatDiffers(t *testing.T) {
	blue, green := clusters(t)
	const ns = "parity"
	createFixture(t, blue.RESTConfig(), ns, 0)
	ctx := context.Background()
	root := t.TempDir()
	mopts := migrate.Options{Blue: blue.RESTConfig(), Green: green.RESTConfig(), Namespaces: []string{ns}, JournalRoot: root}
	if res, err := migrate.Run(ctx, mopts); err != nil || res.Failed() {
		t.Fatalf("migrate: %v", err)
	}
	reportPath := filepath.Join(t.TempDir(), "verify", "latest.json")
	vopts := verify.Options{Blue: blue.RESTConfig(), Green: green.RESTConfig(), JournalRoot: root, ReportPath: reportPath}
	var rep *verify.Report
	defer func() {
		if t.Failed() && rep != nil {
			out, _ := json.MarshalIndent(rep, "", "  ")
			t.Logf("last report: %s", out)
		}
	}()
	waitFor(t, 3*time.Minute, "verify to pass once green's Deployment is available", func() bool {
		var err error
		if rep, err = verify.Run(ctx, vopts); err != nil {
			t.Fatalf("verify: %v", err)
		}
		return rep.Passed
	})
	if rep.Compared < 20 || rep.AtParity != rep.Compared {
		t.Errorf("verify compared %d objects, %d at parity", rep.Compared, rep.AtParity)
	}
	var saved struct {
		Passed     bool      `json:"passed"`
		Time       time.Time `json:"time"`
		Namespaces []string  `json:"namespaces"`
		Failures   int       `json:"failures"`
	}
	if err := state.ReadJSON(reportPath, &saved); err != nil {
		t.Fatal(err)
	}
	if !saved.Passed || saved.Time.IsZero() || len(saved.Namespaces) != 1 || saved.Failures != 0 {
		t.Errorf("latest.json = %+v", saved)
	}

	dyn := dynamic.NewForConfigOrDie(green.Config)
	// One object deleted on green.
	if err := dyn.Resource(gvr("", "v1", "configmaps")).Namespace(ns).Delete(ctx, "app-config", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	rep = mustVerify(t, vopts)
	wantProblem(t, rep, "ConfigMap parity/app-config", verify.StatusMissing, "")

	// One field changed on green (and a Secret value, which must stay masked).
	if _, err := migrate.Run(ctx, mopts); err != nil {
		t.Fatal(err)
	}
	patch := []byte(`{"spec":{"size":4}}`)
	if _, err := dyn.Resource(gvr("example.com", "v1", "widgets")).Namespace(ns).Patch(ctx, "gear", types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	secretPatch := []byte(`{"stringData":{"password":"changed-on-green-pw"}}`)
	if _, err := dyn.Resource(gvr("", "v1", "secrets")).Namespace(ns).Patch(ctx, "db", types.MergePatchType, secretPatch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	rep = mustVerify(t, vopts)
	wantProblem(t, rep, "Widget.example.com parity/gear", verify.StatusDiffers, "spec.size")
	wantProblem(t, rep, "Secret parity/db", verify.StatusDiffers, "data.password")
	out, _ := json.Marshal(rep)
	for _, v := range []string{"hunter22", "changed-on-green", "aHVudGVy", "Y2hhbmdlZC1vbi1ncmVlbi"} {
		if strings.Contains(string(out), v) {
			t.Errorf("the verify report shows a Secret value (%s)", v)
		}
	}
}

func mustVerify(t *testing.T, o verify.Options) *verify.Report {
	t.Helper()
	rep, err := verify.Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Passed || rep.Failures == 0 {
		t.Fatalf("verify passed; want a failure")
	}
	return rep
}

func wantProblem(t *testing.T, rep *verify.Report, object, status, path string) {
	t.Helper()
	for _, p := range rep.Problems {
		if p.Object != object {
			continue
		}
		if p.Status != status {
			t.Errorf("%s: status %s, want %s", object, p.Status, status)
		}
		if path == "" {
			return
		}
		for _, d := range p.Diffs {
			if d.Path == path {
				return
			}
		}
		t.Errorf("%s: diffs %+v do not name %s", object, p.Diffs, path)
		return
	}
	t.Errorf("verify does not name %s; problems: %+v", object, rep.Problems)
}
