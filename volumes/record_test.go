package volumes

import (
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/phoenix-upgrade/phoenix/state"
)

func TestSaveResultRoundTripsPrivatelyAndMasksSignedURLs(t *testing.T) {
	t.Parallel()
	ws, err := state.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if got, err := LoadResult(ws); got != nil || err != nil {
		t.Fatalf("LoadResult with no record = %v, %v; want nil, nil", got, err)
	}
	start := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	r := &Result{
		Mode: ModeCSI, Stage: StageInitial, Migration: "20260501-120000.000001", Namespaces: []string{"payments"},
		VeleroNamespace: "velero", StorageLocation: "default", Backup: "phoenix-abcde", Restore: "phoenix-fghij",
		BackupPhase: "Completed", RestorePhase: "Completed", Claims: 1, ClaimNames: []string{"payments/data"},
		Items: 2, ItemsBackedUp: 2, ItemsRestored: 2, Volumes: 1, BytesDone: 10, BytesTotal: 10,
		Warnings: []string{"backup phoenix-abcde: fetch https://s3.example/bucket/x.gz?X-Amz-Signature=deadbeef&X-Amz-Credential=AKIA failed"},
		Started:  start, Finished: start.Add(time.Minute),
	}
	if err := SaveResult(ws, r); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(ResultPath(ws))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("record mode %v, want 0600", fi.Mode().Perm())
	}
	data, _ := os.ReadFile(ResultPath(ws))
	if strings.Contains(string(data), "deadbeef") || strings.Contains(string(data), "AKIA") {
		t.Errorf("record keeps a URL's signature:\n%s", data)
	}
	got, err := LoadResult(ws)
	if err != nil {
		t.Fatal(err)
	}
	want := *r
	want.Warnings = []string{"backup phoenix-abcde: fetch https://s3.example/bucket/x.gz?*** failed"}
	if !reflect.DeepEqual(got, &want) {
		t.Errorf("LoadResult = %+v\nwant %+v", got, &want)
	}
	if r.Warnings[0] == want.Warnings[0] {
		t.Error("SaveResult changed the caller's result")
	}
	if fd, err := LoadFinalDelta(ws); fd != nil || err != nil {
		t.Errorf("LoadFinalDelta = %v, %v; the final delta is kept apart from the move", fd, err)
	}
}

func TestLoadResultReportsACorruptRecord(t *testing.T) {
	t.Parallel()
	ws, err := state.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := state.WriteFileAtomic(ResultPath(ws), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadResult(ws); err == nil || !strings.Contains(err.Error(), "volume move record") {
		t.Errorf("LoadResult of a corrupt file = %v, want an error naming the record", err)
	}
	if err := SaveResult(ws, nil); err == nil {
		t.Error("SaveResult(nil) succeeded")
	}
}
