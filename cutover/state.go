package cutover

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/phoenix-upgrade/phoenix/state"
)

// Phases of a cutover.
const (
	// PhaseRunning: a cutover is under way, or was interrupted (rerun to resume).
	PhaseRunning = "Running"
	// PhasePaused: inconclusive gates held the weights; rerun to resume.
	PhasePaused     = "Paused"
	PhaseCompleted  = "Completed"
	PhaseRolledBack = "RolledBack"
)

// Event kinds in a cutover's history.
const (
	EventStart    = "start"
	EventResume   = "resume"
	EventForce    = "force"
	EventStep     = "step"
	EventGate     = "gate"
	EventPause    = "pause"
	EventJobs     = "jobs"
	EventComplete = "complete"
	EventRollback = "rollback"
)

// Event is one line of a cutover's history.
type Event struct {
	Time time.Time `json:"time"`
	Kind string    `json:"kind"`
	// Requested and Effective are the weights asked for and read back (step, rollback).
	Requested *Weights `json:"requested,omitempty"`
	Effective *Weights `json:"effective,omitempty"`
	Detail    string   `json:"detail,omitempty"`
}

// State is the cutover journal, kept in cutover/state.json in the workspace.
type State struct {
	Phase  string       `json:"phase"`
	Router RouterConfig `json:"router"`
	Plan   Plan         `json:"plan"`
	// Weights are the weights last read back from the router.
	Weights Weights `json:"weights"`
	// Forced lists the preflight findings --force overrode, for the record.
	Forced []string `json:"forced,omitempty"`
	// Workloads are the CronJobs and Jobs the last step changed; rollback reverses them.
	Workloads []WorkloadChange `json:"workloads,omitempty"`
	// FinalDelta is the volume move before the last step (--final-delta), if any.
	FinalDelta *FinalDeltaRecord `json:"finalDelta,omitempty"`
	Reason     string            `json:"reason,omitempty"`
	Started    time.Time         `json:"started"`
	Updated    time.Time         `json:"updated"`
	History    []Event           `json:"history"`
}

func (s *State) record(e Event) {
	if e.Time.IsZero() {
		e.Time = time.Now().UTC()
	}
	s.History = append(s.History, e)
	s.Updated = e.Time
}

// StatePath is where the journal lives.
func StatePath(ws *state.Workspace) string { return ws.Path("cutover", "state.json") }

// LoadState reads the journal; it returns nil, nil when no cutover was ever started.
func LoadState(ws *state.Workspace) (*State, error) {
	var s State
	if err := state.ReadJSON(StatePath(ws), &s); err != nil {
		if os.IsNotExist(err) {
			return nil, nil
		}
		return nil, err
	}
	return &s, nil
}

// updateState reads the journal, lets fn change it, and writes it back, under a lock
// shared with every other phoenix process, so that a rollback from another shell is
// never overwritten by a running cutover. fn sees nil when there is no journal yet.
func updateState(ws *state.Workspace, fn func(*State) (*State, error)) (*State, error) {
	unlock, err := lockFile(ws.Path("cutover", "state.lock"), true)
	if err != nil {
		return nil, err
	}
	defer unlock()
	cur, err := LoadState(ws)
	if err != nil {
		return nil, err
	}
	next, err := fn(cur)
	if err != nil || next == nil {
		return cur, err
	}
	if err := state.WriteJSONAtomic(StatePath(ws), next, 0o600); err != nil {
		return nil, err
	}
	return next, nil
}

// errLocked is returned by lockFile when another process holds the lock and wait is false.
var errLocked = errors.New("locked")

// lockFile takes an exclusive flock on path (created when missing). The kernel drops
// it when the process dies, so a crashed cutover never leaves a stale lock.
func lockFile(path string, wait bool) (func(), error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("creating %s: %w", filepath.Dir(path), err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening lock %s: %w", path, err)
	}
	how := syscall.LOCK_EX
	if !wait {
		how |= syscall.LOCK_NB
	}
	if err := syscall.Flock(int(f.Fd()), how); err != nil {
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, errLocked
		}
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	return func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN); _ = f.Close() }, nil
}

// VerifyRecord is the outcome of the latest `phoenix verify`, which package verify
// writes to verify/latest.json in the workspace. cutover reads only these fields:
//
//	{"passed": true, "time": "2026-05-01T12:00:00Z", "summary": "1204 objects at parity"}
type VerifyRecord struct {
	Passed  bool      `json:"passed"`
	Time    time.Time `json:"time"`
	Summary string    `json:"summary,omitempty"`
}

// VerifyPath is where the latest verify record lives.
func VerifyPath(ws *state.Workspace) string { return ws.Path("verify", "latest.json") }

// LoadVerify reads the latest verify record; nil, nil when verify never ran.
func LoadVerify(ws *state.Workspace) (*VerifyRecord, error) {
	var v VerifyRecord
	if err := state.ReadJSON(VerifyPath(ws), &v); err != nil {
		if os.IsNotExist(err) {
			return nil, nil
		}
		return nil, err
	}
	return &v, nil
}

// Migrations lists the entries under migrations/ in the workspace (migrate's journals),
// newest first; a missing directory means no migration was recorded.
func Migrations(ws *state.Workspace) ([]MigrationEntry, error) {
	entries, err := os.ReadDir(ws.Path("migrations"))
	if err != nil {
		if os.IsNotExist(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("reading migrations: %w", err)
	}
	var out []MigrationEntry
	for _, e := range entries {
		// A migration is a directory; files beside them (migrate's "latest" pointer) are not.
		if !e.IsDir() || (len(e.Name()) > 0 && e.Name()[0] == '.') {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		out = append(out, MigrationEntry{Name: e.Name(), Modified: info.ModTime().UTC()})
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].Modified.After(out[j-1].Modified); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out, nil
}

// MigrationEntry is one journal under migrations/, known only by name and time.
type MigrationEntry struct {
	Name     string    `json:"name"`
	Modified time.Time `json:"modified"`
}

// Preflight returns the reasons a cutover should not start: no migration recorded, no
// verify record, or a failed verify. All of them may be overridden with --force, which
// records them in the journal.
func Preflight(ws *state.Workspace) ([]string, error) {
	var findings []string
	migs, err := Migrations(ws)
	if err != nil {
		return nil, err
	}
	if len(migs) == 0 {
		findings = append(findings, fmt.Sprintf("no migration recorded in %s: run `phoenix migrate` first", ws.Path("migrations")))
	}
	v, err := LoadVerify(ws)
	if err != nil {
		return nil, err
	}
	switch {
	case v == nil:
		findings = append(findings, "verify has not run: run `phoenix verify` and reach parity first")
	case !v.Passed:
		findings = append(findings, fmt.Sprintf("the latest verify (%s) did not pass: fix the differences and run `phoenix verify` again", v.Time.Format(time.RFC3339)))
	}
	return findings, nil
}
