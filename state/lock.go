package state

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// ErrLocked is wrapped by LockFile's error when another process holds the lock.
var ErrLocked = errors.New("locked")

// Lock is an exclusive flock on a file; the kernel drops it when the process dies, so a
// crashed phoenix never leaves a stale lock.
type Lock struct {
	f *os.File
}

// LockFile takes the lock at path without waiting, for the work named what (e.g.
// "a migration"). The holder's pid is written in the file, so the refusal can name it:
// "another phoenix (pid N) is running a migration in DIR".
func LockFile(path, what string) (*Lock, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("creating %s: %w", filepath.Dir(path), err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			pid := "unknown"
			if data, rerr := os.ReadFile(path); rerr == nil {
				if n, perr := strconv.Atoi(strings.TrimSpace(string(data))); perr == nil {
					pid = strconv.Itoa(n)
				}
			}
			return nil, fmt.Errorf("another phoenix (pid %s) is running %s in %s: wait for it to finish, or stop it (the lock is %s): %w",
				pid, what, filepath.Dir(path), path, ErrLocked)
		}
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &Lock{f: f}, nil
}

// Unlock releases the lock.
func (l *Lock) Unlock() {
	if l == nil || l.f == nil {
		return
	}
	_ = syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	_ = l.f.Close()
	l.f = nil
}
