package assess

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// manifestExts are the files ScanManifests reads; others are skipped.
var manifestExts = map[string]bool{".yaml": true, ".yml": true, ".json": true}

// scanManifests walks root (a directory or one file) and checks every Kubernetes object in
// its YAML/JSON files, multi-document files and rendered charts included. A document that
// is not a Kubernetes object is reported in the errors, naming its file.
func (c *checker) scanManifests(ctx context.Context, root string) ([]Finding, []string, error) {
	info, err := os.Stat(root)
	if err != nil {
		return nil, nil, fmt.Errorf("reading manifests: %w", err)
	}
	var files []string
	nodeDirs := map[string]bool{}
	if !info.IsDir() {
		files = []string{root}
	} else {
		err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && strings.HasPrefix(d.Name(), ".") && p != root {
				return filepath.SkipDir
			}
			if d.IsDir() {
				return nil
			}
			if d.Name() == "mounts" || isEnvFile(d.Name()) {
				nodeDirs[filepath.Dir(p)] = true
			}
			files = append(files, p)
			return nil
		})
		if err != nil {
			return nil, nil, fmt.Errorf("reading manifests under %s: %w", root, err)
		}
	}
	var findings []Finding
	var problems []string
	// A directory with a mounts or *.env file is one node's copy of its files: they are
	// checked together (the cgroup of its mounts with its kubelet configuration).
	nodes := map[string]*NodeFiles{}
	nodeOf := func(p string) *NodeFiles {
		for d := filepath.Dir(p); ; d = filepath.Dir(d) {
			if nodeDirs[d] {
				return nodes[d]
			}
			if d == root || d == filepath.Dir(d) {
				return nil
			}
		}
	}
	var nodeNames []string
	for d := range nodeDirs {
		name := filepath.Base(d)
		if r, err := filepath.Rel(root, d); err == nil && r != "." {
			name = r
		}
		nodes[d] = &NodeFiles{Node: name, Source: d, Files: map[string][]byte{}}
		nodeNames = append(nodeNames, d)
	}
	var plain []string
	for _, f := range files {
		n := nodeOf(f)
		if n == nil {
			if manifestExts[strings.ToLower(filepath.Ext(f))] {
				plain = append(plain, f)
			}
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", f, err))
			continue
		}
		rel, _ := filepath.Rel(n.Source, f)
		if !manifestExts[strings.ToLower(filepath.Ext(f))] && filepath.Base(f) != "mounts" && !isEnvFile(filepath.Base(f)) {
			continue
		}
		n.Files["/"+filepath.ToSlash(rel)] = data
		if strings.HasPrefix(filepath.ToSlash(rel), "manifests/") && isControlPlaneManifest(data) {
			n.ControlPlane = true
		}
	}
	sort.Strings(nodeNames)
	for _, d := range nodeNames {
		fs, ps := c.nodeFilesFindings(*nodes[d])
		findings = append(findings, fs...)
		problems = append(problems, ps...)
	}
	files = plain
	sort.Strings(files)
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		rel := f
		if info.IsDir() {
			if r, err := filepath.Rel(root, f); err == nil {
				rel = r
			}
		}
		data, err := os.ReadFile(f)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", rel, err))
			continue
		}
		fs, ps := c.checkManifestData(data, rel)
		findings = append(findings, fs...)
		problems = append(problems, ps...)
	}
	return findings, problems, nil
}

// checkManifestData checks every document of one YAML/JSON stream; name says where it came
// from (a file, a Helm release).
func (c *checker) checkManifestData(data []byte, name string) ([]Finding, []string) {
	var findings []Finding
	var problems []string
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for i := 1; ; i++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: document %d: %v", name, i, err))
			break
		}
		where := name
		if src := renderedSource(doc); src != "" {
			where = name + " (" + src + ")"
		}
		if len(bytes.TrimSpace(stripComments(doc))) == 0 {
			continue
		}
		var obj map[string]any
		if err := yaml.Unmarshal(doc, &obj); err != nil {
			problems = append(problems, fmt.Sprintf("%s: document %d is not YAML: %v", where, i, err))
			continue
		}
		fs, ps := c.checkDocument(obj, where, i)
		findings = append(findings, fs...)
		problems = append(problems, ps...)
	}
	return findings, problems
}

func (c *checker) checkDocument(obj map[string]any, where string, i int) ([]Finding, []string) {
	apiVersion, _ := obj["apiVersion"].(string)
	kind, _ := obj["kind"].(string)
	if apiVersion == "" || kind == "" {
		return nil, []string{fmt.Sprintf("%s: document %d is not a Kubernetes object (no apiVersion and kind)", where, i)}
	}
	u := &unstructured.Unstructured{Object: obj}
	if u.IsList() {
		var findings []Finding
		var problems []string
		items, _, _ := unstructured.NestedSlice(obj, "items")
		for _, it := range items {
			m, ok := it.(map[string]any)
			if !ok {
				continue
			}
			fs, ps := c.checkDocument(m, where, i)
			findings = append(findings, fs...)
			problems = append(problems, ps...)
		}
		return findings, problems
	}
	var findings []Finding
	if f, ok := c.apiVersionFinding(apiVersion, kind, objectName(u), where, "manifest"); ok {
		findings = append(findings, f)
	}
	findings = append(findings, c.contentFindings(u, where)...)
	return findings, nil
}

// renderedSource returns the template path of a document rendered by `helm template`
// ("# Source: chart/templates/cronjob.yaml").
func renderedSource(doc []byte) string {
	for _, line := range strings.Split(string(doc), "\n") {
		line = strings.TrimSpace(line)
		if s, ok := strings.CutPrefix(line, "# Source:"); ok {
			return strings.TrimSpace(s)
		}
		if line != "" && !strings.HasPrefix(line, "#") && line != "---" {
			return ""
		}
	}
	return ""
}

func stripComments(doc []byte) []byte {
	var b bytes.Buffer
	for _, line := range strings.Split(string(doc), "\n") {
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, "#") || t == "---" {
			continue
		}
		b.WriteString(line + "\n")
	}
	return b.Bytes()
}
