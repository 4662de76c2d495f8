package cutover

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/phoenix-upgrade/phoenix/migrate"
	"github.com/phoenix-upgrade/phoenix/state"
)

// VerifyRecord is the outcome of the latest `phoenix verify`, which package verify
// writes to verify/latest.json in the workspace (verify.Report). cutover reads only these
// fields:
//
//	{"passed": true, "time": "2026-05-01T12:00:00Z", "summary": "1204 objects at parity",
//	 "migration": "20260501-115500.000000", "namespaces": ["payments"]}
type VerifyRecord struct {
	Passed  bool      `json:"passed"`
	Time    time.Time `json:"time"`
	Summary string    `json:"summary,omitempty"`
	// Migration is the id of the migration verified; Namespaces the namespaces compared.
	Migration  string   `json:"migration,omitempty"`
	Namespaces []string `json:"namespaces,omitempty"`
}

// VerifyPath is where the latest verify record lives.
func VerifyPath(ws *state.Workspace) string { return ws.Path("verify", "latest.json") }

// LoadVerify reads the latest verify record; nil, nil when verify never ran.
func LoadVerify(ws *state.Workspace) (*VerifyRecord, error) {
	var v VerifyRecord
	if err := state.ReadJSON(VerifyPath(ws), &v); err != nil {
		if os.IsNotExist(err) {
			return nil, nil
		}
		return nil, err
	}
	return &v, nil
}

// DefaultMaxVerifyAge is how old the verify report may be when a cutover starts.
const DefaultMaxVerifyAge = 15 * time.Minute

// PreflightOptions say what the preflight checks against.
type PreflightOptions struct {
	Plan Plan
	// Gates is the number of gates the cutover measures; NoGates accepts none.
	Gates   int
	NoGates bool
	// MaxVerifyAge is the oldest verify report accepted (0: DefaultMaxVerifyAge).
	MaxVerifyAge time.Duration
	// Now is the time the age is measured at (zero: time.Now).
	Now time.Time
}

// PreflightErrors are the reasons a cutover should not start, in the manner of kubeadm's
// VersionSkewPolicyErrors: Skippable ones --force overrides (and the journal records),
// Mandatory ones nothing does — each says which flag or command resolves it.
type PreflightErrors struct {
	Mandatory []error
	Skippable []error
}

// Empty reports whether nothing was found.
func (p *PreflightErrors) Empty() bool { return len(p.Mandatory) == 0 && len(p.Skippable) == 0 }

// Err is the refusal, or nil when force may start the cutover (nothing mandatory, and
// either nothing skippable or force).
func (p *PreflightErrors) Err(force bool) error {
	if len(p.Mandatory) == 0 && (force || len(p.Skippable) == 0) {
		return nil
	}
	var b strings.Builder
	b.WriteString("not starting the cutover:")
	for _, e := range p.Mandatory {
		fmt.Fprintf(&b, "\n  - %v", e)
	}
	for _, e := range p.Skippable {
		fmt.Fprintf(&b, "\n  - %v", e)
		if force {
			b.WriteString(" (overridden by --force)")
		}
	}
	switch {
	case len(p.Mandatory) > 0 && len(p.Skippable) > 0 && !force:
		b.WriteString("\n(--force overrides only the last ")
		fmt.Fprintf(&b, "%d; the first %d must be resolved)", len(p.Skippable), len(p.Mandatory))
	case len(p.Mandatory) > 0:
		b.WriteString("\n(--force does not override these)")
	default:
		b.WriteString("\n(--force starts anyway and records why)")
	}
	return errors.New(b.String())
}

// Strings lists the skippable findings, for the journal's Forced.
func (p *PreflightErrors) Strings() []string {
	out := make([]string, len(p.Skippable))
	for i, e := range p.Skippable {
		out[i] = e.Error()
	}
	return out
}

// LatestMigration is the migration a cutover follows: migrate's "latest" pointer, or the
// newest migration directory when there is no pointer. Namespaces is nil when the
// migration's metadata is not there.
type LatestMigration struct {
	ID         string
	Namespaces []string
}

// FindLatestMigration returns the latest migration, or nil when none is recorded.
func FindLatestMigration(ws *state.Workspace) (*LatestMigration, error) {
	migs, err := Migrations(ws)
	if err != nil || len(migs) == 0 {
		return nil, err
	}
	root := ws.Path("migrations")
	id, err := migrate.LatestID(root)
	if err != nil {
		if _, serr := os.Stat(filepath.Join(root, "latest")); !os.IsNotExist(serr) {
			return nil, err
		}
		id = migs[0].Name
	}
	m := &LatestMigration{ID: id}
	meta, _, err := migrate.ReadJournal(filepath.Join(root, id))
	switch {
	case err == nil:
		m.Namespaces = meta.Namespaces
	case !errors.Is(err, os.ErrNotExist):
		return nil, err
	}
	return m, nil
}

// Preflight checks what a cutover starts from.
//
// Mandatory (nothing overrides them; each names what does):
//   - no gate would be measured, and NoGates is not set (--no-gates);
//   - a final delta after steps at which green took traffic, without
//     Plan.DiscardGreenWrites: the delta replaces green's claims, and with them what green
//     wrote at those steps (--discard-green-writes, or --steps 100);
//   - the verify report names a migration the workspace does not hold: it was written for
//     another workspace or the migration was removed (run `phoenix verify`).
//
// Skippable (--force): no migration recorded, verify never ran or did not pass, the
// report older than MaxVerifyAge, for another migration than the latest, or not covering
// all of the latest migration's namespaces.
func Preflight(ws *state.Workspace, o PreflightOptions) (*PreflightErrors, *LatestMigration, error) {
	if o.MaxVerifyAge <= 0 {
		o.MaxVerifyAge = DefaultMaxVerifyAge
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	p := &PreflightErrors{}
	if o.Gates == 0 && !o.NoGates {
		p.Mandatory = append(p.Mandatory, errors.New("no gate would be measured (no --probe, and the router adds none): the cutover would advance on time alone; add --probe URL, or pass --no-gates to accept that"))
	}
	if o.Plan.FinalDelta && len(o.Plan.Steps) > 1 && !o.Plan.DiscardGreenWrites {
		p.Mandatory = append(p.Mandatory, fmt.Errorf("--final-delta replaces green's volume claims with blue's data after the last switch, and green serves (and writes) at steps %v before it: pass --discard-green-writes to accept that those writes are lost, or cut over with --steps 100", o.Plan.Steps[:len(o.Plan.Steps)-1]))
	}
	latest, err := FindLatestMigration(ws)
	if err != nil {
		return nil, nil, err
	}
	if latest == nil {
		p.Skippable = append(p.Skippable, fmt.Errorf("no migration recorded in %s: run `phoenix migrate` first", ws.Path("migrations")))
	}
	v, err := LoadVerify(ws)
	if err != nil {
		return nil, nil, err
	}
	switch {
	case v == nil:
		p.Skippable = append(p.Skippable, errors.New("verify has not run: run `phoenix verify` and reach parity first"))
		return p, latest, nil
	case !v.Passed:
		p.Skippable = append(p.Skippable, fmt.Errorf("the latest verify (%s) did not pass: fix the differences and run `phoenix verify` again", v.Time.Format(time.RFC3339)))
	}
	if age := o.Now.Sub(v.Time); age > o.MaxVerifyAge {
		p.Skippable = append(p.Skippable, fmt.Errorf("the latest verify is %s old (at %s), older than --max-verify-age %s: run `phoenix verify` again", age.Round(time.Second), v.Time.Format(time.RFC3339), o.MaxVerifyAge))
	}
	if v.Migration != "" {
		if _, err := os.Stat(ws.Path("migrations", v.Migration)); os.IsNotExist(err) {
			p.Mandatory = append(p.Mandatory, fmt.Errorf("the verify report is for migration %s, which this workspace does not hold: run `phoenix verify` here", v.Migration))
		} else if latest != nil && v.Migration != latest.ID {
			p.Skippable = append(p.Skippable, fmt.Errorf("the verify report is for migration %s, not the latest one (%s): run `phoenix verify` again", v.Migration, latest.ID))
		}
	}
	if latest != nil && (v.Migration == "" || v.Migration == latest.ID) {
		var missing []string
		for _, ns := range latest.Namespaces {
			if !slices.Contains(v.Namespaces, ns) {
				missing = append(missing, ns)
			}
		}
		if len(missing) > 0 {
			p.Skippable = append(p.Skippable, fmt.Errorf("the verify report does not cover namespace(s) %s of migration %s: run `phoenix verify` for all of them", strings.Join(missing, ", "), latest.ID))
		}
	}
	return p, latest, nil
}
