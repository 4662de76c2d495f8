package haproxy_test

import (
	"context"
	"strings"
	"testing"

	"github.com/phoenix-upgrade/phoenix/cutover"
	"github.com/phoenix-upgrade/phoenix/cutover/haproxy"
)

func TestValidateNameFollowsHAProxysIdentifierRules(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"app", "shop-v2", "be_1", "svc.ns", "a:b", "Green"} {
		if err := haproxy.ValidateName("backend", ok); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "shop; disable frontend www", "a b", "a/b", "a\nb", "a;b", "a\tb", "a#b", "é"} {
		if err := haproxy.ValidateName("backend", bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestInjectedNamesAreRefusedAndNothingReachesTheSocket(t *testing.T) {
	in, r := startPair(t)
	ctx := context.Background()
	if err := r.SetWeights(ctx, 70, 30); err != nil {
		t.Fatal(err)
	}
	tap := in.Tap()
	for _, cfg := range []cutover.HAProxyConfig{
		{Socket: tap.Socket, Backend: "app; disable frontend fe"},
		{Socket: tap.Socket, Backend: "app", GreenServer: "green; disable frontend fe"},
		{Socket: tap.Socket, Backend: "app", BlueServer: "blue\ndisable frontend fe"},
	} {
		_, err := haproxy.New(cfg)
		if err == nil || !strings.Contains(err.Error(), "not a valid HAProxy identifier") {
			t.Errorf("New(%+v) = %v, want a refusal naming the identifier rule", cfg, err)
		}
	}
	good, err := haproxy.New(cutover.HAProxyConfig{Socket: tap.Socket, Backend: "app"})
	if err != nil {
		t.Fatal(err)
	}
	if err := good.SetState(ctx, "green; disable frontend fe", "maint"); err == nil || !strings.Contains(err.Error(), "not a valid HAProxy identifier") {
		t.Errorf("SetState with an injected server name = %v, want a refusal", err)
	}
	if lines := tap.Lines(); len(lines) != 0 {
		t.Errorf("sent to the runtime API despite the refusal: %q", lines)
	}
	if st := frontendStatus(t, in.Command("show stat")); st != "OPEN" {
		t.Errorf("frontend fe is %q, want OPEN (untouched)", st)
	}
	if w, err := r.Weights(ctx); err != nil || w != (cutover.Weights{Blue: 70, Green: 30}) {
		t.Errorf("weights now %v %v, want 70/30 unchanged", w, err)
	}
	// The tap does forward: a valid request is seen.
	if _, err := good.Weights(ctx); err != nil {
		t.Fatal(err)
	}
	if lines := tap.Lines(); len(lines) != 1 || lines[0] != "show servers state app" {
		t.Errorf("tap saw %q, want the one valid request", lines)
	}
}

// frontendStatus returns the status column of frontend fe in `show stat` CSV.
func frontendStatus(t *testing.T, csv string) string {
	t.Helper()
	lines := strings.Split(csv, "\n")
	cols := strings.Split(strings.TrimPrefix(lines[0], "# "), ",")
	idx := -1
	for i, c := range cols {
		if c == "status" {
			idx = i
		}
	}
	for _, l := range lines[1:] {
		if f := strings.Split(l, ","); len(f) > idx && idx >= 0 && f[0] == "fe" && f[1] == "FRONTEND" {
			return f[idx]
		}
	}
	t.Fatalf("no frontend fe in show stat:\n%s", csv)
	return ""
}
