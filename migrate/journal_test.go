package migrate

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func ref(name string) Ref {
	return Ref{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "payments", Name: name}
}

func TestJournalKeepsTheLastRecordOfEachObject(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	j, err := CreateJournal(root, Meta{ID: "m1", Namespaces: []string{"payments"}}, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []Record{
		{Ref: ref("a"), Outcome: Failed, Reason: "webhook down"},
		{Ref: ref("b"), Outcome: Applied, Hash: "h2"},
		{Ref: ref("a"), Outcome: Applied, Hash: "h1", ResourceVersion: "7"},
	} {
		if err := j.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Close("done"); err != nil {
		t.Fatal(err)
	}
	id, err := LatestID(root)
	if err != nil || id != "m1" {
		t.Fatalf("LatestID = %q, %v; want m1", id, err)
	}
	meta, recs, err := ReadJournal(filepath.Join(root, "m1"))
	if err != nil {
		t.Fatal(err)
	}
	if meta.Status != "done" || meta.Finished.IsZero() {
		t.Errorf("meta = %+v, want status done and a finish time", meta)
	}
	if len(recs) != 2 {
		t.Fatalf("got %d records, want 2: %v", len(recs), recs)
	}
	if a := recs[ref("a").Key()]; a.Outcome != Applied || a.ResourceVersion != "7" {
		t.Errorf("record of a = %+v, want the later Applied one", a)
	}
}

func TestJournalSurvivesATornLastLineAndResumes(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	j, err := CreateJournal(root, Meta{ID: "m1", Namespaces: []string{"payments"}}, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Append(Record{Ref: ref("a"), Outcome: Applied, Hash: "h1"}); err != nil {
		t.Fatal(err)
	}
	// A process killed mid-write leaves half a line and never closes the journal.
	f, err := os.OpenFile(filepath.Join(root, "m1", journalFile), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(`{"key":"apps/Deployment/payments/b","outc`); err != nil {
		t.Fatal(err)
	}
	_ = f.Close()

	_, recs, err := ReadJournal(filepath.Join(root, "m1"))
	if err != nil {
		t.Fatalf("a torn last line must be ignored: %v", err)
	}
	if len(recs) != 1 || recs[ref("a").Key()].Outcome != Applied {
		t.Fatalf("records = %v, want only a", recs)
	}

	j2, recs, err := ResumeJournal(root, "m1")
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 {
		t.Fatalf("resume sees %d records, want 1", len(recs))
	}
	if err := j2.Append(Record{Ref: ref("b"), Outcome: Converted, Hash: "h2"}); err != nil {
		t.Fatal(err)
	}
	if err := j2.Close("done"); err != nil {
		t.Fatal(err)
	}
	_, recs, err = ReadJournal(filepath.Join(root, "m1"))
	if err != nil {
		t.Fatalf("after resume the journal must read cleanly: %v", err)
	}
	if len(recs) != 2 || recs[ref("b").Key()].Outcome != Converted {
		t.Errorf("records after resume = %v", recs)
	}
}

func TestJournalRejectsDamageBeforeTheEnd(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "m1")
	j, err := CreateJournal(filepath.Dir(dir), Meta{ID: "m1"}, false)
	if err != nil {
		t.Fatal(err)
	}
	_ = j.Close("done")
	body := `{"key":"x","ref":{"name":"x"},"outcome":"applied"}` + "\n" + "garbage\n" + `{"key":"y","ref":{"name":"y"},"outcome":"applied"}` + "\n"
	if err := os.WriteFile(filepath.Join(dir, journalFile), []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ReadJournal(dir); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("ReadJournal = %v, want an error naming line 2", err)
	}
	if _, err := LatestID(filepath.Dir(dir)); err == nil {
		t.Errorf("a journal created with latest=false must not become the latest migration")
	}
}

func TestNewIDSortsByTime(t *testing.T) {
	t.Parallel()
	a := NewID(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	b := NewID(time.Date(2026, 1, 2, 3, 4, 5, 1000, time.UTC))
	if !(a < b) {
		t.Errorf("NewID %q !< %q", a, b)
	}
}
