package app

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/phoenix-upgrade/phoenix/cutover"
	"github.com/phoenix-upgrade/phoenix/cutover/haproxy/haproxytest"
	"github.com/phoenix-upgrade/phoenix/state"
)

// cutoverSetup starts haproxy in front of blue and green (green answers 500 once it has
// served failAfter requests, if failAfter > 0) and a workspace with a migration and a
// passed verify.
func cutoverSetup(t *testing.T, failAfter int64) (ws string, in *haproxytest.Instance, green *httptest.Server) {
	haproxytest.Binary(t)
	blue := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "blue") }))
	t.Cleanup(blue.Close)
	var served atomic.Int64
	green = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if n := served.Add(1); failAfter > 0 && n > failAfter {
			http.Error(w, "boom", 500)
			return
		}
		fmt.Fprint(w, "green")
	}))
	t.Cleanup(green.Close)
	in = haproxytest.Start(t, "shop",
		haproxytest.Server{Name: "blue", Addr: blue.Listener.Addr().String(), Weight: 100},
		haproxytest.Server{Name: "green", Addr: green.Listener.Addr().String(), Weight: 0})
	ws = t.TempDir()
	w, err := state.Open(ws)
	if err != nil {
		t.Fatal(err)
	}
	if err := state.WriteJSONAtomic(w.Path("migrations", "shop", "journal.json"), map[string]string{}, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := state.WriteJSONAtomic(cutover.VerifyPath(w), cutover.VerifyRecord{Passed: true, Time: time.Now()}, 0o600); err != nil {
		t.Fatal(err)
	}
	return ws, in, green
}

func fastPlan(probe string) []string {
	return []string{"--steps", "10,50,100", "--interval", "60ms", "--gate-interval", "20ms",
		"--probe", probe, "--probe-requests", "5", "--min-requests", "1", "--inconclusive-limit", "100"}
}

func TestCutoverCommandRollsBackOnAFailingGateWithExitCode3(t *testing.T) {
	ws, in, green := cutoverSetup(t, 12)
	args := append([]string{"cutover", "--router", "haproxy", "--haproxy-socket", in.Socket, "--haproxy-backend", "shop"}, fastPlan(green.URL)...)
	out, _, err := run(t, ws, args...)
	var buf strings.Builder
	if code := exitCode(err, &buf); code != ExitFindings {
		t.Fatalf("exit code %d (%v), want %d; out:\n%s", code, err, ExitFindings, out)
	}
	if !strings.Contains(buf.String(), "rolled back to blue 100%") || !strings.Contains(buf.String(), "success rate") {
		t.Errorf("error does not give the reason: %s", buf.String())
	}
	resp, err := http.Get(in.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "blue" {
		t.Errorf("after the rollback haproxy sent a request to %q", body)
	}
}

func TestCutoverThenRollbackNeedNoRouterFlagsTheSecondTime(t *testing.T) {
	ws, in, green := cutoverSetup(t, 0)
	args := append([]string{"cutover", "--router", "haproxy", "--haproxy-socket", in.Socket, "--haproxy-backend", "shop", "--haproxy-state-file", in.StateFile}, fastPlan(green.URL)...)
	if out, errOut, err := run(t, ws, args...); err != nil || !strings.Contains(out, "Cutover Completed: blue 0% / green 100%") {
		t.Fatalf("cutover: %v\n%s\n%s", err, out, errOut)
	}
	if out, _, err := run(t, ws, "rollback", "--reason", "drill"); err != nil || !strings.Contains(out, "blue 100% / green 0%") {
		t.Fatalf("rollback without flags: %v\n%s", err, out)
	}
	_, _, err := run(t, ws, "rollback")
	var buf strings.Builder
	if code := exitCode(err, &buf); code != ExitError || !strings.Contains(buf.String(), "nothing to roll back") {
		t.Errorf("second rollback: exit %d, %s", code, buf.String())
	}
	out, _, err := run(t, ws, "status", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var rep cutover.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Cutover == nil || rep.Cutover.Phase != cutover.PhaseRolledBack || rep.Live == nil || *rep.Live != cutover.AllBlue || rep.Verify == nil || len(rep.Migrations) != 1 {
		t.Errorf("status: %s", out)
	}
	if out, _, err := run(t, ws, "status"); err != nil || !strings.Contains(out, "drill") || !strings.Contains(out, "RolledBack") {
		t.Errorf("status table: %v\n%s", err, out)
	}
}

func TestCutoverRefusals(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no router", []string{"cutover"}, ExitUsage, "no router configured"},
		{"haproxy without backend", []string{"cutover", "--router", "haproxy", "--haproxy-socket", "/nope"}, ExitUsage, "--haproxy-backend"},
		{"steps not ending at 100", []string{"cutover", "--steps", "10,50"}, ExitUsage, "must end at 100"},
		{"no migration", []string{"cutover", "--router", "haproxy", "--haproxy-socket", "/nope.sock", "--haproxy-backend", "b"}, ExitError, "no migration recorded"},
		{"rollback with nothing cut over", []string{"rollback"}, ExitError, "nothing to roll back"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, _, err := run(t, t.TempDir(), tc.args...)
			var buf strings.Builder
			if code := exitCode(err, &buf); code != tc.code || !strings.Contains(buf.String(), tc.want) {
				t.Errorf("exit %d %q, want %d and %q", code, buf.String(), tc.code, tc.want)
			}
		})
	}
}

func TestACompletedCutoverRerunChangesNothingAndSaysSo(t *testing.T) {
	ws, in, green := cutoverSetup(t, 0)
	args := append([]string{"cutover", "--router", "haproxy", "--haproxy-socket", in.Socket, "--haproxy-backend", "shop"}, fastPlan(green.URL)...)
	if out, errOut, err := run(t, ws, args...); err != nil {
		t.Fatalf("cutover: %v\n%s\n%s", err, out, errOut)
	}
	w, _ := state.Open(ws)
	before, _ := cutover.LoadState(w)
	out, errOut, err := run(t, ws, "cutover")
	if err != nil || !strings.Contains(out, "nothing changed") {
		t.Fatalf("rerun: %v\n%s\n%s", err, out, errOut)
	}
	after, _ := cutover.LoadState(w)
	for _, e := range after.History[len(before.History):] {
		if e.Kind == cutover.EventStep || e.Kind == cutover.EventStepBegin || e.Kind == cutover.EventJobs {
			t.Errorf("the rerun changed things: %s %s", e.Kind, e.Detail)
		}
	}
	if after.Phase != cutover.PhaseCompleted || after.Weights != (cutover.Weights{Blue: 0, Green: 100}) {
		t.Errorf("journal after the rerun: %s %s", after.Phase, after.Weights)
	}
}

func TestACutoverWithoutAGateRefusesUnlessNoGatesAndForceDoesNotHelp(t *testing.T) {
	ws, in, _ := cutoverSetup(t, 0)
	base := []string{"cutover", "--router", "haproxy", "--haproxy-socket", in.Socket, "--haproxy-backend", "shop",
		"--steps", "50,100", "--interval", "20ms", "--max-5xx-rate", "0"}
	for _, extra := range [][]string{nil, {"--force"}} {
		_, _, err := run(t, ws, append(base, extra...)...)
		var buf strings.Builder
		if code := exitCode(err, &buf); code != ExitError || !strings.Contains(buf.String(), "no gate would be measured") || !strings.Contains(buf.String(), "--force does not override") {
			t.Errorf("%v: exit %d %q", extra, code, buf.String())
		}
	}
	if out, errOut, err := run(t, ws, append(base, "--no-gates")...); err != nil || !strings.Contains(out, "Cutover Completed") {
		t.Errorf("--no-gates: %v\n%s\n%s", err, out, errOut)
	}
}

func TestCutoverRefusesAStaleVerifyUnlessForcedAndRecordsIt(t *testing.T) {
	ws, in, green := cutoverSetup(t, 0)
	w, _ := state.Open(ws)
	if err := state.WriteJSONAtomic(cutover.VerifyPath(w), cutover.VerifyRecord{Passed: true, Time: time.Now().Add(-time.Hour)}, 0o600); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"cutover", "--router", "haproxy", "--haproxy-socket", in.Socket, "--haproxy-backend", "shop"}, fastPlan(green.URL)...)
	_, _, err := run(t, ws, args...)
	var buf strings.Builder
	if code := exitCode(err, &buf); code != ExitError || !strings.Contains(buf.String(), "older than --max-verify-age 15m0s") {
		t.Fatalf("stale verify: exit %d %q", code, buf.String())
	}
	if out, errOut, err := run(t, ws, append(args, "--force")...); err != nil || !strings.Contains(out, "Cutover Completed") {
		t.Fatalf("--force: %v\n%s\n%s", err, out, errOut)
	}
	st, _ := cutover.LoadState(w)
	if len(st.Forced) != 1 || !strings.Contains(st.Forced[0], "older than") {
		t.Errorf("forced findings %q", st.Forced)
	}
}
