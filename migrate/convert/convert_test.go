package convert

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/phoenix-upgrade/phoenix/kube"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/ with the current output")

var (
	targetRE       = regexp.MustCompile(`(?m)^# target: (v\S+)$`)
	ingressClassRE = regexp.MustCompile(`(?m)^# choice: ingress-class=(\S+)$`)
)

// goldenDoc is what the golden files hold for each input document.
type goldenDoc struct {
	Object string         `json:"object"`
	Error  string         `json:"error,omitempty"`
	Notes  []string       `json:"notes,omitempty"`
	Output map[string]any `json:"output,omitempty"`
}

// TestConvertGolden converts every testdata/convert/*.yaml (against the target named by
// a "# target: vX.Y" line, v1.37 by default; with the Choices of a "# choice:
// ingress-class=field" line, the default choices otherwise) and compares objects, notes and errors with
// the .golden file next to it. Run `go test ./migrate/convert -run Golden -update` to
// rewrite the golden files, then review the diff.
func TestConvertGolden(t *testing.T) {
	t.Parallel()
	inputs, err := filepath.Glob("testdata/convert/*.yaml")
	if err != nil || len(inputs) == 0 {
		t.Fatalf("no inputs under testdata/convert: %v", err)
	}
	for _, in := range inputs {
		name := strings.TrimSuffix(filepath.Base(in), ".yaml")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			target := "v1.37"
			if m := targetRE.FindSubmatch(data); m != nil {
				target = string(m[1])
			}
			served := ServedBy(kube.MustParseVersion(target))
			var choices Choices
			if m := ingressClassRE.FindSubmatch(data); m != nil {
				choices.IngressClass = IngressClassChoice(m[1])
			}
			reg := DefaultWith(choices)
			var docs []goldenDoc
			for i, raw := range bytes.Split(data, []byte("\n---\n")) {
				var obj map[string]any
				if err := yaml.Unmarshal(raw, &obj); err != nil || obj == nil {
					t.Fatalf("document %d: not an object: %v", i, err)
				}
				u := &unstructured.Unstructured{Object: obj}
				before := u.DeepCopy()
				out, notes, err := reg.Convert(u, served)
				if !equalJSON(t, before.Object, u.Object) {
					t.Errorf("document %d: Convert modified its input", i)
				}
				g := goldenDoc{Object: ObjectName(u) + " " + u.GetAPIVersion() + " (target " + target + ")"}
				for _, n := range notes {
					g.Notes = append(g.Notes, n.String())
				}
				if err != nil {
					g.Error = err.Error()
				} else {
					g.Output = out.Object
				}
				docs = append(docs, g)
			}
			got, err := yaml.Marshal(docs)
			if err != nil {
				t.Fatal(err)
			}
			golden := strings.TrimSuffix(in, ".yaml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("output differs from %s (run with -update and review the diff):\n%s", golden, lineDiff(string(want), string(got)))
			}
		})
	}
}

func equalJSON(t *testing.T, a, b any) bool {
	t.Helper()
	ja, err1 := yaml.Marshal(a)
	jb, err2 := yaml.Marshal(b)
	if err1 != nil || err2 != nil {
		t.Fatalf("marshal: %v %v", err1, err2)
	}
	return bytes.Equal(ja, jb)
}

// lineDiff shows the first lines that differ, enough to see what changed.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	shown := 0
	for i := 0; i < max(len(w), len(g)) && shown < 20; i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			b.WriteString("line " + strconv.Itoa(i+1) + ":\n  want: " + wl + "\n  got:  " + gl + "\n")
			shown++
		}
	}
	return b.String()
}
