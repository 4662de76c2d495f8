package app

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/cli-runtime/pkg/genericiooptions"
)

func TestUpgradeDryRunWorksOffline(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"id", "known_hosts"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	inv := filepath.Join(dir, "hosts.yaml")
	if err := os.WriteFile(inv, []byte(`
user: ops
key: id
knownHosts: known_hosts
hosts:
- {name: cp-1, address: 192.0.2.1, role: control-plane}
- {name: w-1, address: 192.0.2.2, role: worker}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		args    []string
		code    int
		wantOut []string
		wantErr string
	}{
		{"a dry run with --from prints the runbook without any cluster", []string{"--to", "v1.28.15", "--from", "v1.27.16", "--dry-run"}, ExitOK,
			[]string{"[cp-1] kubeadm upgrade apply v1.28.15 --yes", "[cluster] kubectl drain w-1 --ignore-daemonsets"}, ""},
		{"a downgrade is refused", []string{"--to", "v1.26.15", "--from", "v1.27.16", "--dry-run"}, ExitError, nil, "downgrade"},
		{"--to is required", []string{"--dry-run"}, ExitUsage, nil, "--to is required"},
		{"--resume needs a journal", []string{"--resume"}, ExitError, nil, "nothing to resume"},
		{"an injected package revision is refused", []string{"--to", "v1.28.15", "--from", "v1.27.16", "--dry-run", "--package-revision", "1.1; reboot"}, ExitUsage, nil, "package revision"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			args := append([]string{"upgrade", "--workspace", filepath.Join(dir, "ws"), "--inventory", inv, "--kubeconfig", filepath.Join(dir, "none")}, tc.args...)
			err := Run(context.Background(), args, genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut})
			code := ExitOK
			if err != nil {
				code = ExitError
				var ec *ExitCodeError
				if errors.As(err, &ec) {
					code = ec.Code
				}
			}
			if code != tc.code {
				t.Fatalf("exit %d, want %d (err %v)", code, tc.code, err)
			}
			if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("err = %v, want %q", err, tc.wantErr)
			}
			for _, w := range tc.wantOut {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
		})
	}
}
