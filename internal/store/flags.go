package store

import (
	"fmt"
	"sort"
	"strings"
)

// Stored bits of the system flags (RFC 9051 2.3.2). The values are part of
// every backend's stored data: never renumber them.
const (
	FlagBitSeen     int64 = 1 << 0
	FlagBitAnswered int64 = 1 << 1
	FlagBitFlagged  int64 = 1 << 2
	FlagBitDeleted  int64 = 1 << 3
	FlagBitDraft    int64 = 1 << 4
)

// systemFlags is in alphabetical order: Message.Flags lists system flags in
// this order. A function, not a variable: the package keeps no mutable state.
func systemFlags() [5]struct {
	name string
	bit  int64
} {
	return [5]struct {
		name string
		bit  int64
	}{
		{FlagAnswered, FlagBitAnswered},
		{FlagDeleted, FlagBitDeleted},
		{FlagDraft, FlagBitDraft},
		{FlagFlagged, FlagBitFlagged},
		{FlagSeen, FlagBitSeen},
	}
}

// SystemFlagBit returns the stored bit of a system flag, matched
// case-insensitively; ok is false for a keyword (or an unknown backslash flag).
func SystemFlagBit(flag string) (bit int64, ok bool) {
	for _, sf := range systemFlags() {
		if strings.EqualFold(flag, sf.name) {
			return sf.bit, true
		}
	}
	return 0, false
}

// FlagSet is the stored form of a message's flags: system flags as bits,
// keywords as a list (a backend stores them as KeywordString and reads them
// back with DecodeKeywords).
type FlagSet struct {
	Bits     int64    // FlagBit* values
	Keywords []string // sorted, unique (case-insensitively), original case kept
}

// ParseFlags validates and canonicalises flags. System flags are case-insensitive
// (RFC 9051 2.3.2); \Recent cannot be stored (RFC 9051 dropped it; RFC 3501 made it
// server-managed); any other backslash flag is unknown. Keywords are atoms.
// Errors wrap ErrInvalidFlag.
func ParseFlags(flags []string) (FlagSet, error) {
	var fs FlagSet
	for _, f := range flags {
		if strings.HasPrefix(f, `\`) {
			bit, ok := SystemFlagBit(f)
			if !ok {
				return fs, fmt.Errorf("flag %q: %w", f, ErrInvalidFlag)
			}
			fs.Bits |= bit
			continue
		}
		if !validKeyword(f) {
			return fs, fmt.Errorf("keyword %q: %w", f, ErrInvalidFlag)
		}
		fs.Keywords = addKeyword(fs.Keywords, f)
	}
	return fs, nil
}

// validKeyword: an atom (RFC 9051 9 "flag-keyword = atom") of bounded length.
func validKeyword(k string) bool {
	if k == "" || len(k) > 100 {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`(){%*"\]`, c) >= 0 {
			return false
		}
	}
	return true
}

func addKeyword(list []string, k string) []string {
	for _, x := range list {
		if strings.EqualFold(x, k) {
			return list
		}
	}
	list = append(list, k)
	sort.Slice(list, func(i, j int) bool { return strings.ToLower(list[i]) < strings.ToLower(list[j]) })
	return list
}

func removeKeyword(list []string, k string) []string {
	out := list[:0:0]
	for _, x := range list {
		if !strings.EqualFold(x, k) {
			out = append(out, x)
		}
	}
	return out
}

// DecodeKeywords is the inverse of FlagSet.KeywordString.
func DecodeKeywords(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, " ")
}

// KeywordString is the stored form of the keywords: space-separated, sorted.
// Keywords are atoms, so they hold no space.
func (fs FlagSet) KeywordString() string { return strings.Join(fs.Keywords, " ") }

// Names lists the flags: system flags in a fixed order, then keywords
// (the form of Message.Flags).
func (fs FlagSet) Names() []string {
	out := make([]string, 0, 5+len(fs.Keywords))
	for _, sf := range systemFlags() {
		if fs.Bits&sf.bit != 0 {
			out = append(out, sf.name)
		}
	}
	return append(out, fs.Keywords...)
}

// Has reports whether a flag (system flag or keyword, case-insensitively) is set.
func (fs FlagSet) Has(flag string) bool {
	if bit, ok := SystemFlagBit(flag); ok {
		return fs.Bits&bit != 0
	}
	for _, k := range fs.Keywords {
		if strings.EqualFold(k, flag) {
			return true
		}
	}
	return false
}

// Apply combines the current flags with an operation (STORE FLAGS/+FLAGS/-FLAGS).
func (fs FlagSet) Apply(op FlagOp, arg FlagSet) FlagSet {
	switch op {
	case FlagsSet:
		return FlagSet{Bits: arg.Bits, Keywords: append([]string(nil), arg.Keywords...)}
	case FlagsAdd:
		out := FlagSet{Bits: fs.Bits | arg.Bits, Keywords: append([]string(nil), fs.Keywords...)}
		for _, k := range arg.Keywords {
			out.Keywords = addKeyword(out.Keywords, k)
		}
		return out
	default:
		out := FlagSet{Bits: fs.Bits &^ arg.Bits, Keywords: fs.Keywords}
		for _, k := range arg.Keywords {
			out.Keywords = removeKeyword(out.Keywords, k)
		}
		return out
	}
}

// Equal reports whether two flag sets are the same (a STORE that changes
// nothing gets no new MODSEQ).
func (fs FlagSet) Equal(o FlagSet) bool {
	if fs.Bits != o.Bits || len(fs.Keywords) != len(o.Keywords) {
		return false
	}
	for i := range fs.Keywords {
		if fs.Keywords[i] != o.Keywords[i] {
			return false
		}
	}
	return true
}

// Unseen is what a message with these flag bits adds to its mailbox's
// Unseen count: 1 without \Seen, else 0.
func Unseen(bits int64) int64 {
	if bits&FlagBitSeen == 0 {
		return 1
	}
	return 0
}

// Deleted is what a message with these flag bits adds to its mailbox's
// Deleted count: 1 with \Deleted, else 0.
func Deleted(bits int64) int64 {
	if bits&FlagBitDeleted != 0 {
		return 1
	}
	return 0
}
