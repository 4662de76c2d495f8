package timeline

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"sync"
	"time"

	"github.com/phoenix-upgrade/phoenix/state"
)

// Sample is the state of traffic at one moment.
type Sample struct {
	Time time.Time `json:"time"`
	// BlueWeight and GreenWeight are the router's weights in percent; both -1 when they
	// could not be read.
	BlueWeight  int `json:"blueWeight"`
	GreenWeight int `json:"greenWeight"`
	// RequestRate is requests per second since the previous sample.
	RequestRate float64 `json:"requestRate"`
	// ErrorRate is the share of those requests that failed, 0 to 1.
	ErrorRate float64 `json:"errorRate"`
	// GreenServed is the share of answered requests green answered, 0 to 1; NaN when
	// nothing was answered or the source cannot tell.
	GreenServed float64 `json:"-"`
}

// Mark is a labelled moment: a step applied, a rollback, a verify.
type Mark struct {
	Time  time.Time `json:"time"`
	Label string    `json:"label"`
}

// Recorder keeps samples and marks; it is safe for concurrent use.
type Recorder struct {
	// Title is drawn at the top of the picture.
	Title string

	mu      sync.Mutex
	samples []Sample
	marks   []Mark
}

// New returns an empty recorder.
func New(title string) *Recorder { return &Recorder{Title: title} }

// Add appends a sample.
func (r *Recorder) Add(s Sample) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.samples = append(r.samples, s)
}

// Mark notes a labelled moment (now when at is zero).
func (r *Recorder) Mark(at time.Time, label string) {
	if at.IsZero() {
		at = time.Now()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.marks = append(r.marks, Mark{Time: at, Label: label})
}

// Samples returns a copy of the samples so far.
func (r *Recorder) Samples() []Sample {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Sample(nil), r.samples...)
}

// Marks returns a copy of the marks so far.
func (r *Recorder) Marks() []Mark {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Mark(nil), r.marks...)
}

// WriteSVG draws the timeline.
func (r *Recorder) WriteSVG(w io.Writer) error {
	return Render(w, r.Title, r.Samples(), r.Marks())
}

// WriteFile draws the timeline into path (replaced atomically, mode 0644).
func (r *Recorder) WriteFile(path string) error {
	var b bytes.Buffer
	if err := r.WriteSVG(&b); err != nil {
		return err
	}
	if err := state.WriteFileAtomic(path, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("writing timeline %s: %w", path, err)
	}
	return nil
}

// Counts are cumulative request counters, as a load generator or a load balancer's
// statistics keep them.
type Counts struct {
	// Requests sent (answered or failed), Failed among them, and Green: answered by green.
	Requests, Failed, Green uint64
	// GreenKnown is false when the source cannot tell which side answered.
	GreenKnown bool
}

// Sampler polls weights and counters every Every and adds a Sample to Recorder.
type Sampler struct {
	Recorder *Recorder
	Every    time.Duration
	// Weights returns the router's weights in percent (a cutover.Router's Weights).
	Weights func(ctx context.Context) (blue, green int, err error)
	// Counts returns the cumulative counters; nil records rates of zero.
	Counts func() Counts
}

// Run samples until ctx is done. With Counts, the first reading only primes the
// counters: the first sample is recorded one interval later, with rates.
func (s *Sampler) Run(ctx context.Context) {
	every := s.Every
	if every <= 0 {
		every = 250 * time.Millisecond
	}
	t := time.NewTicker(every)
	defer t.Stop()
	var prev Counts
	var prevAt time.Time
	for {
		now := time.Now()
		smp := Sample{Time: now, BlueWeight: -1, GreenWeight: -1, GreenServed: math.NaN()}
		if s.Weights != nil {
			wctx, cancel := context.WithTimeout(ctx, every)
			if b, g, err := s.Weights(wctx); err == nil {
				smp.BlueWeight, smp.GreenWeight = b, g
			}
			cancel()
		}
		primed := true
		if s.Counts != nil {
			c := s.Counts()
			if primed = !prevAt.IsZero(); primed {
				smp.RequestRate, smp.ErrorRate, smp.GreenServed = rates(prev, c, now.Sub(prevAt))
			}
			prev, prevAt = c, now
		}
		if ctx.Err() != nil {
			return
		}
		if primed {
			s.Recorder.Add(smp)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// rates turns two readings of cumulative counters into per-interval rates.
func rates(a, b Counts, d time.Duration) (reqRate, errRate, green float64) {
	green = math.NaN()
	if b.Requests < a.Requests || d <= 0 {
		return 0, 0, green // counters were reset
	}
	n := float64(b.Requests - a.Requests)
	reqRate = n / d.Seconds()
	if n > 0 {
		errRate = float64(b.Failed-a.Failed) / n
	}
	if ok := n - float64(b.Failed-a.Failed); b.GreenKnown && ok > 0 {
		green = float64(b.Green-a.Green) / ok
	}
	return reqRate, errRate, green
}
