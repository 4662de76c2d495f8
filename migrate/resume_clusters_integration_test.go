package migrate_test

import (
	"context"
	"strings"
	"testing"

	"github.com/phoenix-upgrade/phoenix/migrate"
)

// Issue 13, item 7: --resume continues the interrupted run only against its own clusters.
func TestResumeRefusesAnotherBlueOrGreen(t *testing.T) {
	blue, green := clusters(t)
	const ns = "resume-clusters"
	createAll(t, blue.RESTConfig(), yamlObjects(t, `
apiVersion: v1
kind: Namespace
metadata: {name: `+ns+`}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: `+ns+`}
data: {k: v}`))
	ctx := context.Background()
	root := t.TempDir()
	base := migrate.Options{Blue: blue.RESTConfig(), Green: green.RESTConfig(), BlueName: "blue", GreenName: "green", Namespaces: []string{ns}, JournalRoot: root}
	if res, err := migrate.Run(ctx, base); err != nil || res.Failed() {
		t.Fatalf("first run: %v", err)
	}
	for _, tc := range []struct {
		name string
		edit func(*migrate.Options)
		want string
	}{
		{"another green by name", func(o *migrate.Options) { o.GreenName = "green-2" }, `moved objects with green "green", not "green-2"`},
		{"another blue under the same name", func(o *migrate.Options) { o.Blue = green.RESTConfig() }, "moved objects with another blue cluster than blue"},
		{"another green under the same name", func(o *migrate.Options) { o.Green = blue.RESTConfig() }, "moved objects with another green cluster than green"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := base
			o.Resume = true
			tc.edit(&o)
			_, err := migrate.Run(ctx, o)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "rerun without --resume") {
				t.Errorf("resume with %s: err %v, want it to say %q and what to do", tc.name, err, tc.want)
			}
		})
	}
	o := base
	o.Resume = true
	if res, err := migrate.Run(ctx, o); err != nil || res.Failed() {
		t.Errorf("resume with the same clusters: %v", err)
	}
}
