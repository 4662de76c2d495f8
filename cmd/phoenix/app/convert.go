package app

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/phoenix-upgrade/phoenix/kube"
	"github.com/phoenix-upgrade/phoenix/migrate/convert"
)

type convertFlags struct {
	files     []string
	to        string
	output    string
	outputDir string
	inPlace   bool
	ingress   string
}

func newConvertCommand(g *Global) *cobra.Command {
	f := &convertFlags{output: string(OutputYAML)}
	cmd := &cobra.Command{
		Use:   "convert -f FILE|DIR --to VERSION",
		Short: "Rewrite manifests for a Kubernetes version, offline (for GitOps repositories)",
		Long: strings.TrimSpace(`
Read multi-document YAML and JSON manifests (List kinds too), rewrite every object
whose API version the target no longer serves into one it does, and report each
default the conversion had to choose, each field it dropped and each translation
that is not exact. It needs no cluster: which versions a release serves comes from
phoenix's table for 1.14 to 1.37 (docs/convert.md lists the conversions).

Converted manifests go to stdout, or to a mirrored tree with --output-dir, or back
into the files with --in-place (only files with a converted object are rewritten;
documents that needed nothing keep their text and comments). Notes go to stderr.
Documents that are not Kubernetes objects are reported and skipped.

Exit code 3 when some object could not be converted (a PodSecurityPolicy, a schema
apiextensions.k8s.io/v1 rejects, a version newer than the target).`),
		Example: example(`
  phoenix convert -f deploy/ --to v1.37 > converted.yaml
  phoenix convert -f ingress.yaml -f crds/ --to v1.25 -o json
  phoenix convert -f manifests/ --to v1.37 --output-dir manifests-1.37/
  phoenix convert -f manifests/ --to v1.37 --in-place && git diff`),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			format, err := checkOutput(f.output, OutputYAML, OutputJSON)
			if err != nil {
				return err
			}
			if len(f.files) == 0 {
				return usageError("-f is required: name the manifest files or directories to convert")
			}
			if f.to == "" {
				return usageError("--to is required: the Kubernetes version to convert for, e.g. --to v1.37")
			}
			if f.inPlace && f.outputDir != "" {
				return usageError("--in-place and --output-dir exclude each other")
			}
			target, err := kube.ParseVersion(f.to)
			if err != nil {
				return usageError("--to: %v", err)
			}
			ingressClass, err := convert.ParseIngressClassChoice(f.ingress)
			if err != nil {
				return usageError("--ingress-class: %v", err)
			}
			res, err := convert.ConvertManifests(cmd.Context(), convert.ManifestOptions{
				Paths: f.files, Served: convert.ServedBy(target), OutputDir: f.outputDir, InPlace: f.inPlace,
				Registry: convert.DefaultWith(convert.Choices{IngressClass: ingressClass}),
			})
			if err != nil {
				return err
			}
			if f.outputDir == "" && !f.inPlace {
				data, err := res.Render(format == OutputJSON)
				if err != nil {
					return err
				}
				if _, err := g.Streams.Out.Write(data); err != nil {
					return err
				}
			}
			return reportConversion(g, res, target)
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVarP(&f.files, "filename", "f", nil, "manifest file or directory (repeatable; directories are walked for .yaml, .yml and .json)")
	fl.StringVar(&f.to, "to", "", "Kubernetes version to convert for, e.g. v1.37 (required)")
	fl.StringVarP(&f.output, "output", "o", f.output, "format on stdout: yaml or json")
	fl.StringVar(&f.outputDir, "output-dir", "", "write a mirror of the input tree here instead of stdout")
	fl.BoolVar(&f.inPlace, "in-place", false, "rewrite the input files that have converted objects")
	fl.StringVar(&f.ingress, "ingress-class", string(convert.IngressClassAnnotation), "Ingress v1beta1 -> v1: keep the kubernetes.io/ingress.class annotation (annotation, as the apiserver did) or move it into spec.ingressClassName (field)")
	return cmd
}

// reportConversion prints notes, skipped documents and failures to stderr as a table,
// then a summary, and returns ExitFindings when something could not be converted.
func reportConversion(g *Global, res *convert.ManifestResult, target kube.Version) error {
	w := g.Streams.ErrOut
	tw := newTable(w)
	rows := 0
	header := func() {
		if rows == 0 {
			fmt.Fprintln(tw, "FILE\tOBJECT\tFROM\tTO\tKIND\tMESSAGE")
		}
		rows++
	}
	for _, f := range res.Files {
		for _, d := range f.Docs {
			loc := fmt.Sprintf("%s#%d", f.Path, d.Index+1)
			for _, n := range d.Notes {
				header()
				msg := n.Message
				if n.Field != "" {
					msg = n.Field + ": " + msg
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", loc, n.Object, n.From, n.To, n.Kind, msg)
			}
			switch {
			case d.Skipped != "":
				header()
				fmt.Fprintf(tw, "%s\t-\t-\t-\tskipped\t%s\n", loc, d.Skipped)
			case d.Error != "":
				header()
				fmt.Fprintf(tw, "%s\t%s\t%s\t-\terror\t%s\n", loc, d.Name, d.From, d.Error)
			}
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	converted, failed, skipped := res.Counts()
	written := 0
	for _, f := range res.Files {
		if f.Written != "" {
			written++
		}
	}
	summary := fmt.Sprintf("Converted %d object(s) for %s in %d file(s)", converted, target.MinorString(), len(res.Files))
	if written > 0 {
		summary += fmt.Sprintf(", wrote %d file(s)", written)
	}
	fmt.Fprintf(w, "%s; %d not converted, %d document(s) skipped.\n", summary, failed, skipped)
	if bad := res.Malformed(); len(bad) > 0 {
		return fmt.Errorf("%d document(s) are not valid YAML or JSON, at %s: fix them and rerun (they are left out of the output)", len(bad), strings.Join(bad, ", "))
	}
	if failed > 0 {
		return WithExitCode(ExitFindings, fmt.Errorf("%d object(s) could not be converted for %s: see the errors above", failed, target.MinorString()))
	}
	return nil
}
