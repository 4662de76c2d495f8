package migrate

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/phoenix-upgrade/phoenix/state"
)

// Journal file names inside a migration directory.
const (
	metaFile    = "migration.json"
	journalFile = "journal.jsonl"
	latestFile  = "latest"
)

// Record is one line of the journal: the latest outcome of one object.
type Record struct {
	Key     string  `json:"key"`
	Ref     Ref     `json:"ref"`
	Outcome Outcome `json:"outcome"`
	Reason  string  `json:"reason,omitempty"`
	From    string  `json:"from,omitempty"`
	To      string  `json:"to,omitempty"`
	Level   int     `json:"level"`
	// Hash is the sha256 of the object phoenix applied; ResourceVersion is green's after it.
	Hash            string `json:"hash,omitempty"`
	ResourceVersion string `json:"resourceVersion,omitempty"`
	// Stamp identifies phoenix's apply on green: the time and fields of the phoenix
	// managedFields entry, which a no-op apply leaves alone (status updates by green's
	// controllers change the resourceVersion, not this).
	Stamp string    `json:"stamp,omitempty"`
	Notes []string  `json:"notes,omitempty"`
	Time  time.Time `json:"time"`
}

// Meta describes a migration.
type Meta struct {
	ID         string    `json:"id"`
	Blue       string    `json:"blue,omitempty"`
	Green      string    `json:"green,omitempty"`
	Namespaces []string  `json:"namespaces"`
	Selector   string    `json:"selector,omitempty"`
	DryRun     DryRun    `json:"dryRun"`
	Artifacts  string    `json:"artifacts"`
	Started    time.Time `json:"started"`
	Finished   time.Time `json:"finished,omitzero"`
	// Status is running, done or failed.
	Status string `json:"status"`
	// BlueID and GreenID identify the clusters themselves (clusterIdentity), so that a
	// resume refuses other clusters even under the same names.
	BlueID  string `json:"blueID,omitempty"`
	GreenID string `json:"greenID,omitempty"`
}

// Journal is the append-only record of one migration. Each Append is one write(2) of a
// whole line to a file opened O_APPEND, so a process killed at any point leaves every
// earlier record intact and at most one torn last line, which ReadJournal ignores. The
// file is fsynced at most every SyncInterval and on Close, which bounds what a machine
// crash (not a process crash) can lose.
type Journal struct {
	Dir string

	mu       sync.Mutex
	f        *os.File
	meta     Meta
	lastSync time.Time
}

// SyncInterval bounds how often the journal is fsynced.
const SyncInterval = 200 * time.Millisecond

// NewID returns a sortable migration id.
func NewID(now time.Time) string {
	return now.UTC().Format("20060102-150405.000000")
}

// CreateJournal starts a new migration directory root/<meta.ID>; when latest is true it
// also becomes the migration verify and resume find.
func CreateJournal(root string, meta Meta, latest bool) (*Journal, error) {
	dir := filepath.Join(root, meta.ID)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating journal %s: %w", dir, err)
	}
	if meta.Status == "" {
		meta.Status = "running"
	}
	if err := state.WriteJSONAtomic(filepath.Join(dir, metaFile), meta, 0o600); err != nil {
		return nil, err
	}
	if latest {
		if err := state.WriteFileAtomic(filepath.Join(root, latestFile), []byte(meta.ID+"\n"), 0o600); err != nil {
			return nil, err
		}
	}
	return openAppend(dir, meta)
}

func openAppend(dir string, meta Meta) (*Journal, error) {
	path := filepath.Join(dir, journalFile)
	if err := dropTornLine(path); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening journal: %w", err)
	}
	return &Journal{Dir: dir, f: f, meta: meta, lastSync: time.Now()}, nil
}

// dropTornLine cuts a torn last line left by a killed run, so the next record starts on a
// line of its own.
func dropTornLine(path string) error {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading journal: %w", err)
	}
	if len(data) == 0 || data[len(data)-1] == '\n' {
		return nil
	}
	if err := os.Truncate(path, int64(bytes.LastIndexByte(data, '\n')+1)); err != nil {
		return fmt.Errorf("repairing journal %s: %w", path, err)
	}
	return nil
}

// LatestID returns the id of the latest migration in root.
func LatestID(root string) (string, error) {
	data, err := os.ReadFile(filepath.Join(root, latestFile))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("no migration recorded in %s: run `phoenix migrate` first", root)
		}
		return "", err
	}
	return strings.TrimSpace(string(data)), nil
}

// ResumeJournal reopens migration id in root for appending, with its records so far.
func ResumeJournal(root, id string) (*Journal, map[string]Record, error) {
	dir := filepath.Join(root, id)
	meta, recs, err := ReadJournal(dir)
	if err != nil {
		return nil, nil, err
	}
	meta.Status = "running"
	if err := state.WriteJSONAtomic(filepath.Join(dir, metaFile), meta, 0o600); err != nil {
		return nil, nil, err
	}
	j, err := openAppend(dir, meta)
	return j, recs, err
}

// ReadJournal reads a migration directory: its meta and the last record of each object.
// A torn last line (a run killed mid-write) is ignored; a torn line elsewhere is an error.
func ReadJournal(dir string) (Meta, map[string]Record, error) {
	var meta Meta
	if err := state.ReadJSON(filepath.Join(dir, metaFile), &meta); err != nil {
		return meta, nil, fmt.Errorf("reading migration %s: %w", dir, err)
	}
	data, err := os.ReadFile(filepath.Join(dir, journalFile))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return meta, nil, fmt.Errorf("reading journal: %w", err)
	}
	recs := map[string]Record{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 16*1024*1024)
	line := 0
	var bad error
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		if bad != nil {
			return meta, nil, bad // the torn line was not the last one
		}
		var r Record
		if err := json.Unmarshal(b, &r); err != nil || r.Key == "" {
			bad = fmt.Errorf("journal %s line %d is damaged (move the file aside and rerun without --resume): %v", dir, line, err)
			continue
		}
		recs[r.Key] = r
	}
	return meta, recs, sc.Err()
}

// Append records one object's outcome.
func (j *Journal) Append(r Record) error {
	if r.Time.IsZero() {
		r.Time = time.Now().UTC()
	}
	r.Key = r.Ref.Key()
	line, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encoding journal record: %w", err)
	}
	line = append(line, '\n')
	j.mu.Lock()
	_, err = j.f.Write(line)
	sync := err == nil && time.Since(j.lastSync) >= SyncInterval
	if sync {
		j.lastSync = time.Now()
	}
	j.mu.Unlock()
	if err != nil {
		return fmt.Errorf("writing journal: %w", err)
	}
	if sync { // outside the lock: the other workers keep appending meanwhile
		if err := j.f.Sync(); err != nil {
			return fmt.Errorf("syncing journal: %w", err)
		}
	}
	return nil
}

// Meta returns the migration's description.
func (j *Journal) Meta() Meta { return j.meta }

// Close syncs the journal and records the final status (done or failed).
func (j *Journal) Close(status string) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	err := j.f.Sync()
	if cerr := j.f.Close(); err == nil {
		err = cerr
	}
	j.meta.Status = status
	j.meta.Finished = time.Now().UTC()
	if werr := state.WriteJSONAtomic(filepath.Join(j.Dir, metaFile), j.meta, 0o600); err == nil {
		err = werr
	}
	return err
}
