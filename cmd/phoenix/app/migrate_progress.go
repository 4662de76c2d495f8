package app

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/phoenix-upgrade/phoenix/migrate"
)

// progressView renders migrate's progress: on a terminal one status line redrawn in place
// (objects done/total, the level, the rate), otherwise plain lines a log file can keep.
type progressView struct {
	w     io.Writer
	tty   bool
	every time.Duration // least time between two redraws of the status line
	now   func() time.Time

	mu       sync.Mutex
	shown    bool // the status line is on the terminal (tty)
	lastDraw time.Time
	last     migrate.ApplyProgress
}

// plainEvery is how many objects pass between two plain progress lines.
const plainEvery = 500

func newProgressView(w io.Writer, verbose bool) *progressView {
	return &progressView{w: w, tty: !verbose && isTerminal(w), every: 100 * time.Millisecond, now: time.Now}
}

// isTerminal reports whether w is a terminal that understands carriage returns.
func isTerminal(w io.Writer) bool {
	f, ok := w.(interface{ Fd() uintptr })
	if !ok || os.Getenv("TERM") == "dumb" {
		return false
	}
	return term.IsTerminal(int(f.Fd()))
}

// Line prints one progress line (above the status line on a terminal).
func (v *progressView) Line(s string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.shown {
		fmt.Fprint(v.w, "\r\x1b[K")
	}
	fmt.Fprintln(v.w, s)
	if v.shown {
		fmt.Fprint(v.w, statusLine(v.last))
	}
}

// Update takes the apply counts after one more object.
func (v *progressView) Update(p migrate.ApplyProgress) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.last = p
	if !v.tty {
		if p.Done%plainEvery == 0 || p.Done == p.Total {
			fmt.Fprintf(v.w, "  %s\n", counts(p))
		}
		return
	}
	now := v.now()
	if v.shown && now.Sub(v.lastDraw) < v.every && p.Done != p.Total && p.LevelDone != p.LevelTotal {
		return
	}
	v.lastDraw, v.shown = now, true
	fmt.Fprint(v.w, "\r\x1b[K"+statusLine(p))
}

// Finish ends the status line so what follows starts on a line of its own.
func (v *progressView) Finish() {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.shown {
		fmt.Fprintln(v.w)
		v.shown = false
	}
}

// barWidth is the width of the bar in the status line.
const barWidth = 24

func statusLine(p migrate.ApplyProgress) string {
	filled := 0
	if p.Total > 0 {
		filled = min(barWidth, p.Done*barWidth/p.Total)
	}
	return "[" + strings.Repeat("#", filled) + strings.Repeat(".", barWidth-filled) + "] " + counts(p)
}

func counts(p migrate.ApplyProgress) string {
	rate := ""
	if s := p.Elapsed.Seconds(); s > 0 {
		rate = fmt.Sprintf(", %.0f objects/s", float64(p.Done)/s)
	}
	return fmt.Sprintf("%d/%d objects, level %d/%d %s %d/%d%s",
		p.Done, p.Total, p.Level+1, p.Levels, migrate.LevelName(p.Level), p.LevelDone, p.LevelTotal, rate)
}
