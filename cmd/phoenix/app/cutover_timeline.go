package app

import (
	"context"
	"sync"
	"time"

	"github.com/phoenix-upgrade/phoenix/cutover"
	"github.com/phoenix-upgrade/phoenix/cutover/haproxy"
	"github.com/phoenix-upgrade/phoenix/cutover/timeline"
	"github.com/phoenix-upgrade/phoenix/state"
)

// timelinePath is where `phoenix cutover` draws the timeline, next to its state file.
func timelinePath(ws *state.Workspace) string { return ws.Path("cutover", "timeline.svg") }

// cutoverTimeline samples the router's weights (and, behind HAProxy, the request and
// error rates from `show stat`) while a cutover runs, and draws them as an SVG.
type cutoverTimeline struct {
	rec    *timeline.Recorder
	cancel context.CancelFunc
	done   sync.WaitGroup
}

func startTimeline(ctx context.Context, router cutover.Router, every time.Duration) *cutoverTimeline {
	t := &cutoverTimeline{rec: timeline.New("phoenix cutover via " + router.Describe())}
	s := &timeline.Sampler{
		Recorder: t.rec,
		Every:    every,
		Weights: func(ctx context.Context) (int, int, error) {
			w, err := router.Weights(ctx)
			return w.Blue, w.Green, err
		},
	}
	if hp, ok := router.(*haproxy.Router); ok {
		var last timeline.Counts
		s.Counts = func() timeline.Counts {
			cctx, cancel := context.WithTimeout(ctx, time.Second)
			defer cancel()
			if c, err := hp.TrafficCounts(cctx); err == nil {
				last = c
			}
			return last
		}
	}
	sctx, cancel := context.WithCancel(ctx)
	t.cancel = cancel
	t.done.Add(1)
	go func() {
		defer t.done.Done()
		s.Run(sctx)
	}()
	return t
}

// mark labels a moment (a step set, a rollback).
func (t *cutoverTimeline) mark(label string) { t.rec.Mark(time.Now(), label) }

// finish stops sampling and writes the picture; it returns the path written.
func (t *cutoverTimeline) finish(ws *state.Workspace) (string, error) {
	t.cancel()
	t.done.Wait()
	path := timelinePath(ws)
	return path, t.rec.WriteFile(path)
}
