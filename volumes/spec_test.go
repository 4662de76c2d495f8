package volumes

import (
	"bytes"
	"compress/gzip"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

var updateGolden = flag.Bool("update", false, "rewrite golden files under testdata/golden")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *updateGolden {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run `go test ./volumes -run %s -update`)", err, t.Name())
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from golden file %s:\n--- got\n%s\n--- want\n%s", t.Name(), path, got, want)
	}
}

func TestBackupAndRestoreSpecsMatchGoldenFiles(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		mode  Mode
		stage string
	}{
		{"fs-initial", ModeFS, StageInitial},
		{"csi-initial", ModeCSI, StageInitial},
		{"fs-final-delta", ModeFS, StageFinalDelta},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			opts := Options{Mode: tc.mode, Namespaces: []string{"payments", "orders"}, Migration: "m-2026/07:01", Blue: nil}
			if err := opts.defaults(); err == nil {
				t.Fatal("defaults accepted options without clusters")
			}
			opts.VeleroNamespace, opts.NamePrefix, opts.TTL = "velero", "phoenix", 72*time.Hour
			b, err := yaml.Marshal(newBackup(&opts, "default", tc.stage))
			if err != nil {
				t.Fatal(err)
			}
			r, err := yaml.Marshal(newRestore(&opts, "phoenix-abc12", tc.stage))
			if err != nil {
				t.Fatal(err)
			}
			golden(t, tc.name+".yaml", append(append(b, []byte("---\n")...), r...))
		})
	}
}

func TestParseModeAcceptsFlagValuesAndRejectsOthers(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]Mode{"": ModeNone, "none": ModeNone, "velero": ModeFS, "velero-fs": ModeFS, "velero-csi": ModeCSI} {
		got, err := ParseMode(in)
		if err != nil || got != want {
			t.Errorf("ParseMode(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ParseMode("restic"); err == nil || !strings.Contains(err.Error(), "velero-csi") {
		t.Errorf("ParseMode(restic) error = %v, want one naming the valid modes", err)
	}
}

func TestLabelValueMakesValidLabels(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"m-1":                    "m-1",
		"2026/07/01 10:00":       "2026-07-01-10-00",
		"-x-":                    "x",
		strings.Repeat("a", 70):  strings.Repeat("a", 63),
		"payments.prod_migrate!": "payments.prod_migrate",
	} {
		if got := labelValue(in); got != want {
			t.Errorf("labelValue(%q) = %q, want %q", in, got, want)
		}
	}
}

func gz(t *testing.T, s string) *bytes.Buffer {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	if _, err := w.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return &b
}

func TestParseResultsFlattensVeleroResultsInStableOrder(t *testing.T) {
	t.Parallel()
	in := `{"errors":{"velero":["timed out waiting for pod volume backups"],"namespaces":{"zz":["b"],"payments":["pod payments/db-0: daemonset pod not found in running state in node n1"]}},
	"warnings":{"cluster":["could not restore, PersistentVolume \"pv1\" already exists"],"namespaces":{"payments":["could not restore, PersistentVolumeClaim \"data\" already exists. Warning: the in-cluster version is different than the backed-up version"]}}}`
	errs, warns, err := parseResults(gz(t, in))
	if err != nil {
		t.Fatal(err)
	}
	wantErrs := []string{"velero: timed out waiting for pod volume backups", "payments: pod payments/db-0: daemonset pod not found in running state in node n1", "zz: b"}
	if strings.Join(errs, "|") != strings.Join(wantErrs, "|") {
		t.Errorf("errors = %q, want %q", errs, wantErrs)
	}
	if len(warns) != 2 || !strings.HasPrefix(warns[0], "cluster: ") || !strings.Contains(warns[1], `PersistentVolumeClaim "data" already exists`) {
		t.Errorf("warnings = %q", warns)
	}
	if _, _, err := parseResults(strings.NewReader("{}")); err == nil {
		t.Error("parseResults accepted data that is not gzip")
	}
}

func TestVeleroErrorShowsVeleroReasonsAndWhatToDo(t *testing.T) {
	t.Parallel()
	e := &VeleroError{Kind: "Backup", Name: "phoenix-x", Cluster: "blue", Phase: "PartiallyFailed",
		Reasons: []string{"payments: pod volume backup failed"}, Hint: "fix it"}
	want := "velero backup phoenix-x on blue ended PartiallyFailed: payments: pod volume backup failed (fix it)"
	if e.Error() != want {
		t.Errorf("got %q, want %q", e.Error(), want)
	}
}

func TestHumanBytes(t *testing.T) {
	t.Parallel()
	for in, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1536: "1.5 KiB", 5 << 30: "5.0 GiB"} {
		if got := human(in); got != want {
			t.Errorf("human(%d) = %q, want %q", in, got, want)
		}
	}
}
