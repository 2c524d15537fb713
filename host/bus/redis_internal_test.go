package bus

import "testing"

func TestCompareIDs(t *testing.T) {
	t.Parallel()
	cases := []struct {
		a, b string
		want int
	}{
		{"0-0", "0-0", 0},
		{"1-0", "0-0", 1},
		{"1700000000000-5", "1700000000000-12", -1}, // numeric, not lexical
		{"999-0", "1000-0", -1},
		{"1700000000001-0", "1700000000000-99", 1},
	}
	for _, tc := range cases {
		if got := compareIDs(tc.a, tc.b); got != tc.want {
			t.Errorf("compareIDs(%s, %s) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}
