package app

import (
	"strings"
	"testing"

	"github.com/phoenix-upgrade/phoenix/state"
	"github.com/phoenix-upgrade/phoenix/volumes"
)

func TestCutoverFinalDeltaRefusesWithoutAMoveItCanRepeat(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		record *volumes.Result
		want   string
	}{
		{"no volume move recorded", nil, "none is recorded"},
		{"a move of no claims", &volumes.Result{Mode: volumes.ModeCSI, Namespaces: []string{"shop"}}, "nothing to move again"},
		{"file-system backup", &volumes.Result{Mode: volumes.ModeFS, Namespaces: []string{"shop"}, Claims: 1}, "needs --volumes velero-csi"},
		{"no blue cluster", &volumes.Result{Mode: volumes.ModeCSI, Namespaces: []string{"shop"}, Claims: 1}, "needs the blue cluster registered"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			if tc.record != nil {
				ws, err := state.Open(dir)
				if err != nil {
					t.Fatal(err)
				}
				if err := volumes.SaveResult(ws, tc.record); err != nil {
					t.Fatal(err)
				}
			}
			_, _, err := run(t, dir, "cutover", "--router", "haproxy", "--haproxy-socket", "/nope.sock", "--haproxy-backend", "b", "--final-delta")
			var buf strings.Builder
			if code := exitCode(err, &buf); code != ExitError || !strings.Contains(buf.String(), tc.want) {
				t.Errorf("exit %d %q, want %d and %q", code, buf.String(), ExitError, tc.want)
			}
		})
	}
}
