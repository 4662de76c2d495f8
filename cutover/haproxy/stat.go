package haproxy

import (
	"encoding/csv"
	"fmt"
	"strconv"
	"strings"
)

// ServerState is one server's line of `show servers state`.
type ServerState struct {
	Backend string
	Name    string
	Addr    string
	// OpState: 0 stopped, 1 starting, 2 running, 3 stopping.
	OpState int
	// AdminState is a bit mask: maintenance (forced, inherited, ...) and drain flags.
	AdminState int
	// Weight is the current (user) weight, InitialWeight the one haproxy.cfg gives.
	Weight        int
	InitialWeight int
}

// Serving reports whether the server takes new requests: running or starting, and
// neither in maintenance nor draining.
func (s ServerState) Serving() bool {
	return (s.OpState == 1 || s.OpState == 2) && s.AdminState == 0
}

// EffectiveWeight is Weight while the server serves, 0 otherwise.
func (s ServerState) EffectiveWeight() int {
	if !s.Serving() {
		return 0
	}
	return s.Weight
}

// Admin state bits that phoenix clears when it gives a server traffic again.
const (
	adminForcedMaint = 0x01
	adminForcedDrain = 0x08
)

// parseServersState parses the answer of `show servers state [backend]` (format 1).
func parseServersState(out string) ([]ServerState, error) {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 2 || strings.TrimSpace(lines[0]) != "1" || !strings.HasPrefix(lines[1], "# ") {
		return nil, fmt.Errorf("unexpected answer to `show servers state`: %q", oneLine(firstLines(out, 2)))
	}
	cols := strings.Fields(strings.TrimPrefix(lines[1], "# "))
	idx := map[string]int{}
	for i, c := range cols {
		idx[c] = i
	}
	for _, need := range []string{"be_name", "srv_name", "srv_addr", "srv_op_state", "srv_admin_state", "srv_uweight", "srv_iweight"} {
		if _, ok := idx[need]; !ok {
			return nil, fmt.Errorf("`show servers state` has no column %s: unsupported haproxy version", need)
		}
	}
	var out2 []ServerState
	for _, l := range lines[2:] {
		f := strings.Fields(l)
		if len(f) < len(cols) || strings.HasPrefix(l, "#") {
			continue
		}
		num := func(c string) int { n, _ := strconv.Atoi(f[idx[c]]); return n }
		out2 = append(out2, ServerState{
			Backend: f[idx["be_name"]], Name: f[idx["srv_name"]], Addr: f[idx["srv_addr"]],
			OpState: num("srv_op_state"), AdminState: num("srv_admin_state"),
			Weight: num("srv_uweight"), InitialWeight: num("srv_iweight"),
		})
	}
	return out2, nil
}

// Stat is one row of `show stat`, by column name (pxname, svname, hrsp_5xx, ...).
type Stat map[string]string

// Int returns a numeric column, 0 when empty.
func (s Stat) Int(col string) int64 {
	n, _ := strconv.ParseInt(s[col], 10, 64)
	return n
}

// parseStat parses the CSV answer of `show stat`.
func parseStat(out string) ([]Stat, error) {
	out = strings.TrimPrefix(strings.TrimSpace(out), "# ")
	r := csv.NewReader(strings.NewReader(out))
	r.FieldsPerRecord = -1
	recs, err := r.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("parsing `show stat`: %w", err)
	}
	if len(recs) == 0 || len(recs[0]) < 2 || recs[0][0] != "pxname" {
		return nil, fmt.Errorf("unexpected answer to `show stat`: %q", oneLine(firstLines(out, 1)))
	}
	head := recs[0]
	var rows []Stat
	for _, rec := range recs[1:] {
		row := Stat{}
		for i, v := range rec {
			if i < len(head) && head[i] != "" {
				row[head[i]] = v
			}
		}
		rows = append(rows, row)
	}
	return rows, nil
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}
