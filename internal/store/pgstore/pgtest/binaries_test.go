package pgtest

import (
	"slices"
	"testing"
)

func TestCompareVersions(t *testing.T) {
	vs := []string{"9.6", "16", "15", "10", "16.2"}
	slices.SortFunc(vs, compareVersions)
	if want := []string{"9.6", "10", "15", "16", "16.2"}; !slices.Equal(vs, want) {
		t.Errorf("sorted %v, want %v", vs, want)
	}
}
