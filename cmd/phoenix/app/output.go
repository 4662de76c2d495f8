package app

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"sigs.k8s.io/yaml"
)

// OutputFormat is the value of -o.
type OutputFormat string

// Output formats.
const (
	OutputTable    OutputFormat = "table"
	OutputJSON     OutputFormat = "json"
	OutputYAML     OutputFormat = "yaml"
	OutputName     OutputFormat = "name"
	OutputMarkdown OutputFormat = "markdown"
)

// checkOutput validates -o against the formats a command supports.
func checkOutput(o string, allowed ...OutputFormat) (OutputFormat, error) {
	for _, a := range allowed {
		if OutputFormat(o) == a {
			return a, nil
		}
	}
	return "", usageError("unknown output format %q: use one of %v", o, allowed)
}

// printStructured writes v as JSON or YAML.
func printStructured(w io.Writer, format OutputFormat, v any) error {
	switch format {
	case OutputJSON:
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	case OutputYAML:
		data, err := yaml.Marshal(v)
		if err != nil {
			return err
		}
		_, err = w.Write(data)
		return err
	}
	return fmt.Errorf("format %s is not structured", format)
}

// newTable returns a tabwriter laid out like kubectl's tables.
func newTable(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 0, 8, 3, ' ', 0) }

// example trims the blank lines around an Example block, keeping its indentation.
func example(s string) string { return strings.Trim(s, "\n") }
