package convert

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/phoenix-upgrade/phoenix/state"
)

// ManifestOptions says which manifests ConvertManifests reads and where results go.
type ManifestOptions struct {
	// Paths are files or directories; directories are walked for *.yaml, *.yml and
	// *.json files. A file named explicitly is read whatever its extension.
	Paths []string
	// Served says what the target serves (ServedBy for an offline target version).
	Served Served
	// Registry converts; nil means Default().
	Registry *Registry
	// OutputDir, when set, receives a mirror of the input tree with converted documents
	// (files keep their format; unchanged documents keep their text and comments).
	OutputDir string
	// InPlace rewrites input files that have a converted document.
	InPlace bool
}

// ManifestResult is what ConvertManifests found and did, file by file.
type ManifestResult struct {
	Files []*ManifestFile `json:"files"`
}

// ManifestFile is one file read.
type ManifestFile struct {
	Path string `json:"path"`
	// Rel is the path under the directory it was found in (its base name for files
	// named directly); OutputDir mirrors it.
	Rel     string         `json:"rel"`
	JSON    bool           `json:"json,omitempty"`
	Docs    []*ManifestDoc `json:"documents"`
	Written string         `json:"written,omitempty"`
}

// ManifestDoc is one document of a file.
type ManifestDoc struct {
	Index int `json:"index"`
	// Line is the line of the file the document starts on (1-based).
	Line int    `json:"line"`
	Raw  []byte `json:"-"`
	// In is the object read; nil when the document is not a Kubernetes object.
	In *unstructured.Unstructured `json:"-"`
	// Out is the converted object; nil when nothing needed converting (or it failed).
	Out   *unstructured.Unstructured `json:"-"`
	Name  string                     `json:"object,omitempty"`
	From  string                     `json:"from,omitempty"`
	To    string                     `json:"to,omitempty"`
	Notes []Note                     `json:"notes,omitempty"`
	// Error says why the document could not be converted.
	Error string `json:"error,omitempty"`
	// Skipped says why the document was not looked at (not a Kubernetes object).
	Skipped string `json:"skipped,omitempty"`
	// Malformed is set, with Error, when the document is not valid YAML or JSON: it is
	// bad input, not something a converter could not do.
	Malformed bool `json:"malformed,omitempty"`
}

// Malformed lists the documents that are not valid YAML or JSON, as "FILE:LINE".
func (r *ManifestResult) Malformed() []string {
	var out []string
	for _, f := range r.Files {
		for _, d := range f.Docs {
			if d.Malformed {
				out = append(out, fmt.Sprintf("%s:%d", f.Path, d.errLine()))
			}
		}
	}
	return out
}

// errLine is the line a malformed document's error names (its first line otherwise).
func (d *ManifestDoc) errLine() int {
	var n int
	if _, err := fmt.Sscanf(d.Error, "line %d:", &n); err == nil {
		return n
	}
	return d.Line
}

// Counts summarizes a result: documents converted, failed and skipped.
func (r *ManifestResult) Counts() (converted, failed, skipped int) {
	for _, f := range r.Files {
		for _, d := range f.Docs {
			switch {
			case d.Error != "":
				failed++
			case d.Skipped != "":
				skipped++
			case d.Out != nil:
				converted++
			}
		}
	}
	return converted, failed, skipped
}

// ConvertManifests reads multi-document YAML and JSON manifests (List kinds included),
// converts every object the target does not serve, and writes the results to OutputDir
// or back into the files (InPlace) when asked. A document that cannot be converted is
// reported in its ManifestDoc and left as it was; the error return is for I/O failures.
func ConvertManifests(ctx context.Context, opts ManifestOptions) (*ManifestResult, error) {
	if opts.Served == nil {
		return nil, errors.New("no target: give the Kubernetes version to convert for")
	}
	reg := opts.Registry
	if reg == nil {
		reg = Default()
	}
	files, err := collect(opts.Paths)
	if err != nil {
		return nil, err
	}
	res := &ManifestResult{}
	seen := map[string]string{}
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		if prev, dup := seen[f.Rel]; dup && opts.OutputDir != "" {
			return res, fmt.Errorf("%s and %s would both be written to %s in --output-dir: convert them separately", prev, f.Path, filepath.Join(opts.OutputDir, f.Rel))
		}
		seen[f.Rel] = f.Path
		if err := f.read(); err != nil {
			return res, err
		}
		for _, d := range f.Docs {
			if d.In != nil {
				convertDoc(reg, opts.Served, d)
			}
		}
		res.Files = append(res.Files, f)
		if err := f.write(opts); err != nil {
			return res, err
		}
	}
	return res, nil
}

func collect(paths []string) ([]*ManifestFile, error) {
	if len(paths) == 0 {
		return nil, errors.New("no manifests given: name files or directories with -f")
	}
	var out []*ManifestFile
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("read manifests: %w", err)
		}
		if !st.IsDir() {
			out = append(out, &ManifestFile{Path: p, Rel: filepath.Base(p)})
			continue
		}
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if path != p && strings.HasPrefix(d.Name(), ".") {
					return filepath.SkipDir
				}
				return nil
			}
			switch strings.ToLower(filepath.Ext(path)) {
			case ".yaml", ".yml", ".json":
				rel, _ := filepath.Rel(p, path)
				out = append(out, &ManifestFile{Path: path, Rel: rel})
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("walk %s: %w", p, err)
		}
	}
	return out, nil
}

// read splits the file into documents and decodes each.
func (f *ManifestFile) read() error {
	data, err := os.ReadFile(f.Path)
	if err != nil {
		return fmt.Errorf("read manifests: %w", err)
	}
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) > 0 && (trimmed[0] == '{' || trimmed[0] == '[') {
		f.JSON = true
		f.Docs = []*ManifestDoc{decodeDoc(0, 1, data)}
		return nil
	}
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	cursor := 0
	for i := 0; ; i++ {
		raw, err := r.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: document %d: %w", f.Path, i+1, err)
		}
		start := cursor
		if at := bytes.Index(data[cursor:], raw); at >= 0 {
			start = cursor + at
			cursor = start + len(raw)
		}
		f.Docs = append(f.Docs, decodeDoc(i, 1+bytes.Count(data[:start], []byte("\n")), bytes.Clone(raw)))
	}
}

// yamlLine finds the document-relative line in a YAML parser's error.
var yamlLine = regexp.MustCompile(`line (\d+): `)

func decodeDoc(i, line int, raw []byte) *ManifestDoc {
	d := &ManifestDoc{Index: i, Line: line, Raw: raw}
	js, err := yaml.YAMLToJSON(raw)
	if err != nil {
		// Say where in the file, not where in the document.
		at, msg := line, err.Error()
		if m := yamlLine.FindStringSubmatchIndex(msg); m != nil {
			rel, _ := strconv.Atoi(msg[m[2]:m[3]])
			at = line + rel - 1
			msg = msg[:m[0]] + msg[m[1]:]
		}
		d.Malformed = true
		d.Error = fmt.Sprintf("line %d: malformed document, not valid YAML or JSON: %s", at, msg)
		return d
	}
	var m map[string]any
	if err := json.Unmarshal(js, &m); err != nil || m == nil {
		if len(bytes.TrimSpace(js)) == 0 || string(bytes.TrimSpace(js)) == "null" {
			d.Skipped = "empty document"
		} else {
			d.Skipped = "not a Kubernetes object (not a map)"
		}
		return d
	}
	u := &unstructured.Unstructured{Object: m}
	if u.GetAPIVersion() == "" || u.GetKind() == "" {
		d.Skipped = "not a Kubernetes object (no apiVersion and kind)"
		return d
	}
	// json.Unmarshal gives float64 numbers; keep integers integers.
	if err := u.UnmarshalJSON(js); err != nil {
		d.Skipped = fmt.Sprintf("not a Kubernetes object: %v", err)
		return d
	}
	d.In = u
	d.Name, d.From = ObjectName(u), u.GetAPIVersion()
	return d
}

// convertDoc converts one object, or each item of a List.
func convertDoc(reg *Registry, served Served, d *ManifestDoc) {
	items, isList := d.In.Object["items"].([]any)
	if !isList || !strings.HasSuffix(d.In.GetKind(), "List") {
		out, notes, err := reg.Convert(d.In, served)
		d.Notes = notes
		if err != nil {
			d.Error = err.Error()
			return
		}
		if out != d.In {
			d.Out, d.To = out, out.GetAPIVersion()
		}
		return
	}
	var errs []string
	newItems := make([]any, len(items))
	changed := false
	for i, it := range items {
		newItems[i] = it
		m, ok := it.(map[string]any)
		if !ok {
			continue
		}
		in := &unstructured.Unstructured{Object: m}
		out, notes, err := reg.Convert(in, served)
		d.Notes = append(d.Notes, notes...)
		if err != nil {
			errs = append(errs, fmt.Sprintf("items[%d]: %v", i, err))
			continue
		}
		if out != in {
			newItems[i], changed = out.Object, true
		}
	}
	if len(errs) > 0 {
		d.Error = strings.Join(errs, "; ")
	}
	if changed {
		d.Out = d.In.DeepCopy()
		d.Out.Object["items"] = newItems
	}
}

// render returns the file's new content and whether any document changed.
func (f *ManifestFile) render() ([]byte, bool, error) {
	changed := false
	var buf bytes.Buffer
	for i, d := range f.Docs {
		if d.Out == nil {
			if i > 0 {
				buf.WriteString("---\n")
			}
			buf.Write(d.Raw)
			if len(d.Raw) > 0 && d.Raw[len(d.Raw)-1] != '\n' {
				buf.WriteByte('\n')
			}
			continue
		}
		changed = true
		data, err := marshalObject(d.Out, f.JSON)
		if err != nil {
			return nil, false, fmt.Errorf("%s: %s: %w", f.Path, d.Name, err)
		}
		if i > 0 {
			buf.WriteString("---\n")
		}
		buf.Write(data)
	}
	return buf.Bytes(), changed, nil
}

func marshalObject(u *unstructured.Unstructured, asJSON bool) ([]byte, error) {
	if asJSON {
		data, err := json.MarshalIndent(u.Object, "", "  ")
		return append(data, '\n'), err
	}
	return yaml.Marshal(u.Object)
}

func (f *ManifestFile) write(opts ManifestOptions) error {
	if opts.OutputDir == "" && !opts.InPlace {
		return nil
	}
	data, changed, err := f.render()
	if err != nil {
		return err
	}
	target := f.Path
	if opts.OutputDir != "" {
		target = filepath.Join(opts.OutputDir, f.Rel)
		if !changed {
			if data, err = os.ReadFile(f.Path); err != nil {
				return fmt.Errorf("copy %s: %w", f.Path, err)
			}
		}
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return fmt.Errorf("create output directory: %w", err)
		}
	} else if !changed {
		return nil
	}
	perm := os.FileMode(0o644)
	if st, err := os.Stat(f.Path); err == nil {
		perm = st.Mode().Perm()
	}
	if err := state.WriteFileAtomic(target, data, perm); err != nil {
		return fmt.Errorf("write %s: %w", target, err)
	}
	f.Written = target
	return nil
}

// Render writes every Kubernetes document of the result, converted where it was, as one
// YAML stream (unchanged documents keep their text) or as JSON (one object, or a v1 List
// when there are several). Documents that are not Kubernetes objects are left out.
func (r *ManifestResult) Render(asJSON bool) ([]byte, error) {
	var objs []*ManifestDoc
	for _, f := range r.Files {
		for _, d := range f.Docs {
			if d.In != nil {
				objs = append(objs, d)
			}
		}
	}
	if asJSON {
		items := make([]any, 0, len(objs))
		for _, d := range objs {
			u := d.In
			if d.Out != nil {
				u = d.Out
			}
			items = append(items, u.Object)
		}
		var v any = map[string]any{"apiVersion": "v1", "kind": "List", "items": items}
		if len(items) == 1 {
			v = items[0]
		}
		data, err := json.MarshalIndent(v, "", "  ")
		return append(data, '\n'), err
	}
	var buf bytes.Buffer
	for i, d := range objs {
		if i > 0 {
			buf.WriteString("---\n")
		}
		if d.Out == nil {
			buf.Write(d.Raw)
			if len(d.Raw) > 0 && d.Raw[len(d.Raw)-1] != '\n' {
				buf.WriteByte('\n')
			}
			continue
		}
		data, err := marshalObject(d.Out, false)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", d.Name, err)
		}
		buf.Write(data)
	}
	return buf.Bytes(), nil
}
