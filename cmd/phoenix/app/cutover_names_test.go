package app

import (
	"os"
	"strings"
	"testing"

	"github.com/phoenix-upgrade/phoenix/cutover"
	"github.com/phoenix-upgrade/phoenix/state"
)

func TestCutoverRefusesAnInjectedHAProxyBackendBeforeAnythingIsSentOrStored(t *testing.T) {
	ws, in, green := cutoverSetup(t, 0)
	tap := in.Tap()
	for _, args := range [][]string{
		{"cutover", "--router", "haproxy", "--haproxy-socket", tap.Socket, "--haproxy-backend", "shop; disable frontend fe"},
		{"cutover", "--router", "haproxy", "--haproxy-socket", tap.Socket, "--haproxy-backend", "shop", "--green-server", "green; disable frontend fe"},
		{"rollback", "--router", "haproxy", "--haproxy-socket", tap.Socket, "--haproxy-backend", "shop; disable frontend fe"},
	} {
		_, _, err := run(t, ws, append(args, fastPlanIfCutover(args[0], green.URL)...)...)
		var buf strings.Builder
		code := exitCode(err, &buf)
		if args[0] == "cutover" && (code != ExitUsage || !strings.Contains(buf.String(), "not a valid HAProxy identifier")) {
			t.Errorf("%v: exit %d %q, want %d and a refusal naming HAProxy's identifier rule", args, code, buf.String(), ExitUsage)
		}
		if code == 0 {
			t.Errorf("%v succeeded", args)
		}
	}
	if lines := tap.Lines(); len(lines) != 0 {
		t.Errorf("sent to the HAProxy socket: %q", lines)
	}
	w, err := state.Open(ws)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(cutover.StatePath(w)); !os.IsNotExist(err) {
		data, _ := os.ReadFile(cutover.StatePath(w))
		t.Errorf("a cutover state was stored: %s", data)
	}
}

func fastPlanIfCutover(cmd, probe string) []string {
	if cmd == "cutover" {
		return fastPlan(probe)
	}
	return nil
}
