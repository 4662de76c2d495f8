package assess

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"sigs.k8s.io/yaml"
)

// Formats Render writes.
const (
	FormatTable    = "table"
	FormatJSON     = "json"
	FormatYAML     = "yaml"
	FormatMarkdown = "markdown"
)

// Render writes the report in format (table, json, yaml or markdown).
func (r *Report) Render(w io.Writer, format string) error {
	switch format {
	case FormatJSON:
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	case FormatYAML:
		data, err := yaml.Marshal(r)
		if err != nil {
			return err
		}
		_, err = w.Write(data)
		return err
	case FormatMarkdown:
		return r.writeMarkdown(w)
	case FormatTable, "":
		return r.writeText(w)
	}
	return fmt.Errorf("unknown format %q: use table, json, yaml or markdown", format)
}

func (r *Report) headline() string {
	c := r.Counts()
	from := r.From
	if from == "" {
		from = "(any)"
	}
	return fmt.Sprintf("%s -> %s (%s): %s, %s, %s", from, r.To, r.Path,
		plural(c[Blocker], "blocker"), plural(c[Action], "action"), plural(c[Info], "info"))
}

func plural(n int, word string) string {
	if n == 1 || word == "info" {
		return fmt.Sprintf("%d %s", n, word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}

func (r *Report) writeText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Assessment %s\n", r.headline())
	for _, s := range r.Sources {
		fmt.Fprintf(&b, "Scanned: %s\n", s)
	}
	if len(r.Hops) > 0 {
		b.WriteString("\nHOPS\n")
		tw := tabwriter.NewWriter(&b, 0, 8, 3, ' ', 0)
		fmt.Fprintln(tw, "  #\tCONTROL PLANE\tKUBELETS\tKUBEADM")
		for i, h := range r.Hops {
			force := "-"
			if h.Force {
				force = "--force"
			}
			fmt.Fprintf(tw, "  %d\t%s\t%s\t%s\n", i+1, h.ControlPlane, h.Kubelets, force)
		}
		tw.Flush()
	}
	for _, sev := range []Severity{Blocker, Action, Info} {
		first := true
		for _, f := range r.Findings {
			if f.Severity != sev {
				continue
			}
			if first {
				fmt.Fprintf(&b, "\n%s\n", map[Severity]string{Blocker: "BLOCKERS", Action: "ACTIONS", Info: "INFO"}[sev])
				first = false
			}
			at := f.Version
			if f.Hop != "" {
				at += ", hop to " + f.Hop
			}
			if at != "" {
				at = "[" + at + "] "
			}
			where := ""
			if f.Where != "" {
				where = " (" + f.Where + ")"
			}
			fmt.Fprintf(&b, "- %s%s: %s%s\n", at, f.Check, f.Object, where)
			fmt.Fprintf(&b, "    problem: %s\n", f.Message)
			fmt.Fprintf(&b, "    do:      %s\n", f.Action)
			if f.Source != "" {
				fmt.Fprintf(&b, "    source:  %s\n", f.Source)
			}
		}
	}
	if len(r.Findings) == 0 {
		b.WriteString("\nNo findings.\n")
	}
	if len(r.Errors) > 0 {
		b.WriteString("\nNOT SCANNED\n")
		for _, e := range r.Errors {
			fmt.Fprintf(&b, "- %s\n", e)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func mdCell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.ReplaceAll(s, "\n", " ")
}

func (r *Report) writeMarkdown(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# Upgrade assessment %s\n\n", r.headline())
	for _, s := range r.Sources {
		fmt.Fprintf(&b, "- Scanned: %s\n", mdCell(s))
	}
	if len(r.Hops) > 0 {
		b.WriteString("\n## Hops\n\n| # | Control plane | Kubelets | kubeadm |\n|---|---|---|---|\n")
		for i, h := range r.Hops {
			force := ""
			if h.Force {
				force = "`--force`"
			}
			fmt.Fprintf(&b, "| %d | %s | %s | %s |\n", i+1, h.ControlPlane, h.Kubelets, force)
		}
	}
	for _, sev := range []Severity{Blocker, Action, Info} {
		first := true
		for _, f := range r.Findings {
			if f.Severity != sev {
				continue
			}
			if first {
				title := map[Severity]string{Blocker: "Blockers", Action: "Actions", Info: "Info"}[sev]
				fmt.Fprintf(&b, "\n## %s\n\n| Version | Hop | Check | Object | Where | Problem | What to do | Source |\n|---|---|---|---|---|---|---|---|\n", title)
				first = false
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", mdCell(f.Version), mdCell(f.Hop), mdCell(f.Check),
				mdCell(f.Object), mdCell(f.Where), mdCell(f.Message), mdCell(f.Action), mdCell(f.Source))
		}
	}
	if len(r.Findings) == 0 {
		b.WriteString("\nNo findings.\n")
	}
	if len(r.Errors) > 0 {
		b.WriteString("\n## Not scanned\n\n")
		for _, e := range r.Errors {
			fmt.Fprintf(&b, "- %s\n", mdCell(e))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteTable writes the knowledge base for review, one section per topic.
func (kb *KnowledgeBase) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "API REMOVALS\nAPIVERSION\tKIND\tDEPRECATED\tREMOVED\tSUCCESSOR\tSINCE")
	for _, a := range kb.APIs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", a.APIVersion, a.Kind, dash(a.DeprecatedIn), a.RemovedIn, dash(a.Successor), dash(a.SuccessorSince))
	}
	fmt.Fprintln(tw, "\nFEATURE GATES\nGATE\tLAST STAGE\tLAST IN\tREMOVED")
	for _, g := range kb.FeatureGates {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", g.Name, g.Stage, g.LastIn, g.RemovedIn)
	}
	fmt.Fprintln(tw, "\nFLAGS\nCOMPONENT\tFLAG\tEFFECT\tSINCE")
	for _, f := range kb.Flags {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", f.Component, f.Flag, f.Effect, f.Since)
	}
	fmt.Fprintln(tw, "\nKUBEADM CONFIG API\nAPIVERSION\tINTRODUCED\tDEPRECATED\tREMOVED\tSUCCESSOR")
	for _, k := range kb.KubeadmAPIs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", k.APIVersion, dash(k.IntroducedIn), dash(k.DeprecatedIn), dash(k.RemovedIn), dash(k.Successor))
	}
	fmt.Fprintln(tw, "\nPITFALLS\nID\tSINCE\tSEVERITY\tPATHS\tCHECK")
	for _, p := range kb.Pitfalls {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", p.ID, p.Since, p.Severity, strings.Join(p.Paths, ","), dash(p.Check))
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
