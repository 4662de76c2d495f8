package kube

import "testing"

func TestParseVersion(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in      string
		want    string
		wantErr bool
	}{
		{"v1.37.2", "v1.37.2", false},
		{"1.24.17", "v1.24.17", false},
		{"v1.28", "v1.28", false},
		{"v1.24.17-eks-abc", "v1.24.17", false},
		{"v2.0.0", "", true},
		{"latest", "", true},
		{"v1.x.3", "", true},
		{"", "", true},
	} {
		got, err := ParseVersion(tc.in)
		if (err != nil) != tc.wantErr {
			t.Errorf("ParseVersion(%q) error %v, wantErr %v", tc.in, err, tc.wantErr)
			continue
		}
		if err == nil && got.String() != tc.want {
			t.Errorf("ParseVersion(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestParseExactVersionNeedsPatch(t *testing.T) {
	t.Parallel()
	if _, err := ParseExactVersion("v1.37"); err == nil {
		t.Error("v1.37 accepted without a patch")
	}
	if v, err := ParseExactVersion("v1.37.0"); err != nil || v.Patch != 0 {
		t.Errorf("v1.37.0: %v %v", v, err)
	}
}

func TestVersionCompare(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"v1.24.17", "v1.37.2", -1},
		{"v1.37.2", "v1.37.2", 0},
		{"v1.37.10", "v1.37.9", 1},
		{"v1.9.0", "v1.10.0", -1},
		{"v1.28", "v1.28.0", 0},
	} {
		if got := MustParseVersion(tc.a).Compare(MustParseVersion(tc.b)); got != tc.want {
			t.Errorf("%s vs %s = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}
