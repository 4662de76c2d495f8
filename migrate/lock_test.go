package migrate_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/phoenix-upgrade/phoenix/migrate"
	"github.com/phoenix-upgrade/phoenix/state"
)

// TestASecondMigrationOnTheWorkspaceRefusesAndLeavesTheJournalWhole: the first migrate
// is held inside discovery (blue answers only when released); a second migrate on the
// same workspace refuses at once naming the first one's pid, and the journal of the
// earlier migration is byte for byte what it was.
func TestASecondMigrationOnTheWorkspaceRefusesAndLeavesTheJournalWhole(t *testing.T) {
	release := make(chan struct{})
	var once sync.Once
	entered := make(chan struct{})
	blue := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		once.Do(func() { close(entered) })
		<-release
		http.Error(w, "stand-in blue: no API", http.StatusServiceUnavailable)
	}))
	defer blue.Close()

	root := filepath.Join(t.TempDir(), "migrations")
	j, err := migrate.CreateJournal(root, migrate.Meta{ID: "20260101-000000.000000", Namespaces: []string{"payments"}}, true)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := j.Append(migrate.Record{Ref: migrate.Ref{Version: "v1", Kind: "ConfigMap", Namespace: "payments", Name: fmt.Sprint("cm-", i)}, Outcome: migrate.Applied}); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Close("done"); err != nil {
		t.Fatal(err)
	}
	journal := filepath.Join(root, "20260101-000000.000000", "journal.jsonl")
	before, err := os.ReadFile(journal)
	if err != nil {
		t.Fatal(err)
	}

	opts := func() migrate.Options {
		return migrate.Options{Blue: &rest.Config{Host: blue.URL, Timeout: 30 * time.Second}, Green: &rest.Config{Host: blue.URL, Timeout: 30 * time.Second},
			Namespaces: []string{"payments"}, JournalRoot: root, Resume: true}
	}
	first := make(chan error, 1)
	go func() { _, err := migrate.Run(context.Background(), opts()); first <- err }()
	select {
	case <-entered:
	case <-time.After(30 * time.Second):
		t.Fatal("the first migration never reached blue")
	}
	_, err = migrate.Run(context.Background(), opts())
	if !errors.Is(err, state.ErrLocked) || !strings.Contains(err.Error(), fmt.Sprintf("another phoenix (pid %d) is running a migration", os.Getpid())) {
		t.Errorf("second migrate: %v, want a refusal naming pid %d", err, os.Getpid())
	}
	close(release)
	if err := <-first; err == nil || errors.Is(err, state.ErrLocked) {
		t.Errorf("first migrate: %v, want its own (discovery) failure", err)
	}
	after, err := os.ReadFile(journal)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Errorf("the journal changed:\nbefore %s\nafter  %s", before, after)
	}
	// With the first one gone, the lock is free again.
	if _, err := migrate.Run(context.Background(), opts()); errors.Is(err, state.ErrLocked) {
		t.Errorf("the lock outlived the migration: %v", err)
	}
}
