package volumes

import (
	"errors"
	"fmt"
	"os"
	"regexp"

	"github.com/phoenix-upgrade/phoenix/state"
)

// ResultPath is where the latest volume move of the workspace is kept.
func ResultPath(ws *state.Workspace) string { return ws.Path("volumes", "latest.json") }

// FinalDeltaPath is where the latest final delta of the workspace is kept.
func FinalDeltaPath(ws *state.Workspace) string { return ws.Path("volumes", "final-delta.json") }

// SaveResult keeps the result of a move (migrate saves it after Move) for verify and for
// a final delta at cutover. The write is atomic and private (0600). A Result holds names,
// counts and Velero's messages, never credentials; the query of any URL in a message (where
// a pre-signed URL carries its signature) is masked all the same.
func SaveResult(ws *state.Workspace, r *Result) error {
	return save(ResultPath(ws), r)
}

// LoadResult reads the saved move; nil, nil when there is none.
func LoadResult(ws *state.Workspace) (*Result, error) {
	return load(ResultPath(ws))
}

// SaveFinalDelta keeps the result of the final delta (cutover saves it).
func SaveFinalDelta(ws *state.Workspace, r *Result) error {
	return save(FinalDeltaPath(ws), r)
}

// LoadFinalDelta reads the saved final delta; nil, nil when there is none.
func LoadFinalDelta(ws *state.Workspace) (*Result, error) {
	return load(FinalDeltaPath(ws))
}

func save(path string, r *Result) error {
	if r == nil {
		return errors.New("no volume move result to save")
	}
	c := *r
	c.Warnings, c.Errors = masked(r.Warnings), masked(r.Errors)
	if err := state.WriteJSONAtomic(path, &c, 0o600); err != nil {
		return fmt.Errorf("saving the volume move record: %w", err)
	}
	return nil
}

func load(path string) (*Result, error) {
	var r Result
	if err := state.ReadJSON(path, &r); err != nil {
		if os.IsNotExist(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("reading the volume move record: %w", err)
	}
	return &r, nil
}

// urlQuery matches the query of a URL: pre-signed object storage URLs carry their
// signature there.
var urlQuery = regexp.MustCompile(`(https?://[^\s?"']+)\?[^\s"']*`)

func masked(lines []string) []string {
	if lines == nil {
		return nil
	}
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = urlQuery.ReplaceAllString(l, "$1?***")
	}
	return out
}
