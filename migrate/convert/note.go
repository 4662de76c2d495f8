package convert

import (
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Kinds of Note.
const (
	// NoteDefault: a field was unset and the old and new versions default it differently;
	// the converter wrote the old default explicitly (or chose one) so behaviour is kept.
	NoteDefault = "default"
	// NoteDropped: a field has no place in the new version and was removed.
	NoteDropped = "dropped"
	// NoteLossy: the new version cannot say exactly what the old one said; the converter
	// chose the closest translation and says what differs.
	NoteLossy = "lossy"
	// NoteInfo: a faithful rewrite worth knowing about (a field moved or renamed).
	NoteInfo = "info"
)

// Note is one thing a converter reports: a default it chose, a field it dropped, a lossy
// translation.
type Note struct {
	// Object names the object: "Kind namespace/name" or "Kind name".
	Object string `json:"object"`
	// From and To are the apiVersions of the conversion step that wrote the note.
	From string `json:"from"`
	To   string `json:"to"`
	// Kind is NoteDefault, NoteDropped, NoteLossy or NoteInfo.
	Kind string `json:"kind"`
	// Field is the field path the note is about, when there is one (spec.selector).
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

func (n Note) String() string {
	f := ""
	if n.Field != "" {
		f = n.Field + ": "
	}
	return fmt.Sprintf("%s (%s -> %s) %s: %s%s", n.Object, n.From, n.To, n.Kind, f, n.Message)
}

// ObjectName renders "Kind namespace/name" (or "Kind name" for cluster-scoped objects)
// for notes and errors.
func ObjectName(obj *unstructured.Unstructured) string {
	name := obj.GetName()
	if name == "" {
		name = obj.GetGenerateName() + "*"
	}
	if ns := obj.GetNamespace(); ns != "" {
		name = ns + "/" + name
	}
	return obj.GetKind() + " " + name
}

// noter collects the notes of one conversion step.
type noter struct {
	object   string
	from, to schema.GroupVersion
	notes    []Note
}

func (n *noter) add(kind, field, format string, args ...any) {
	n.notes = append(n.notes, Note{
		Object: n.object, From: n.from.String(), To: n.to.String(),
		Kind: kind, Field: field, Message: fmt.Sprintf(format, args...),
	})
}

func (n *noter) defaulted(field, format string, args ...any) {
	n.add(NoteDefault, field, format, args...)
}
func (n *noter) dropped(field, format string, args ...any) {
	n.add(NoteDropped, field, format, args...)
}
func (n *noter) lossy(field, format string, args ...any) { n.add(NoteLossy, field, format, args...) }
func (n *noter) info(field, format string, args ...any)  { n.add(NoteInfo, field, format, args...) }
