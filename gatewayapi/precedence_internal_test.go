package gatewayapi

import (
	"cmp"
	"testing"
)

func TestByNamespacedNameSortsTheJoinedString(t *testing.T) {
	names := [][2]string{
		{"team", "y"}, {"team-a", "x"}, {"team", "a"}, {"t", "zz"}, {"team", ""}, {"", "team"},
		{"a", "b-c"}, {"a-b", "c"}, {"ab", "c"}, {"a", "b"}, {"team", "y"},
	}
	for _, a := range names {
		for _, b := range names {
			want := cmp.Compare(a[0]+"/"+a[1], b[0]+"/"+b[1])
			if got := byNamespacedName(a[0], a[1], b[0], b[1]); got != want {
				t.Errorf("byNamespacedName(%q/%q, %q/%q) = %d, want %d", a[0], a[1], b[0], b[1], got, want)
			}
		}
	}
}
