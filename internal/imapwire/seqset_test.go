package imapwire

import (
	"fmt"
	"slices"
	"testing"
)

func TestParseSeqSet(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want SeqSet // nil: invalid
	}{
		{"1", SeqSet{{1, 1}}},
		{"*", SeqSet{{0, 0}}},
		{"1:*", SeqSet{{1, 0}}},
		{"*:4", SeqSet{{0, 4}}},
		{"1:*,3,5:7", SeqSet{{1, 0}, {3, 3}, {5, 7}}},
		{"7:5", SeqSet{{7, 5}}},
		{"4294967295", SeqSet{{4294967295, 4294967295}}},
		{"4294967296", nil},
		{"0", nil},
		{"01", nil},
		{"", nil},
		{",", nil},
		{"1,", nil},
		{"1::2", nil},
		{"1:2:3", nil},
		{"$", nil}, // only ParseNumSet and Parser.SeqSet take "$"
		{"a", nil},
		{"-1", nil},
	}
	for _, tt := range tests {
		got, err := ParseSeqSet(tt.in)
		if tt.want == nil {
			if err == nil {
				t.Errorf("%q: got %v, want error", tt.in, got)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("%q: got %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	ns, err := ParseNumSet("$")
	if err != nil || !ns.Saved || len(ns.Set) != 0 || ns.String() != "$" {
		t.Errorf("$: %+v %v", ns, err)
	}
	ns, err = ParseNumSet("5,$,1")
	if err != nil || !ns.Saved || ns.String() != "1,5,$" {
		t.Errorf("5,$,1: %+v %v", ns, err)
	}
	if got := ns.Resolve(SeqSet{{2, 4}}).String(); got != "1:5" {
		t.Errorf("Resolve: %s", got)
	}
	if got := (NumSet{Set: SeqSet{{3, 3}}}).Resolve(SeqSet{{9, 9}}).String(); got != "3" {
		t.Errorf("Resolve without $: %s", got)
	}
}

func TestCanonical(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"1", "1"},
		{"3,1,2", "1:3"},
		{"5:7,1:3", "1:3,5:7"},
		{"7:5", "5:7"},
		{"1:3,2:6,8", "1:6,8"},
		{"1:3,4:6", "1:6"},
		{"*", "*"},
		{"*,*", "*"},
		{"*:4", "4:*"},
		{"3,*", "3,*"},
		{"5:*,*", "5:*"},
		{"9:*,5:*", "5:*"},
		{"3:5,4:*", "3:*"},
		{"3:5,6:*", "3:*"},
		{"3:4,6:*", "3:4,6:*"},
		{"1:2,3:4,5:*,10", "1:*"},
		{"4294967294:4294967295,1", "1,4294967294:4294967295"},
		{"4294967295,4294967295:*", "4294967295:*"},
	}
	for _, tt := range tests {
		s, err := ParseSeqSet(tt.in)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.String(); got != tt.want {
			t.Errorf("%q: got %q, want %q", tt.in, got, tt.want)
		}
		// Canonical keeps the meaning for every mailbox size.
		c := s.Canonical()
		for max := uint32(0); max < 12; max++ {
			if a, b := s.Expand(max), c.Expand(max); !slices.Equal(a, b) {
				t.Errorf("%q with max %d: %v, canonical %v", tt.in, max, a, b)
			}
		}
	}
}

func TestSeqSetResolve(t *testing.T) {
	t.Parallel()
	s, _ := ParseSeqSet("2,4:7,9,12:*")
	if got := fmt.Sprint(s.Expand(15)); got != "[2 4 5 6 7 9 12 13 14 15]" {
		t.Errorf("RFC 9051 example: %s", got)
	}
	s, _ = ParseSeqSet("*:4,5:7")
	if got := fmt.Sprint(s.Expand(10)); got != "[4 5 6 7 8 9 10]" {
		t.Errorf("RFC 9051 example 2: %s", got)
	}
	s, _ = ParseSeqSet("559:*")
	if !s.Contains(100, 100) || s.Contains(99, 100) || s.Resolve(100).String() != "100:559" {
		t.Errorf("559:* with last UID 100: %v", s.Resolve(100))
	}
	if s.Highest(100) != 559 || s.Highest(600) != 600 {
		t.Errorf("Highest: %d %d", s.Highest(100), s.Highest(600))
	}
	if s.Contains(1, 0) || len(s.Resolve(0)) != 0 || len(s.Expand(0)) != 0 {
		t.Error("* in an empty mailbox")
	}
	s, _ = ParseSeqSet("3,1:2,8")
	if !s.Contains(8, 0) || s.Contains(4, 10) || s.Highest(5) != 8 || s.Dynamic() {
		t.Error("static set")
	}
	if got := fmt.Sprint(s.Expand(5)); got != "[1 2 3]" {
		t.Errorf("Expand clips to max: %s", got)
	}
	s, _ = ParseSeqSet("4294967290:*")
	if got := len(s.Expand(4294967295)); got != 6 {
		t.Errorf("Expand at the top: %d", got)
	}
	n := 0
	for range s.All(4294967295) {
		n++
		break
	}
	if n != 1 || !s.Dynamic() {
		t.Error("All stops")
	}
}

func TestSeqSetAdd(t *testing.T) {
	t.Parallel()
	var s SeqSet
	s.AddNum(1, 2, 3, 5, 6, 9, 4294967295)
	if len(s) != 4 || s.String() != "1:3,5:6,9,4294967295" {
		t.Errorf("AddNum: %v", s)
	}
	s.AddNum(4)
	s.AddRange(20, 0)
	if got := s.String(); got != "1:6,9,20:*" {
		t.Errorf("AddNum/AddRange: %s", got)
	}
	var w SeqSet
	w.AddRange(0, 0)
	w.AddNum(1)
	if got := w.String(); got != "1,*" {
		t.Errorf("AddNum after *: %s", got)
	}
}

func FuzzSeqSet(f *testing.F) {
	for _, s := range []string{"1", "1:*", "*:4,5:7", "2,4:7,9,12:*", "$", "1,$"} {
		f.Add(s, uint32(10))
	}
	f.Fuzz(func(t *testing.T, in string, max uint32) {
		ns, err := ParseNumSet(in)
		if err != nil {
			return
		}
		max %= 64
		s := ns.Set
		c := s.Canonical()
		back, err := ParseSeqSet(c.String())
		if len(c) > 0 && (err != nil || !slices.Equal(back, c)) {
			t.Fatalf("%q: canonical %v formats as %q, parses as %v %v", in, c, c.String(), back, err)
		}
		if !slices.Equal(c.Canonical(), c) {
			t.Fatalf("%q: Canonical not idempotent", in)
		}
		a, b := s.Expand(max), c.Expand(max)
		if !slices.Equal(a, b) {
			t.Fatalf("%q max %d: %v, canonical %v", in, max, a, b)
		}
		for n := uint32(1); n <= max; n++ {
			if s.Contains(n, max) != slices.Contains(a, n) {
				t.Fatalf("%q: Contains(%d, %d) disagrees with Expand", in, n, max)
			}
		}
	})
}
