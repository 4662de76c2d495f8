package app

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"k8s.io/cli-runtime/pkg/genericiooptions"
)

func runAssess(t *testing.T, args ...string) (string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := Run(context.Background(), append([]string{"assess", "--workspace", t.TempDir()}, args...),
		genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut})
	return out.String(), exitCode(err, &errOut)
}

func TestAssessCommand(t *testing.T) {
	t.Parallel()
	manifests := "../../../assess/testdata/manifests"
	for _, tc := range []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string
	}{
		{"blockers exit with ExitFindings", []string{"-f", manifests, "--to", "v1.37.2"}, ExitFindings, "BLOCKERS"},
		{"no blockers exit 0", []string{"-f", manifests + "/app/rbac-list.json", "--to", "v1.21.0"}, ExitOK, "0 blockers"},
		{"markdown", []string{"-f", manifests, "--to", "v1.37.2", "-o", "markdown"}, ExitFindings, "## Blockers"},
		{"in-place hops", []string{"-f", manifests, "--to", "v1.21.14", "--from-version", "v1.14.5", "--in-place"}, ExitFindings, "v1.18.20 -> v1.19.16"},
		{"an unknown target is a usage error", []string{"-f", manifests, "--to", "v1.99.0"}, ExitUsage, ""},
		{"a missing target is a usage error", []string{"-f", manifests}, ExitUsage, ""},
		{"a bad output format is a usage error", []string{"-f", manifests, "--to", "v1.37.2", "-o", "xml"}, ExitUsage, ""},
		{"the knowledge base as a table", []string{"--list"}, ExitOK, "VolumeSubpathEnvExpansion"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out, code := runAssess(t, tc.args...)
			if code != tc.wantCode || !strings.Contains(out, tc.wantOut) {
				t.Fatalf("exit %d (want %d), output:\n%s", code, tc.wantCode, out)
			}
		})
	}
}

func TestAssessListJSON(t *testing.T) {
	t.Parallel()
	out, code := runAssess(t, "--list", "-o", "json")
	if code != ExitOK {
		t.Fatalf("exit %d", code)
	}
	var kb struct {
		APIRemovals []struct{ APIVersion, Kind, RemovedIn string } `json:"apiRemovals"`
		Pitfalls    []struct{ ID string }                          `json:"pitfalls"`
	}
	if err := json.Unmarshal([]byte(out), &kb); err != nil {
		t.Fatalf("--list -o json is not JSON: %v", err)
	}
	if len(kb.APIRemovals) < 40 || len(kb.Pitfalls) < 10 {
		t.Fatalf("knowledge base looks empty: %d removals, %d pitfalls", len(kb.APIRemovals), len(kb.Pitfalls))
	}
}
