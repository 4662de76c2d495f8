package state

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLockFileRefusesASecondHolderAndNamesThePid(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "upgrades", ".lock")
	l, err := LockFile(path, "an upgrade")
	if err != nil {
		t.Fatal(err)
	}
	_, err = LockFile(path, "an upgrade")
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), fmt.Sprintf("another phoenix (pid %d) is running an upgrade", os.Getpid())) {
		t.Fatalf("second lock: %v", err)
	}
	l.Unlock()
	l2, err := LockFile(path, "an upgrade")
	if err != nil {
		t.Fatalf("after unlock: %v", err)
	}
	l2.Unlock()
}
