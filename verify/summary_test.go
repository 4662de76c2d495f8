package verify

import (
	"strings"
	"testing"
)

func TestSummarySaysParityAndCounts(t *testing.T) {
	t.Parallel()
	ok := &Report{Passed: true, Compared: 27, AtParity: 27, Namespaces: []string{"payments"}, Checks: []Check{{Passed: true}}}
	if got := ok.summary(); !strings.HasPrefix(got, "at parity: 27/27 objects equal, 0 of 1 checks failed") {
		t.Errorf("summary %q", got)
	}
	bad := &Report{Passed: false, Compared: 27, AtParity: 26, Namespaces: []string{"payments"}, Checks: []Check{{Passed: false}}}
	if got := bad.summary(); !strings.HasPrefix(got, "NOT at parity: 26/27 objects equal, 1 of 1 checks failed") {
		t.Errorf("summary %q", got)
	}
}
