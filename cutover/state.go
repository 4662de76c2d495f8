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
	PhasePaused    = "Paused"
	PhaseCompleted = "Completed"
	// PhaseRollingBack: a rollback started (a running cutover stops at its next step) and
	// has not finished: it was interrupted, or blue was not ready and traffic was kept
	// where it serves. `phoenix rollback` finishes it; `phoenix cutover` refuses until then.
	PhaseRollingBack = "RollingBack"
	PhaseRolledBack  = "RolledBack"
)

// Event kinds in a cutover's history.
const (
	EventStart  = "start"
	EventResume = "resume"
	EventForce  = "force"
	// EventStepBegin is journaled before a step's weights are sent to the router, EventStep
	// after they were read back: a begin without its step is a change that may or may
	// not have reached the router (the router's weights say which).
	EventStepBegin = "step-begin"
	EventStep      = "step"
	EventGate      = "gate"
	EventPause     = "pause"
	EventJobsBegin = "jobs-begin"
	EventJobs      = "jobs"
	EventComplete  = "complete"
	// EventRollbackBegin marks the journal RollingBack before anything moves; EventRollback
	// records traffic back at blue; EventBlueReady how long blue took to be ready.
	EventRollbackBegin = "rollback-begin"
	EventBlueReady     = "blue-ready"
	EventRollback      = "rollback"
	// EventNoop is a rerun of a completed cutover, which changes nothing.
	EventNoop = "noop"
	// EventDrain is blue's in-flight requests drained after the last step (final delta).
	EventDrain = "drain"
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
	// Pending is the side effect under way: set (journaled) before it starts, cleared
	// after its outcome is journaled. After a crash it says what may be half done.
	Pending *Pending `json:"pending,omitempty"`
	// Migration and Namespaces are the migration this cutover follows (the latest when it
	// started) and its namespaces; rollback checks blue's workloads there.
	Migration  string   `json:"migration,omitempty"`
	Namespaces []string `json:"namespaces,omitempty"`
	// Forced lists the preflight findings --force overrode, for the record.
	Forced []string `json:"forced,omitempty"`
	// Workloads are the CronJobs and Jobs the last step changed, or is about to change
	// (journaled before the first patch); rollback reverses them, which is a no-op for a
	// change that was not made.
	Workloads []WorkloadChange `json:"workloads,omitempty"`
	// FinalDelta is the volume move before the last step (--final-delta), if any.
	FinalDelta *FinalDeltaRecord `json:"finalDelta,omitempty"`
	Reason     string            `json:"reason,omitempty"`
	Started    time.Time         `json:"started"`
	Updated    time.Time         `json:"updated"`
	History    []Event           `json:"history"`
}

// Pending side effects.
const (
	PendingWeights    = "weights"
	PendingJobs       = "jobs"
	PendingFinalDelta = "final-delta"
	PendingRollback   = "rollback"
)

// Pending is a side effect journaled before it starts.
type Pending struct {
	Kind string `json:"kind"`
	// Requested are the weights being set (weights, rollback).
	Requested *Weights  `json:"requested,omitempty"`
	Since     time.Time `json:"since"`
}

// since is when the pending side effect began, or def when none is pending.
func (p *Pending) since(def time.Time) time.Time {
	if p == nil {
		return def
	}
	return p.Since
}

func (s *State) begin(kind string, w *Weights) {
	s.Pending = &Pending{Kind: kind, Requested: w, Since: time.Now().UTC()}
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

// withJournal runs fn under the journal lock with the current state (nil when there is
// none); fn may call save, any number of times, to write the state before and after its
// side effects (a write-ahead journal). Nothing is written unless fn saves. fn must not
// call updateState or withJournal: the lock is not reentrant.
func withJournal(ws *state.Workspace, fn func(s *State, save func() error) error) (*State, error) {
	unlock, err := lockFile(ws.Path("cutover", "state.lock"), true)
	if err != nil {
		return nil, err
	}
	defer unlock()
	cur, err := LoadState(ws)
	if err != nil {
		return nil, err
	}
	err = fn(cur, func() error {
		cur.Updated = time.Now().UTC()
		return state.WriteJSONAtomic(StatePath(ws), cur, 0o600)
	})
	return cur, err
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
