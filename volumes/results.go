package volumes

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	velerov1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// VeleroError is a Backup or Restore that ended PartiallyFailed, Failed or FailedValidation.
// Its message carries Velero's own reasons.
type VeleroError struct {
	Kind    string // "Backup" or "Restore"
	Name    string
	Cluster string // "blue" or "green"
	Phase   string
	// Reasons are Velero's failure reason, validation errors and per-item errors.
	Reasons []string
	// Hint says what the operator can do next.
	Hint string
}

func (e *VeleroError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "velero %s %s on %s ended %s", strings.ToLower(e.Kind), e.Name, e.Cluster, e.Phase)
	if len(e.Reasons) > 0 {
		b.WriteString(": ")
		b.WriteString(strings.Join(e.Reasons, "; "))
	}
	if e.Hint != "" {
		b.WriteString(" (" + e.Hint + ")")
	}
	return b.String()
}

// veleroResult is the shape of Velero's results file (pkg/util/results.Result).
type veleroResult struct {
	Velero     []string            `json:"velero,omitempty"`
	Cluster    []string            `json:"cluster,omitempty"`
	Namespaces map[string][]string `json:"namespaces,omitempty"`
}

// lines flattens a result into "namespace: message" lines, in a stable order.
func (r veleroResult) lines() []string {
	var out []string
	for _, m := range r.Velero {
		out = append(out, "velero: "+m)
	}
	for _, m := range r.Cluster {
		out = append(out, "cluster: "+m)
	}
	ns := make([]string, 0, len(r.Namespaces))
	for n := range r.Namespaces {
		ns = append(ns, n)
	}
	sort.Strings(ns)
	for _, n := range ns {
		for _, m := range r.Namespaces[n] {
			out = append(out, n+": "+m)
		}
	}
	return out
}

// parseResults decodes Velero's gzipped results file ({"errors": …, "warnings": …}).
func parseResults(r io.Reader) (errs, warns []string, err error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, nil, fmt.Errorf("results are not gzip: %w", err)
	}
	defer zr.Close()
	var m map[string]veleroResult
	if err := json.NewDecoder(zr).Decode(&m); err != nil {
		return nil, nil, fmt.Errorf("results do not decode: %w", err)
	}
	return m["errors"].lines(), m["warnings"].lines(), nil
}

// fetchResults asks Velero on c for kind's results (BackupResults or RestoreResults) of name
// through a DownloadRequest and reads them from object storage. The signed URL is a
// credential: it never appears in an error or a log line.
func fetchResults(ctx context.Context, opts *Options, c *cluster, kind velerov1.DownloadTargetKind, name string) (errs, warns []string, err error) {
	dr := &velerov1.DownloadRequest{
		TypeMeta:   metav1.TypeMeta{APIVersion: velerov1.SchemeGroupVersion.String(), Kind: "DownloadRequest"},
		ObjectMeta: metav1.ObjectMeta{GenerateName: name + "-", Namespace: c.ns, Labels: map[string]string{LabelManagedBy: "phoenix"}},
		Spec:       velerov1.DownloadRequestSpec{Target: velerov1.DownloadTarget{Kind: kind, Name: name}},
	}
	drName, err := c.create(ctx, gvrDownload, dr)
	if err != nil {
		return nil, nil, fmt.Errorf("creating a download request for %s on %s: %w", name, c.name, err)
	}
	defer func() { _ = c.delete(context.WithoutCancel(ctx), gvrDownload, drName) }()

	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	var got velerov1.DownloadRequest
	for {
		if err := c.get(ctx, gvrDownload, drName, &got); err != nil {
			return nil, nil, fmt.Errorf("reading download request %s on %s: %w", drName, c.name, err)
		}
		if got.Status.Phase == velerov1.DownloadRequestPhaseProcessed && got.Status.DownloadURL != "" {
			break
		}
		if err := sleep(ctx, opts.PollInterval); err != nil {
			return nil, nil, fmt.Errorf("velero on %s did not answer download request %s: %w", c.name, drName, err)
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, got.Status.DownloadURL, nil)
	if err != nil {
		return nil, nil, errors.New("velero returned a download URL that does not parse")
	}
	resp, err := opts.HTTPClient.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // drop the signed URL
		}
		return nil, nil, fmt.Errorf("downloading %s results from object storage: %w", name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, nil, fmt.Errorf("downloading %s results from object storage: HTTP %d", name, resp.StatusCode)
	}
	return parseResults(resp.Body)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
