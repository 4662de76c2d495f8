package timeline

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// cutoverSamples is a cutover 0 -> 10 -> 50 -> 100 and a rollback, one sample a second.
func cutoverSamples(t0 time.Time) []Sample {
	greens := []int{0, 0, 10, 10, 50, 50, 100, 100, 0, 0}
	var out []Sample
	for i, g := range greens {
		served := math.NaN()
		if i > 0 {
			served = float64(g) / 100
		}
		out = append(out, Sample{Time: t0.Add(time.Duration(i) * time.Second), BlueWeight: 100 - g, GreenWeight: g,
			RequestRate: 400 + float64(i), ErrorRate: 0, GreenServed: served})
	}
	out[3].BlueWeight, out[3].GreenWeight = -1, -1 // the router did not answer once
	out[5].ErrorRate = 0.02
	return out
}

type svgDoc struct {
	XMLName xml.Name `xml:"svg"`
	Paths   []struct {
		ID     string `xml:"id,attr"`
		Series string `xml:"data-series,attr"`
		D      string `xml:"d,attr"`
	} `xml:"path"`
	Texts []string `xml:"text"`
	Marks []struct {
		Text string `xml:"text"`
	} `xml:"g"`
}

// wellFormed walks every token with a strict decoder: any malformed XML fails.
func wellFormed(t *testing.T, data []byte) svgDoc {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.Strict = true
	for {
		_, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v\n%s", err, data)
		}
	}
	var doc svgDoc
	if err := xml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("unmarshal: %v", err)
	}
	if doc.XMLName.Space != "http://www.w3.org/2000/svg" {
		t.Errorf("root element %v, want svg in the SVG namespace", doc.XMLName)
	}
	return doc
}

func TestRenderDrawsEverySeriesAndMarkAsWellFormedSVG(t *testing.T) {
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	r := New(`payments cutover <blue> & "green"`)
	for _, s := range cutoverSamples(t0) {
		r.Add(s)
	}
	r.Mark(t0.Add(2*time.Second), "step 10%")
	r.Mark(t0.Add(8*time.Second), "rollback <manual> & fast")
	var b bytes.Buffer
	if err := r.WriteSVG(&b); err != nil {
		t.Fatal(err)
	}
	doc := wellFormed(t, b.Bytes())

	paths := map[string]string{}
	for _, p := range doc.Paths {
		paths[p.Series] = p.D
		if p.ID != "series-"+strings.ReplaceAll(p.Series, " ", "-") {
			t.Errorf("path id %q does not name its series %q", p.ID, p.Series)
		}
	}
	for _, name := range []string{SeriesBlueWeight, SeriesGreenWeight, SeriesGreenServed, SeriesRequests, SeriesErrors} {
		d, ok := paths[name]
		if !ok {
			t.Errorf("series %q missing; paths: %v", name, paths)
			continue
		}
		if !strings.HasPrefix(d, "M") || strings.Contains(d, "NaN") || strings.Contains(d, "Inf") {
			t.Errorf("series %q has a bad path %q", name, d)
		}
	}
	// The unreadable weights break the weight lines into two pieces.
	if n := strings.Count(paths[SeriesGreenWeight], "M"); n != 2 {
		t.Errorf("green weight path has %d pieces, want 2 (a gap where the router did not answer): %s", n, paths[SeriesGreenWeight])
	}
	// Green at 100% touches the top of the weights panel (y = titleH).
	if !strings.Contains(paths[SeriesGreenWeight], fmt.Sprintf(" %.1f", float64(titleH))) {
		t.Errorf("green weight never reaches 100%%: %s", paths[SeriesGreenWeight])
	}
	// The first sample has no observed split: the observed line starts at the second.
	if strings.Count(paths[SeriesGreenServed], "M") != 1 || strings.Count(paths[SeriesGreenServed], "L") != 8 {
		t.Errorf("green served path should join 9 samples: %s", paths[SeriesGreenServed])
	}
	all := strings.Join(doc.Texts, "|")
	if !strings.Contains(all, `payments cutover <blue> & "green"`) {
		t.Errorf("title not found (escaped and read back) in %q", all)
	}
	var marks []string
	for _, m := range doc.Marks {
		marks = append(marks, m.Text)
	}
	if strings.Join(marks, "|") != "step 10%|rollback <manual> & fast" {
		t.Errorf("marks %q", marks)
	}
	if !strings.Contains(all, "2%") {
		t.Errorf("error axis should reach the 2%% error sample: %q", all)
	}
}

func TestRenderRefusesAnEmptyTimeline(t *testing.T) {
	if err := Render(io.Discard, "x", nil, []Mark{{Time: time.Now(), Label: "a"}}); err == nil {
		t.Fatal("Render with no samples succeeded")
	}
}

func TestWriteFileWritesAReadableSVG(t *testing.T) {
	r := New("t")
	r.Add(Sample{Time: time.Now(), BlueWeight: 100, GreenWeight: 0, GreenServed: math.NaN()})
	path := filepath.Join(t.TempDir(), "cutover", "timeline.svg")
	if err := r.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc := wellFormed(t, data)
	if len(doc.Paths) != 5 {
		t.Errorf("%d paths, want 5", len(doc.Paths))
	}
}

func TestSamplerRecordsWeightsAndRatesUntilCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	calls := 0
	var c Counts
	r := New("t")
	s := &Sampler{Recorder: r, Every: time.Millisecond,
		Weights: func(context.Context) (int, int, error) {
			calls++
			switch calls {
			case 2:
				return 0, 0, errors.New("socket gone")
			case 4:
				cancel()
			}
			return 50, 50, nil
		},
		Counts: func() Counts {
			// 100 requests between two samples: 10 failed, 45 of the answered 90 by green.
			c.Requests += 100
			c.Failed += 10
			c.Green += 45
			c.GreenKnown = true
			return c
		},
	}
	s.Run(ctx)
	got := r.Samples()
	if len(got) != 2 {
		t.Fatalf("%d samples, want 2 (the first reading primes the counters, the one taken while cancelling is dropped): %+v", len(got), got)
	}
	if got[0].BlueWeight != -1 || got[0].GreenWeight != -1 {
		t.Errorf("unreadable weights recorded as %d/%d, want -1/-1", got[0].BlueWeight, got[0].GreenWeight)
	}
	if got[1].BlueWeight != 50 || got[1].GreenWeight != 50 {
		t.Errorf("weights %d/%d, want 50/50", got[1].BlueWeight, got[1].GreenWeight)
	}
	for i, smp := range got {
		if smp.RequestRate <= 0 || smp.ErrorRate != 0.1 || smp.GreenServed != 0.5 {
			t.Errorf("sample %d %+v: want a positive request rate, error rate 0.1, green served 0.5", i, smp)
		}
	}
}

func TestSamplerWithoutCountersRecordsFromTheStart(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := New("t")
	calls := 0
	(&Sampler{Recorder: r, Every: time.Millisecond, Weights: func(context.Context) (int, int, error) {
		if calls++; calls == 2 {
			cancel()
		}
		return 90, 10, nil
	}}).Run(ctx)
	if got := r.Samples(); len(got) != 1 || got[0].GreenWeight != 10 || got[0].RequestRate != 0 {
		t.Fatalf("samples %+v, want one at 90/10 with no rates", got)
	}
}

func TestRates(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name           string
		a, b           Counts
		d              time.Duration
		req, err, grn  float64
		greenUndefined bool
	}{
		{name: "a steady second", a: Counts{Requests: 100}, b: Counts{Requests: 300, Failed: 2, Green: 99, GreenKnown: true}, d: time.Second, req: 200, err: 0.01, grn: 0.5},
		{name: "no requests leaves the split undefined", a: Counts{Requests: 5}, b: Counts{Requests: 5, GreenKnown: true}, d: time.Second, greenUndefined: true},
		{name: "all failed leaves the split undefined", a: Counts{}, b: Counts{Requests: 4, Failed: 4, GreenKnown: true}, d: 2 * time.Second, req: 2, err: 1, greenUndefined: true},
		{name: "a source that cannot tell sides", a: Counts{}, b: Counts{Requests: 10}, d: time.Second, req: 10, greenUndefined: true},
		{name: "counters reset", a: Counts{Requests: 50}, b: Counts{Requests: 10}, d: time.Second, greenUndefined: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, er, grn := rates(tc.a, tc.b, tc.d)
			if req != tc.req || er != tc.err || (tc.greenUndefined != math.IsNaN(grn)) || (!tc.greenUndefined && grn != tc.grn) {
				t.Errorf("rates = %v, %v, %v; want %v, %v, %v (green undefined %v)", req, er, grn, tc.req, tc.err, tc.grn, tc.greenUndefined)
			}
		})
	}
}

func TestNiceMax(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, top, step float64 }{
		{0, 1, 0.25}, {1, 1, 0.2}, {7, 8, 2}, {12.5, 15, 5}, {430, 500, 100}, {1000, 1000, 200},
	} {
		top, step := niceMax(tc.in)
		if math.Abs(top-tc.top) > 1e-9 || math.Abs(step-tc.step) > 1e-9 {
			t.Errorf("niceMax(%v) = %v, %v; want %v, %v", tc.in, top, step, tc.top, tc.step)
		}
	}
}
