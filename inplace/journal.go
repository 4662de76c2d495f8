package inplace

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/phoenix-upgrade/phoenix/state"
)

// Step statuses in the journal.
const (
	StatusDone   = "done"
	StatusFailed = "failed"
)

// maxJournalOutput bounds the output kept per step (its tail).
const maxJournalOutput = 16 << 10

// Journal records an upgrade run step by step so that --resume continues where it
// stopped. It lives in the workspace under upgrades/<name>/journal.json.
type Journal struct {
	Name        string       `json:"name"`
	From        string       `json:"from"`
	To          string       `json:"to"`
	Fingerprint string       `json:"fingerprint"`
	Started     time.Time    `json:"started"`
	Updated     time.Time    `json:"updated"`
	Finished    bool         `json:"finished"`
	Steps       []StepRecord `json:"steps"`

	path string
}

// StepRecord is one step's outcome. Output is redacted and cut to its tail.
type StepRecord struct {
	ID       string    `json:"id"`
	Host     string    `json:"host,omitempty"`
	Command  string    `json:"command,omitempty"`
	Status   string    `json:"status"`
	Attempts int       `json:"attempts"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	ExitCode int       `json:"exitCode,omitempty"`
	Output   string    `json:"output,omitempty"`
	Error    string    `json:"error,omitempty"`
}

// JournalPath is where the journal of the upgrade named name lives.
func JournalPath(ws *state.Workspace, name string) string {
	return ws.Path("upgrades", name, "journal.json")
}

// LoadJournal reads the journal at path; a missing journal is an error satisfying
// os.IsNotExist.
func LoadJournal(path string) (*Journal, error) {
	var j Journal
	if err := state.ReadJSON(path, &j); err != nil {
		return nil, err
	}
	j.path = path
	return &j, nil
}

// NewJournal starts an empty journal at path (not written until the first step).
func NewJournal(path, name, from, to, fingerprint string) *Journal {
	now := time.Now().UTC()
	return &Journal{Name: name, From: from, To: to, Fingerprint: fingerprint, Started: now, Updated: now, path: path}
}

// Path is the journal's file.
func (j *Journal) Path() string { return j.path }

// Dir is the directory of the upgrade (snapshots are kept there).
func (j *Journal) Dir() string { return filepath.Dir(j.path) }

// Done reports whether the step id completed.
func (j *Journal) Done(id string) bool {
	r := j.find(id)
	return r != nil && r.Status == StatusDone
}

// Failed returns the record of the failed step, if any.
func (j *Journal) Failed() *StepRecord {
	for i := range j.Steps {
		if j.Steps[i].Status == StatusFailed {
			return &j.Steps[i]
		}
	}
	return nil
}

func (j *Journal) find(id string) *StepRecord {
	for i := range j.Steps {
		if j.Steps[i].ID == id {
			return &j.Steps[i]
		}
	}
	return nil
}

// Record stores a step's outcome and writes the journal atomically.
func (j *Journal) Record(r StepRecord) error {
	r.Output = Redact(r.Output)
	if len(r.Output) > maxJournalOutput {
		r.Output = "...\n" + r.Output[len(r.Output)-maxJournalOutput:]
	}
	r.Error = Redact(r.Error)
	r.Command = Redact(r.Command)
	if old := j.find(r.ID); old != nil {
		r.Attempts = old.Attempts + 1
		*old = r
	} else {
		r.Attempts = 1
		j.Steps = append(j.Steps, r)
	}
	return j.save()
}

// Finish marks the run complete.
func (j *Journal) Finish() error {
	j.Finished = true
	return j.save()
}

func (j *Journal) save() error {
	j.Updated = time.Now().UTC()
	if err := state.WriteJSONAtomic(j.path, j, 0o600); err != nil {
		return fmt.Errorf("writing the upgrade journal: %w", err)
	}
	return nil
}

// Archive moves a finished journal aside so that a new run starts clean.
func (j *Journal) Archive() error {
	dst := fmt.Sprintf("%s.%s", j.path, j.Started.Format("20060102T150405Z"))
	if err := os.Rename(j.path, dst); err != nil {
		return fmt.Errorf("archiving the finished journal %s: %w", j.path, err)
	}
	return nil
}
