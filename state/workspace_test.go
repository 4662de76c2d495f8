package state

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestWriteFileAtomicReplacesContentAndKeepsMode(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "sub", "f")
	if err := WriteFileAtomic(path, []byte("one"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileAtomic(path, []byte("two"), 0o600); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil || string(data) != "two" {
		t.Fatalf("content %q, %v; want two", data, err)
	}
	st, _ := os.Stat(path)
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode %o, want 0600", st.Mode().Perm())
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}
}

func TestWriteFileAtomicLeavesOldContentWhenRenameFails(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// A directory at the target makes the final rename fail after the temp file is
	// written: the target must be untouched and no temp file left.
	target := filepath.Join(dir, "target")
	if err := os.MkdirAll(filepath.Join(target, "keep"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileAtomic(target, []byte("new"), 0o600); err == nil {
		t.Fatal("expected an error when the target is a non-empty directory")
	}
	if _, err := os.Stat(filepath.Join(target, "keep")); err != nil {
		t.Errorf("old content lost: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary file left behind: %s", e.Name())
		}
	}
}

func TestWorkspaceStoresClustersWithPrivateKubeconfig(t *testing.T) {
	t.Parallel()
	ws, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c := Cluster{Name: "green", Role: RoleGreen, Provider: "local", Version: "v1.37.2", Managed: true, Created: time.Unix(0, 0).UTC()}
	if err := ws.SaveCluster(c, []byte("apiVersion: v1\nkind: Config\n")); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(ws.KubeconfigPath("green"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("kubeconfig mode %o, want 0600", st.Mode().Perm())
	}
	got, err := ws.Cluster("green")
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != "v1.37.2" || got.Role != RoleGreen || !got.Managed {
		t.Errorf("read back %+v", got)
	}
	if _, err := ws.Cluster("blue"); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing cluster error %v, want ErrNotFound", err)
	}
	g, err := ws.ClusterByRole(RoleGreen)
	if err != nil || g.Name != "green" {
		t.Errorf("ClusterByRole(green) = %v, %v", g.Name, err)
	}
	if _, err := ws.ClusterByRole(RoleBlue); !errors.Is(err, ErrNotFound) {
		t.Errorf("ClusterByRole(blue) error %v, want ErrNotFound", err)
	}
	if err := ws.RemoveCluster("green"); err != nil {
		t.Fatal(err)
	}
	if list, _ := ws.Clusters(); len(list) != 0 {
		t.Errorf("clusters after remove: %v", list)
	}
}

func TestValidateNameRejectsWhatKubeconfigsAndPathsCannotHold(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"green", true}, {"blue-1", true}, {"", false}, {"Green", false}, {"../x", false},
		{"-a", false}, {strings.Repeat("a", 64), false},
	} {
		if err := ValidateName(tc.name); (err == nil) != tc.ok {
			t.Errorf("ValidateName(%q) = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}

func TestReadJSONReportsCorruptFiles(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "x.json")
	if err := os.WriteFile(path, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	err := ReadJSON(path, &v)
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("error %v should name the file", err)
	}
}
