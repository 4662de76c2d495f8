package inplace_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/phoenix-upgrade/phoenix/inplace"
	"github.com/phoenix-upgrade/phoenix/kube"
	"github.com/phoenix-upgrade/phoenix/state"
)

func TestASecondUpgradeOnTheWorkspaceRefuses(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"id", "kh"} {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	inv, err := inplace.ParseInventory([]byte("name: prod\nuser: ops\nkey: id\nknownHosts: kh\nhosts:\n- {name: cp-1, address: 192.0.2.1, role: control-plane}\n"), dir, "test")
	if err != nil {
		t.Fatal(err)
	}
	ws := workspace(t)
	held, err := state.LockFile(ws.Path("upgrades", ".lock"), "an upgrade")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Unlock()
	_, err = inplace.Upgrade(context.Background(), inplace.Options{Workspace: ws, Inventory: inv, To: kube.MustParseVersion("v1.28.15"), From: kube.MustParseVersion("v1.27.16")})
	if !errors.Is(err, state.ErrLocked) {
		t.Fatalf("upgrade while another holds the lock: %v", err)
	}
	if _, err := os.Stat(inplace.JournalPath(ws, "prod")); !os.IsNotExist(err) {
		t.Errorf("a journal was written: %v", err)
	}
}
