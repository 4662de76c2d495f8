package app

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/phoenix-upgrade/phoenix/migrate"
)

// fakeClock advances by step at every call.
type fakeClock struct {
	t    time.Time
	step time.Duration
}

func (c *fakeClock) now() time.Time { c.t = c.t.Add(c.step); return c.t }

// feed sends the progress of total objects split into levels of the given sizes, with a
// line at the start of each level, one second of apply time per 100 objects.
func feed(v *progressView, levels map[int]int, order []int) {
	total := 0
	for _, n := range levels {
		total += n
	}
	done := 0
	for _, l := range order {
		v.Line("Level " + migrate.LevelName(l))
		for i := 1; i <= levels[l]; i++ {
			done++
			v.Update(migrate.ApplyProgress{Done: done, Total: total, Level: l, Levels: 10, LevelDone: i, LevelTotal: levels[l],
				Elapsed: time.Duration(done) * 10 * time.Millisecond})
		}
	}
	v.Finish()
}

func TestProgressView(t *testing.T) {
	tests := []struct {
		name   string
		tty    bool
		step   time.Duration
		levels map[int]int
		order  []int
		want   string
	}{
		{
			name: "plain lines every 500 objects and at the end", levels: map[int]int{migrate.LevelRBAC: 300, migrate.LevelConfig: 900}, order: []int{migrate.LevelRBAC, migrate.LevelConfig},
			want: "Level rbac\nLevel config\n  500/1200 objects, level 5/10 config 200/900, 100 objects/s\n" +
				"  1000/1200 objects, level 5/10 config 700/900, 100 objects/s\n  1200/1200 objects, level 5/10 config 900/900, 100 objects/s\n",
		},
		{
			name: "terminal: redrawn in place, at most every 100ms, at each level's end", tty: true, step: 40 * time.Millisecond,
			levels: map[int]int{migrate.LevelNamespaces: 1, migrate.LevelConfig: 6}, order: []int{migrate.LevelNamespaces, migrate.LevelConfig},
			want: "Level namespaces\n" +
				"\r\x1b[K[###.....................] 1/7 objects, level 2/10 namespaces 1/1, 100 objects/s" +
				"\r\x1b[KLevel config\n[###.....................] 1/7 objects, level 2/10 namespaces 1/1, 100 objects/s" +
				"\r\x1b[K[#############...........] 4/7 objects, level 5/10 config 3/6, 100 objects/s" +
				"\r\x1b[K[########################] 7/7 objects, level 5/10 config 6/6, 100 objects/s\n",
		},
		{
			name: "terminal: nothing applied, no status line", tty: true, step: time.Second, levels: map[int]int{}, order: nil, want: "",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			clock := &fakeClock{t: time.Unix(0, 0), step: tc.step}
			v := &progressView{w: &out, tty: tc.tty, every: 100 * time.Millisecond, now: clock.now}
			feed(v, tc.levels, tc.order)
			if got := out.String(); got != tc.want {
				t.Errorf("output:\n%q\nwant:\n%q", got, tc.want)
			}
		})
	}
}

func TestProgressViewDetectsTerminal(t *testing.T) {
	var buf bytes.Buffer
	if newProgressView(&buf, false).tty {
		t.Error("a buffer is not a terminal")
	}
	f, err := os.CreateTemp(t.TempDir(), "stderr")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if newProgressView(f, false).tty {
		t.Error("a regular file is not a terminal")
	}
	if s := statusLine(migrate.ApplyProgress{Total: 0}); !strings.HasPrefix(s, "[....") {
		t.Errorf("empty migration: %q", s)
	}
}
