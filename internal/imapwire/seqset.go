package imapwire

import (
	"iter"
	"math"
	"slices"
	"strconv"
)

// SeqRange is seq-number ":" seq-number, or one seq-number when Start ==
// Stop (RFC 9051 9). 0 stands for "*", the largest number in use.
type SeqRange struct {
	Start, Stop uint32
}

// SeqSet is a sequence-set of message sequence numbers or UIDs (RFC 9051 9).
// Ranges may be in any order and overlap; "*" (0) is resolved against the
// mailbox by Contains, Resolve, All and Highest.
type SeqSet []SeqRange

// NumSet is a sequence-set argument as a command sends it: ranges and/or
// "$", the result saved by the last SEARCH ... RETURN (SAVE) (RFC 5182 2.1).
type NumSet struct {
	Set   SeqSet
	Saved bool // "$" was given
}

// ParseSeqSet parses a sequence-set without "$", e.g. "1:*,3,5:7".
func ParseSeqSet(s string) (SeqSet, error) {
	ns, ok := parseNumSet(s)
	if !ok || ns.Saved {
		return nil, &Error{Kind: KindSyntax, Text: "invalid sequence set"}
	}
	return ns.Set, nil
}

// ParseNumSet parses a sequence-set that may contain "$" (RFC 5182 2.1).
func ParseNumSet(s string) (NumSet, error) {
	ns, ok := parseNumSet(s)
	if !ok {
		return NumSet{}, &Error{Kind: KindSyntax, Text: "invalid sequence set"}
	}
	return ns, nil
}

// parseNumSet parses (seq-number / seq-range / "$") *("," ...). Every number
// is an nz-number (no leading zero) or "*".
func parseNumSet[S ~string | ~[]byte](s S) (NumSet, bool) {
	var ns NumSet
	i := 0
	num := func() (uint32, bool) {
		if i < len(s) && s[i] == '*' {
			i++
			return 0, true
		}
		if i >= len(s) || s[i] < '1' || s[i] > '9' {
			return 0, false
		}
		var n uint64
		for ; i < len(s) && isDigit(s[i]); i++ {
			n = n*10 + uint64(s[i]-'0')
			if n > math.MaxUint32 {
				return 0, false
			}
		}
		return uint32(n), true
	}
	for {
		if i < len(s) && s[i] == '$' {
			ns.Saved = true
			i++
		} else {
			a, ok := num()
			if !ok {
				return NumSet{}, false
			}
			b := a
			if i < len(s) && s[i] == ':' {
				i++
				if b, ok = num(); !ok {
					return NumSet{}, false
				}
			}
			ns.Set = append(ns.Set, SeqRange{a, b})
		}
		if i == len(s) {
			return ns, true
		}
		if s[i] != ',' {
			return NumSet{}, false
		}
		i++
	}
}

// Resolve returns the set n stands for, given the saved search result.
func (n NumSet) Resolve(saved SeqSet) SeqSet {
	if !n.Saved {
		return n.Set
	}
	return append(slices.Clip(n.Set), saved...).Canonical()
}

// String formats n canonically, with "$" last.
func (n NumSet) String() string {
	s := n.Set.String()
	if !n.Saved {
		return s
	}
	if s == "" {
		return "$"
	}
	return s + ",$"
}

// AddNum adds the numbers ns; adding in ascending order stays compact.
func (s *SeqSet) AddNum(ns ...uint32) {
	for _, n := range ns {
		if k := len(*s); k > 0 {
			last := &(*s)[k-1]
			if last.Start != 0 && last.Start <= last.Stop && last.Stop != math.MaxUint32 && last.Stop+1 == n {
				last.Stop = n
				continue
			}
		}
		*s = append(*s, SeqRange{n, n})
	}
}

// AddRange adds start:stop (either may be 0 for "*").
func (s *SeqSet) AddRange(start, stop uint32) { *s = append(*s, SeqRange{start, stop}) }

// Dynamic reports whether s mentions "*", so that its meaning depends on
// the mailbox.
func (s SeqSet) Dynamic() bool {
	for _, r := range s {
		if r.Start == 0 || r.Stop == 0 {
			return true
		}
	}
	return false
}

// Canonical returns the equivalent set with each range ascending, sorted,
// overlapping and adjacent ranges merged, and all ranges with "*" folded
// into at most one, last ("n:*" or "*"). The merge treats numbers above
// "*" as absent, which is how UIDs behave (RFC 9051 6.4.9); e.g. "3:5,4:*"
// becomes "3:*".
func (s SeqSet) Canonical() SeqSet {
	out := make(SeqSet, 0, len(s))
	var starFrom uint32 // lowest n of the "n:*" ranges
	starRange, star := false, false
	for _, r := range s {
		a, b := r.Start, r.Stop
		switch {
		case a == 0 && b == 0:
			star = true
		case a == 0 || b == 0:
			n := max(a, b)
			if !starRange || n < starFrom {
				starFrom = n
			}
			starRange = true
		default:
			out = append(out, SeqRange{min(a, b), max(a, b)})
		}
	}
	out = mergeStatic(out)
	switch {
	case starRange:
		// "n:*" with max < n is {max}, so a static range reaching n-1 or
		// beyond joins it whatever max is.
		for k := len(out); k > 0 && uint64(out[k-1].Stop)+1 >= uint64(starFrom); k-- {
			starFrom = min(starFrom, out[k-1].Start)
			out = out[:k-1]
		}
		out = append(out, SeqRange{starFrom, 0})
	case star:
		out = append(out, SeqRange{0, 0})
	}
	return out
}

// mergeStatic sorts ascending ranges without "*" and merges them.
func mergeStatic(rs SeqSet) SeqSet {
	slices.SortFunc(rs, func(x, y SeqRange) int {
		switch {
		case x.Start < y.Start:
			return -1
		case x.Start > y.Start:
			return 1
		}
		return 0
	})
	out := rs[:0]
	for _, r := range rs {
		if k := len(out); k > 0 && uint64(r.Start) <= uint64(out[k-1].Stop)+1 {
			out[k-1].Stop = max(out[k-1].Stop, r.Stop)
			continue
		}
		out = append(out, r)
	}
	return out
}

// String formats s canonically (see Canonical), e.g. "1:3,5,7:*".
func (s SeqSet) String() string {
	return string(s.Canonical().appendTo(nil))
}

// appendTo formats s as it is, without canonicalizing.
func (s SeqSet) appendTo(b []byte) []byte {
	num := func(n uint32) {
		if n == 0 {
			b = append(b, '*')
		} else {
			b = strconv.AppendUint(b, uint64(n), 10)
		}
	}
	for i, r := range s {
		if i > 0 {
			b = append(b, ',')
		}
		num(r.Start)
		if r.Stop != r.Start {
			b = append(b, ':')
			num(r.Stop)
		}
	}
	return b
}

// Resolve returns s with "*" replaced by max (ranges with "*" dropped when max
// is 0, an empty mailbox), in canonical order without "*". Numbers above max
// are kept: for sequence numbers they are an error the caller reports (see
// Highest), for UIDs they name nothing.
func (s SeqSet) Resolve(max uint32) SeqSet {
	out := make(SeqSet, 0, len(s))
	for _, r := range s {
		a, b := r.Start, r.Stop
		if a == 0 || b == 0 {
			if max == 0 {
				continue
			}
			if a == 0 {
				a = max
			}
			if b == 0 {
				b = max
			}
		}
		out = append(out, SeqRange{min(a, b), maxU32(a, b)})
	}
	return mergeStatic(out)
}

func maxU32(a, b uint32) uint32 { return max(a, b) }

// Contains reports whether n is in s when "*" is max. n is meant to be a
// number in use (1 <= n <= max); with max 0 "*" matches nothing.
func (s SeqSet) Contains(n, max uint32) bool {
	for _, r := range s {
		a, b := r.Start, r.Stop
		if a == 0 || b == 0 {
			if max == 0 {
				continue
			}
			if a == 0 {
				a = max
			}
			if b == 0 {
				b = max
			}
		}
		if a > b {
			a, b = b, a
		}
		if a <= n && n <= b {
			return true
		}
	}
	return false
}

// Highest returns the largest number s names when "*" is max, 0 for none. A
// sequence-number set with Highest(count) > count is invalid (RFC 9051 9:
// seq-number).
func (s SeqSet) Highest(max uint32) uint32 {
	var h uint32
	for _, r := range s.Resolve(max) {
		h = maxU32(h, r.Stop)
	}
	return h
}

// All yields, in ascending order and once each, the numbers from 1 to max
// that s contains with "*" as max. It is for sequence numbers or other dense
// ranges: it takes time proportional to the numbers it yields.
func (s SeqSet) All(max uint32) iter.Seq[uint32] {
	rs := s.Resolve(max)
	return func(yield func(uint32) bool) {
		for _, r := range rs {
			if r.Start > max {
				return
			}
			stop := min(r.Stop, max)
			for n := r.Start; ; n++ {
				if !yield(n) {
					return
				}
				if n == stop {
					break
				}
			}
		}
	}
}

// Expand returns All(max) as a slice.
func (s SeqSet) Expand(max uint32) []uint32 { return slices.Collect(s.All(max)) }
