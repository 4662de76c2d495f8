package benchmigrate

import (
	"bytes"
	"encoding/json"
	"errors"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// verifyRun times `phoenix verify` of a namespace phoenix just migrated. Exit code 3 (not
// at parity: kwok pods, PVCs that stay Pending) still counts as a timed run; the note says
// what verify concluded.
func verifyRun(t *testing.T, round int, bin, workspace, ns string) row {
	t.Helper()
	cmd := exec.Command(bin, "verify", "--ns", ns, "--workspace", workspace, "-o", "json")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	start := time.Now()
	err := cmd.Run()
	elapsed := time.Since(start)
	var exit *exec.ExitError
	if err != nil && !(errors.As(err, &exit) && exit.ExitCode() == 3) {
		t.Fatalf("phoenix verify --ns %s: %v\n%s", ns, err, tail(errOut.String()))
	}
	var rep struct {
		Passed   bool   `json:"passed"`
		Compared int    `json:"compared"`
		AtParity int    `json:"atParity"`
		Summary  string `json:"summary"`
	}
	if jerr := json.Unmarshal(out.Bytes(), &rep); jerr != nil {
		t.Fatalf("phoenix verify -o json: %v\n%s", jerr, tail(out.String()))
	}
	rss := 0.0
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok && ru != nil {
		rss = float64(ru.Maxrss) / 1024
	}
	return row{round, "phoenix verify", rep.Compared, elapsed, rss, rep.Summary}
}
