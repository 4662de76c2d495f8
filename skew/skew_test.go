package skew

import (
	"strings"
	"testing"

	"github.com/phoenix-upgrade/phoenix/kube"
)

var v = kube.MustParseVersion

func TestMaxKubeletSkew(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		apiserver string
		want      int
	}{
		{"v1.14.10", 2}, {"v1.21.14", 2}, {"v1.27.16", 2}, {"v1.28.0", 3}, {"v1.37.2", 3},
	} {
		if got := MaxKubeletSkew(v(tc.apiserver)); got != tc.want {
			t.Errorf("MaxKubeletSkew(%s) = %d, want %d", tc.apiserver, got, tc.want)
		}
	}
}

func TestCheckSkew(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name               string
		apiserver, kubelet string
		wantErr            string
	}{
		{"same version is fine", "v1.21.14", "v1.21.14", ""},
		{"two behind before 1.28 is fine", "v1.16.15", "v1.14.10", ""},
		{"three behind before 1.28 is refused", "v1.17.17", "v1.14.10", "3 minors behind"},
		{"three behind from 1.28 is fine", "v1.31.0", "v1.28.15", ""},
		{"four behind from 1.28 is refused", "v1.32.0", "v1.28.15", "4 minors behind"},
		{"seed 003's 1.14 workers under a 1.21 control plane are outside the policy", "v1.21.14", "v1.14.10", "7 minors behind"},
		{"a kubelet newer than the apiserver is refused", "v1.20.15", "v1.21.0", "newer than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckSkew(v(tc.apiserver), v(tc.kubelet))
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("CheckSkew: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("CheckSkew error = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

// hopString renders a hop as "v1.16.15+K!" (K: kubelets follow, !: kubeadm needs --force).
func hopString(h Hop) string {
	s := h.To.String()
	if h.Kubelets {
		s += "+K"
	}
	if h.Force {
		s += "!"
	}
	return s
}

func TestPlanInPlace(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		from, to string
		opts     Options
		want     []string
	}{
		{
			name: "seed 003's 1.14 to 1.21 takes seven control-plane hops and kubelets jump where the two-minor skew forces them",
			from: "v1.14.5", to: "v1.21.14",
			want: []string{"v1.15.12", "v1.16.15+K!", "v1.17.17", "v1.18.20+K!", "v1.19.16", "v1.20.15+K!", "v1.21.14+K"},
		},
		{
			name: "seed 000's 1.27 to 1.28 is one hop",
			from: "v1.27.16", to: "v1.28.15",
			want: []string{"v1.28.15+K"},
		},
		{
			name: "from 1.28 the three-minor skew lets workers jump once at the end",
			from: "v1.28.15", to: "v1.31.5",
			want: []string{"v1.29.15", "v1.30.14", "v1.31.5+K"},
		},
		{
			name: "crossing 1.28 widens the allowed lag and kubeadm 1.29 stops asking for --force",
			from: "v1.26.15", to: "v1.30.14",
			want: []string{"v1.27.16", "v1.28.15!", "v1.29.15+K", "v1.30.14+K"},
		},
		{
			name: "minors still receiving patches are left for the package repository to resolve",
			from: "v1.34.1", to: "v1.37.2",
			want: []string{"v1.35", "v1.36", "v1.37.2+K"},
		},
		{
			name: "kubelets every hop when asked",
			from: "v1.14.10", to: "v1.16.15", opts: Options{KubeletsEveryHop: true},
			want: []string{"v1.15.12+K", "v1.16.15+K"},
		},
		{
			name: "a patch upgrade is one hop",
			from: "v1.24.10", to: "v1.24.17",
			want: []string{"v1.24.17+K"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p, err := PlanInPlace(v(tc.from), v(tc.to), tc.opts)
			if err != nil {
				t.Fatalf("PlanInPlace: %v", err)
			}
			var got []string
			for _, h := range p.Hops {
				got = append(got, hopString(h))
			}
			if strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Fatalf("hops = %v\nwant   %v\nnotes: %s", got, tc.want, strings.Join(p.Notes, "\n"))
			}
		})
	}
}

func TestPlanInPlaceRejects(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, from, to, wantErr string
	}{
		{"a downgrade", "v1.21.14", "v1.20.15", "older than the source"},
		{"the same version", "v1.21.14", "v1.21.14", "nothing to upgrade"},
		{"a source older than 1.14", "v1.13.12", "v1.15.0", "outside what phoenix knows"},
		{"a target newer than 1.37", "v1.36.0", "v1.38.0", "outside what phoenix knows"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := PlanInPlace(v(tc.from), v(tc.to), Options{})
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

// Every plan between any two known releases keeps every kubelet within skew of the
// control plane before and after each hop, moves the control plane one minor at a time,
// and ends with everything at the target.
func TestPlanInPlaceKeepsSkewEverywhere(t *testing.T) {
	t.Parallel()
	for a := MinKnownMinor; a <= MaxKnownMinor; a++ {
		for b := a + 1; b <= MaxKnownMinor; b++ {
			for _, opts := range []Options{{}, {KubeletsEveryHop: true}} {
				from, to := kube.Version{Major: 1, Minor: a, Patch: 0}, kube.Version{Major: 1, Minor: b, Patch: 3}
				p, err := PlanInPlace(from, to, opts)
				if err != nil {
					t.Fatalf("%s -> %s: %v", from, to, err)
				}
				if len(p.Hops) != b-a {
					t.Fatalf("%s -> %s: %d hops, want %d", from, to, len(p.Hops), b-a)
				}
				kubelet := from
				for i, h := range p.Hops {
					if h.From.Minor+1 != h.To.Minor {
						t.Fatalf("%s -> %s hop %d skips minors: %s -> %s", from, to, i, h.From, h.To)
					}
					if h.KubeletFrom != kubelet {
						t.Fatalf("%s -> %s hop %d: KubeletFrom %s, want %s", from, to, i, h.KubeletFrom, kubelet)
					}
					if err := CheckSkew(h.To, kubelet); err != nil {
						t.Fatalf("%s -> %s hop %d leaves kubelets out of skew: %v", from, to, i, err)
					}
					if h.Kubelets {
						kubelet = h.To
					}
				}
				if kubelet != to {
					t.Fatalf("%s -> %s: kubelets end at %s", from, to, kubelet)
				}
			}
		}
	}
}
