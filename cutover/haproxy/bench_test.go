package haproxy_test

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/phoenix-upgrade/phoenix/cutover"
	"github.com/phoenix-upgrade/phoenix/state"
)

// BenchmarkRollbackToAllBlue measures the time from the cutover.Rollback call (router
// change plus journal write) until 100% blue is observed: the first of 20 consecutive
// requests through haproxy answered by blue. Each iteration starts at 50/50.
func BenchmarkRollbackToAllBlue(b *testing.B) {
	in, r := startPair(b)
	ws, err := state.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	must(b, state.WriteJSONAtomic(cutover.StatePath(ws), cutover.State{Phase: cutover.PhaseRunning}, 0o600))
	client := &http.Client{Transport: &http.Transport{}}
	ask := func() string {
		resp, err := client.Get(in.URL)
		if err != nil {
			b.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return string(body)
	}
	var callTotal, observedTotal time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		must(b, r.SetWeights(ctx, 50, 50))
		b.StartTimer()
		start := time.Now()
		if _, err := cutover.Rollback(ctx, cutover.RollbackOptions{Workspace: ws, Router: r}); err != nil {
			b.Fatal(err)
		}
		callTotal += time.Since(start)
		var firstBlue time.Time
		for run := 0; run < 20; {
			if ask() == "blue" {
				if run == 0 {
					firstBlue = time.Now()
				}
				run++
			} else {
				run = 0
			}
		}
		observedTotal += firstBlue.Sub(start)
	}
	b.ReportMetric(float64(callTotal.Microseconds())/float64(b.N)/1000, "call-ms/op")
	b.ReportMetric(float64(observedTotal.Microseconds())/float64(b.N)/1000, "to-all-blue-ms/op")
}
