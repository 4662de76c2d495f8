package migrate_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/dynamic"

	"github.com/phoenix-upgrade/phoenix/cmd/phoenix/app"
	"github.com/phoenix-upgrade/phoenix/migrate"
	"github.com/phoenix-upgrade/phoenix/state"
)

// TestCommandsMigrateAndVerify drives `phoenix migrate` and `phoenix verify` against a
// workspace whose blue and green clusters are the test clusters.
func TestCommandsMigrateAndVerify(t *testing.T) {
	blue, green := clusters(t)
	const ns = "cli"
	createFixture(t, blue.RESTConfig(), ns, 0)
	ws, err := state.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, role string
		kc         []byte
	}{{"blue", state.RoleBlue, blue.Kubeconfig}, {"green", state.RoleGreen, green.Kubeconfig}} {
		if err := ws.SaveCluster(state.Cluster{Name: c.name, Role: c.role, Provider: "external", Created: time.Now()}, c.kc); err != nil {
			t.Fatal(err)
		}
	}
	phoenix := func(args ...string) (string, error) {
		var out, errOut bytes.Buffer
		err := app.Run(context.Background(), append(args, "--workspace", ws.Root), genericiooptions.IOStreams{In: &bytes.Buffer{}, Out: &out, ErrOut: &errOut})
		return out.String(), err
	}
	out, err := phoenix("migrate", "--ns", ns, "-o", "json")
	if err != nil {
		t.Fatalf("phoenix migrate: %v\n%s", err, out)
	}
	var res migrate.Result
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("migrate -o json is not JSON: %v\n%s", err, out)
	}
	if res.Counts[migrate.Converted] == 0 || res.Failed() {
		t.Errorf("migrate result: %s", res.Summary())
	}
	out, err = phoenix("migrate", "--ns", ns)
	if err != nil || !bytes.Contains([]byte(out), []byte(" unchanged")) {
		t.Errorf("second phoenix migrate: %v\n%s", err, out)
	}
	t.Logf("phoenix migrate (second run):\n%s", out)
	waitFor(t, 3*time.Minute, "phoenix verify to pass", func() bool {
		_, err := phoenix("verify", "--ns", ns)
		return err == nil
	})
	if err := dynamic.NewForConfigOrDie(green.Config).Resource(gvr("", "v1", "configmaps")).Namespace(ns).
		Delete(context.Background(), "app-config", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	out, err = phoenix("verify", "--ns", ns)
	var ec *app.ExitCodeError
	if !errors.As(err, &ec) || ec.Code != app.ExitFindings {
		t.Fatalf("verify after a deletion: err %v, want exit code %d\n%s", err, app.ExitFindings, out)
	}
	if !bytes.Contains([]byte(out), []byte("ConfigMap cli/app-config")) {
		t.Errorf("verify output does not name the deleted object:\n%s", out)
	}
	var latest struct {
		Passed   bool `json:"passed"`
		Failures int  `json:"failures"`
	}
	if err := state.ReadJSON(ws.Path("verify", "latest.json"), &latest); err != nil || latest.Passed || latest.Failures == 0 {
		t.Errorf("verify/latest.json = %+v (%v), want passed false", latest, err)
	}
}
