package migrate

import (
	"fmt"
	"log/slog"
	"time"

	"k8s.io/client-go/rest"
)

// DryRun is how far an apply goes.
type DryRun string

// Dry-run modes, as kubectl names them.
const (
	// DryRunNone applies for real.
	DryRunNone DryRun = "none"
	// DryRunClient runs discover, export, sanitize, convert and order; nothing is sent to green.
	DryRunClient DryRun = "client"
	// DryRunServer sends every object to green with dryRun=All: validated and admitted, not persisted.
	DryRunServer DryRun = "server"
)

// ParseDryRun accepts none, client, server ("" is none).
func ParseDryRun(s string) (DryRun, error) {
	switch DryRun(s) {
	case "", DryRunNone:
		return DryRunNone, nil
	case DryRunClient, DryRunServer:
		return DryRun(s), nil
	}
	return "", fmt.Errorf("invalid dry-run mode %q: use none, client or server", s)
}

// FieldManager is the server-side apply field manager phoenix applies with.
const FieldManager = "phoenix"

// Annotations phoenix sets on green's objects.
const (
	// AnnotationOriginalSuspend keeps a CronJob's or Job's spec.suspend from blue ("true" or
	// "false"); cutover restores it.
	AnnotationOriginalSuspend = "phoenix.dev/original-suspend"
)

// Options configure a migration.
type Options struct {
	// Blue and Green are the source and target clusters. Blue is only ever read.
	Blue, Green *rest.Config
	// BlueName and GreenName label the clusters in the journal and reports.
	BlueName, GreenName string
	// Namespaces to move (at least one).
	Namespaces []string
	// Selector is a label selector restricting the namespaced objects moved.
	Selector string
	// ArtifactsDir receives one YAML per object and plan.txt; default <journal>/artifacts.
	ArtifactsDir string
	// KeepSecrets keeps the plaintext Secret YAML in the artifacts after the run; by
	// default it is removed when the migration ends (plan.txt still lists the Secrets).
	KeepSecrets bool
	// JournalRoot is the directory holding migrations (the workspace's "migrations").
	JournalRoot string
	// Resume continues the latest migration in JournalRoot instead of starting a new one.
	Resume bool
	DryRun DryRun
	// Concurrency is the number of parallel applies within a dependency level (default
	// DefaultConcurrency).
	Concurrency int
	// QPS and Burst set client-side throttling for both clusters: 0 means DefaultQPS and
	// DefaultBurst, a negative QPS disables client throttling (green's API Priority and
	// Fairness still protects it).
	QPS   float32
	Burst int
	// ForceConflicts takes over fields another field manager owns on green.
	ForceConflicts bool
	// AllowPartial lets a migration go on when part of blue could not be read (Result.Unread
	// lists what is left behind); by default that stops it before anything is written.
	AllowPartial bool
	// Replace deletes and re-creates an object on green when an immutable field differs.
	Replace bool
	// WebhookTimeout bounds the wait, before admission webhooks and APIServices are
	// applied, for the Services they call to have ready endpoints on green (default
	// DefaultWebhookTimeout).
	WebhookTimeout time.Duration
	// HoldWebhooks holds back (outcome failed, for a --resume) a webhook or APIService whose
	// backend is still not ready after WebhookTimeout; by default it is applied with a
	// loud warning.
	HoldWebhooks bool
	// EstablishTimeout bounds the wait for a CRD to be Established on green (default 2m).
	EstablishTimeout time.Duration
	// Log receives debug detail; Progress receives plain progress lines. Either may be nil.
	Log      *slog.Logger
	Progress func(line string)
	// OnApply, when set, receives the apply counts after every object (calls are
	// serialized; keep it cheap). The caller then renders the counts itself: Progress no
	// longer gets the periodic "N/M objects" lines.
	OnApply func(ApplyProgress)
}

// Defaults for a migration's apply. Green's apiserver, not the client, should be what
// limits a migration: client-go's own default (5 QPS) makes 5,000 objects take 17 minutes.
const (
	DefaultConcurrency = 64
	DefaultQPS         = 1000
	DefaultBurst       = 2000
)

// ApplyProgress is where the apply phase stands.
type ApplyProgress struct {
	// Done and Total count the objects of every level (skipped and resumed ones too).
	Done, Total int
	// Level is the dependency level being applied (see LevelName), Levels how many there are.
	Level, Levels int
	// LevelDone and LevelTotal count the objects of the current level.
	LevelDone, LevelTotal int
	// Elapsed is the time since the apply phase started.
	Elapsed time.Duration
}

func (o *Options) defaults(needJournal bool) error {
	if o.Blue == nil || o.Green == nil {
		return fmt.Errorf("migrate needs both a blue and a green cluster")
	}
	if len(o.Namespaces) == 0 {
		return fmt.Errorf("no namespace selected: pass --ns NAME (repeatable)")
	}
	if needJournal && o.JournalRoot == "" {
		return fmt.Errorf("no journal directory: open a workspace")
	}
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.QPS == 0 {
		o.QPS, o.Burst = DefaultQPS, DefaultBurst
	}
	if o.QPS > 0 && o.Burst <= 0 {
		o.Burst = int(o.QPS * 2)
	}
	if o.DryRun == "" {
		o.DryRun = DryRunNone
	}
	if o.EstablishTimeout <= 0 {
		o.EstablishTimeout = 2 * time.Minute
	}
	if o.WebhookTimeout <= 0 {
		o.WebhookTimeout = DefaultWebhookTimeout
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Progress == nil {
		o.Progress = func(string) {}
	}
	return nil
}
