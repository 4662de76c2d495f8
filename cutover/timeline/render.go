package timeline

import (
	"bufio"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"time"
)

// Colours and names of the series; the names are the ids of the SVG paths
// ("series-" + name with spaces as dashes) and appear in the legend.
const (
	SeriesBlueWeight  = "blue weight"
	SeriesGreenWeight = "green weight"
	SeriesGreenServed = "green served"
	SeriesRequests    = "requests per second"
	SeriesErrors      = "error rate"
)

const (
	width, height     = 960, 620
	left, right       = 80, 30
	titleH, bottom    = 90, 50
	gap               = 34
	colBlue, colGreen = "#1f6fd1", "#2e9e44"
	colReq, colErr    = "#555555", "#d62728"
)

// panel is one chart area, with its y range.
type panel struct {
	title    string
	top, h   float64
	ymax     float64
	unit     string
	tickFmt  func(float64) string
	stepTick float64
}

func (p panel) y(v float64) float64 { return p.top + p.h - v/p.ymax*p.h }

// Render draws samples and marks as an SVG document: the weights (with the split that
// was observed), the request rate and the error rate over time, marks as dashed lines.
func Render(w io.Writer, title string, samples []Sample, marks []Mark) error {
	if len(samples) == 0 {
		return errors.New("no samples to draw: the timeline was never sampled")
	}
	t0, t1 := samples[0].Time, samples[len(samples)-1].Time
	for _, m := range marks {
		if m.Time.Before(t0) {
			t0 = m.Time
		}
		if m.Time.After(t1) {
			t1 = m.Time
		}
	}
	span := t1.Sub(t0).Seconds()
	if span <= 0 {
		span = 1
	}
	plotW := float64(width - left - right)
	x := func(t time.Time) float64 { return left + t.Sub(t0).Seconds()/span*plotW }

	maxReq, maxErr := 0.0, 0.0
	for _, s := range samples {
		maxReq = math.Max(maxReq, finite(s.RequestRate))
		maxErr = math.Max(maxErr, finite(s.ErrorRate))
	}
	ph := float64(height-titleH-bottom-2*gap) / 4
	pw := panel{title: "Traffic weights and the split observed (%)", top: titleH, h: 2 * ph, ymax: 100, stepTick: 25,
		tickFmt: func(v float64) string { return fmt.Sprintf("%.0f%%", v) }}
	reqMax, reqStep := niceMax(maxReq)
	pr := panel{title: "Requests per second", top: pw.top + pw.h + gap, h: ph, ymax: reqMax, stepTick: reqStep,
		tickFmt: func(v float64) string { return trimFloat(v) }}
	errMax, errStep := niceMax(math.Max(maxErr*100, 1))
	pe := panel{title: "Failed requests (% of requests)", top: pr.top + pr.h + gap, h: ph, ymax: errMax, stepTick: errStep,
		tickFmt: func(v float64) string { return trimFloat(v) + "%" }}

	b := bufio.NewWriter(w)
	p := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	p(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	p(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", width, height, width, height)
	p(`<rect width="100%%" height="100%%" fill="#ffffff"/>` + "\n")
	p(`<text x="%d" y="24" font-size="16" font-weight="bold">%s</text>`+"\n", left, esc(title))
	p(`<text x="%d" y="42" fill="#555555">%s, %s, %d samples</text>`+"\n", left,
		esc(t0.UTC().Format(time.RFC3339)), esc((time.Duration(span * float64(time.Second))).Round(100*time.Millisecond).String()), len(samples))
	legend(p)

	for _, pn := range []panel{pw, pr, pe} {
		axes(p, pn, plotW)
	}
	timeAxis(p, pe, span, plotW)

	series(p, SeriesBlueWeight, colBlue, "", stepPath(samples, x, pw, func(s Sample) (float64, bool) { return float64(s.BlueWeight), s.BlueWeight >= 0 }))
	series(p, SeriesGreenWeight, colGreen, "", stepPath(samples, x, pw, func(s Sample) (float64, bool) { return float64(s.GreenWeight), s.GreenWeight >= 0 }))
	series(p, SeriesGreenServed, colGreen, ` stroke-dasharray="3 3" stroke-opacity="0.7"`, linePath(samples, x, pw, func(s Sample) (float64, bool) {
		return s.GreenServed * 100, !math.IsNaN(s.GreenServed)
	}))
	series(p, SeriesRequests, colReq, "", linePath(samples, x, pr, func(s Sample) (float64, bool) { return s.RequestRate, true }))
	series(p, SeriesErrors, colErr, "", linePath(samples, x, pe, func(s Sample) (float64, bool) { return s.ErrorRate * 100, true }))

	for i, m := range marks {
		mx := x(m.Time)
		p(`<g class="mark"><line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#888888" stroke-dasharray="4 3"/>`, mx, pw.top, mx, pe.top+pe.h)
		p(`<text x="%.1f" y="%.1f" font-size="10" fill="#333333">%s</text></g>`+"\n", mx+3, pw.top+12+float64(i%4)*12, esc(m.Label))
	}
	p("</svg>\n")
	return b.Flush()
}

func legend(p func(string, ...any)) {
	items := []struct{ name, color, dash string }{
		{SeriesBlueWeight, colBlue, ""}, {SeriesGreenWeight, colGreen, ""},
		{SeriesGreenServed + " (observed)", colGreen, ` stroke-dasharray="3 3"`},
		{SeriesRequests, colReq, ""}, {SeriesErrors, colErr, ""},
	}
	x := float64(left)
	for _, it := range items {
		p(`<line x1="%.0f" y1="56" x2="%.0f" y2="56" stroke="%s" stroke-width="2"%s/><text x="%.0f" y="60">%s</text>`+"\n", x, x+18, it.color, it.dash, x+22, esc(it.name))
		x += 40 + 6.5*float64(len(it.name))
	}
}

func axes(p func(string, ...any), pn panel, plotW float64) {
	p(`<text x="%d" y="%.1f" font-weight="bold">%s</text>`+"\n", left, pn.top-6, esc(pn.title))
	for v := 0.0; v <= pn.ymax+1e-9; v += pn.stepTick {
		y := pn.y(v)
		p(`<line x1="%d" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#e5e5e5"/>`, left, y, left+plotW, y)
		p(`<text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n", left-6, y+4, esc(pn.tickFmt(v)))
	}
	p(`<rect x="%d" y="%.1f" width="%.1f" height="%.1f" fill="none" stroke="#999999"/>`+"\n", left, pn.top, plotW, pn.h)
}

func timeAxis(p func(string, ...any), pn panel, span, plotW float64) {
	_, step := niceTicks(span, 10)
	base := pn.top + pn.h
	for v := 0.0; v <= span+1e-9; v += step {
		x := left + v/span*plotW
		p(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#999999"/><text x="%.1f" y="%.1f" text-anchor="middle">%ss</text>`+"\n",
			x, base, x, base+5, x, base+18, trimFloat(v))
	}
	p(`<text x="%.1f" y="%.1f" text-anchor="middle" fill="#555555">time since start (seconds)</text>`+"\n", left+plotW/2, base+36)
}

func series(p func(string, ...any), name, color, extra, d string) {
	id := "series-" + strings.ReplaceAll(name, " ", "-")
	p(`<path id="%s" class="series" data-series="%s" fill="none" stroke="%s" stroke-width="2"%s d="%s"><title>%s</title></path>`+"\n",
		id, esc(name), color, extra, d, esc(name))
}

// stepPath draws a value that holds until the next sample (weights).
func stepPath(samples []Sample, x func(time.Time) float64, pn panel, v func(Sample) (float64, bool)) string {
	var b strings.Builder
	pen := false
	lastY := 0.0
	for _, s := range samples {
		val, ok := v(s)
		if !ok {
			pen = false
			continue
		}
		xx, yy := x(s.Time), pn.y(clamp(val, pn.ymax))
		if !pen {
			fmt.Fprintf(&b, "M%.1f %.1f ", xx, yy)
		} else {
			fmt.Fprintf(&b, "L%.1f %.1f L%.1f %.1f ", xx, lastY, xx, yy)
		}
		pen, lastY = true, yy
	}
	return strings.TrimSpace(b.String())
}

// linePath joins the samples; a sample without a value breaks the line.
func linePath(samples []Sample, x func(time.Time) float64, pn panel, v func(Sample) (float64, bool)) string {
	var b strings.Builder
	pen := false
	for _, s := range samples {
		val, ok := v(s)
		if !ok || math.IsNaN(val) || math.IsInf(val, 0) {
			pen = false
			continue
		}
		cmd := "L"
		if !pen {
			cmd = "M"
		}
		fmt.Fprintf(&b, "%s%.1f %.1f ", cmd, x(s.Time), pn.y(clamp(val, pn.ymax)))
		pen = true
	}
	return strings.TrimSpace(b.String())
}

// niceMax rounds v up to a readable axis maximum and returns it with a tick step
// (1, 2 or 5 times a power of ten, about five ticks).
func niceMax(v float64) (top, step float64) { return niceTicks(v, 5) }

// niceTicks is niceMax with about n ticks.
func niceTicks(v float64, n int) (top, step float64) {
	if v <= 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return 1, 0.25
	}
	raw := v / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if step = m * mag; step >= raw {
			break
		}
	}
	return math.Ceil(v/step-1e-9) * step, step
}

func clamp(v, hi float64) float64 { return math.Max(0, math.Min(v, hi)) }

func finite(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return v
}

func trimFloat(v float64) string {
	s := fmt.Sprintf("%.2f", v)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	if s == "" || s == "-0" {
		return "0"
	}
	return s
}

func esc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}
