package migrate

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
)

// Unread is something phoenix could not read on blue: an API group whose discovery
// failed, or a resource it may not (or cannot) list. What it holds is not moved.
type Unread struct {
	// Resource is "resource.group" (or a group/version whose discovery failed).
	Resource string `json:"resource"`
	// Namespace is where the LIST failed ("" for cluster-scoped resources and discovery).
	Namespace string `json:"namespace,omitempty"`
	// Missing is the permission blue's credentials lack, when the failure is Forbidden.
	Missing string `json:"missing,omitempty"`
	Reason  string `json:"reason"`
}

func (u Unread) String() string {
	s := u.Resource
	if u.Namespace != "" {
		s += " in namespace " + u.Namespace
	}
	if u.Missing != "" {
		s += " (missing permission: " + u.Missing + ")"
	}
	return s + ": " + u.Reason
}

// unreadList records a failed LIST of gr in ns on blue.
func unreadList(gr schema.GroupResource, ns string, err error) Unread {
	u := Unread{Resource: gr.String(), Namespace: ns, Reason: err.Error()}
	if apierrors.IsForbidden(err) {
		group := gr.Group
		if group == "" {
			group = `"" (core)`
		}
		u.Missing = fmt.Sprintf("list %s in API group %s", gr.Resource, group)
		if ns != "" {
			u.Missing += " in namespace " + ns
		} else {
			u.Missing += " (cluster-wide)"
		}
	}
	return u
}

// unreadGroups turns a partial discovery failure into one Unread per group/version.
func unreadGroups(err error) []Unread {
	var gerr *discovery.ErrGroupDiscoveryFailed
	if !errors.As(err, &gerr) {
		return []Unread{{Resource: "API discovery", Reason: err.Error()}}
	}
	var out []Unread
	for gv, e := range gerr.Groups {
		out = append(out, Unread{Resource: gv.String(), Reason: "API discovery failed: " + e.Error()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Resource < out[j].Resource })
	return out
}

// listFailure reports the LIST errors that leave objects unread (as opposed to errors
// that stop the migration: an unreachable blue, a cancelled context).
func listFailure(err error) bool {
	return apierrors.IsNotFound(err) || apierrors.IsMethodNotSupported(err) || apierrors.IsForbidden(err)
}

// complete stops the migration, before anything is written, when part of blue could not
// be read, unless o.AllowPartial: then what is left behind is listed in the result.
func (r *run) complete(ctx context.Context) error {
	if len(r.res.Unread) == 0 {
		return ctx.Err()
	}
	var lines []string
	for _, u := range r.res.Unread {
		lines = append(lines, u.String())
	}
	if !r.o.AllowPartial {
		return fmt.Errorf("blue could not be read completely, so the migration would silently leave objects behind; nothing was written:\n  %s\ngrant blue's credentials the missing permissions (or repair the API groups), or rerun with --allow-partial to move the rest and leave these behind",
			strings.Join(lines, "\n  "))
	}
	for _, u := range r.res.Unread {
		m := r.res.messages(u.Namespace)
		m.Warnings = append(m.Warnings, "LEFT BEHIND (--allow-partial): "+u.String())
	}
	return ctx.Err()
}

// addUnread records u once (a resource may be listed by several phases).
func (r *Result) addUnread(u Unread) {
	for _, have := range r.Unread {
		if have.Resource == u.Resource && have.Namespace == u.Namespace {
			return
		}
	}
	r.Unread = append(r.Unread, u)
}
