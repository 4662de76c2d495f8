package images

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestModulePathReadsTheModuleLine(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, gomod, want string }{
		{"plain", "module github.com/phoenix-upgrade/phoenix\n\ngo 1.26\n", ModulePath},
		{"quoted with a comment", "// header\nmodule \"github.com/phoenix-upgrade/phoenix\" // c\n", ModulePath},
		{"another module", "module example.com/other\n", "example.com/other"},
		{"a look-alike directive", "modules x\n", ""},
		{"none", "go 1.26\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := modulePath([]byte(tt.gomod)); got != tt.want {
				t.Errorf("modulePath = %q, want %q", got, tt.want)
			}
		})
	}
}

// Not parallel: it sets PHOENIX_SOURCE.
func TestFindSource(t *testing.T) {
	root := t.TempDir()
	phoenix := filepath.Join(root, "phoenix")
	other := filepath.Join(root, "other")
	deep := filepath.Join(phoenix, "a", "b")
	for _, d := range []string{deep, filepath.Join(other, "sub")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeTextFile(t, filepath.Join(phoenix, "go.mod"), "module "+ModulePath+"\n")
	writeTextFile(t, filepath.Join(other, "go.mod"), "module example.com/other\n")

	tests := []struct {
		name, env, cwd, want, wantErr string
	}{
		{name: "walks up from a subdirectory", cwd: deep, want: phoenix},
		{name: "skips another module's go.mod", cwd: filepath.Join(other, "sub"), wantErr: "set PHOENIX_SOURCE"},
		{name: "prefers PHOENIX_SOURCE", env: phoenix, cwd: other, want: phoenix},
		{name: "rejects a PHOENIX_SOURCE that is not phoenix", env: other, cwd: deep, wantErr: "not a phoenix checkout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(EnvSource, tt.env)
			got, err := FindSource(tt.cwd)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("FindSource(%s) = %q, %v; want an error mentioning %q", tt.cwd, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("FindSource(%s) = %q, %v; want %q", tt.cwd, got, err, tt.want)
			}
		})
	}
}

func writeTextFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
