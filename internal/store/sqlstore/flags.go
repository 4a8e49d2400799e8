package sqlstore

import (
	"fmt"
	"sort"
	"strings"

	"gannet/internal/store"
)

// System flags are stored as bits; keywords as a space-separated sorted list.
const (
	bitSeen     = 1 << iota
	bitAnswered = 1 << iota
	bitFlagged  = 1 << iota
	bitDeleted  = 1 << iota
	bitDraft    = 1 << iota
)

var systemFlags = []struct {
	name string
	bit  int64
}{
	// Alphabetical: Message.Flags lists system flags in this order.
	{store.FlagAnswered, bitAnswered},
	{store.FlagDeleted, bitDeleted},
	{store.FlagDraft, bitDraft},
	{store.FlagFlagged, bitFlagged},
	{store.FlagSeen, bitSeen},
}

// flagSet is the stored form of a message's flags.
type flagSet struct {
	bits     int64
	keywords []string // sorted, unique (case-insensitively), original case kept
}

// parseFlags validates and canonicalises flags. System flags are case-insensitive
// (RFC 9051 2.3.2); \Recent cannot be stored (RFC 9051 dropped it; RFC 3501 made it
// server-managed); any other backslash flag is unknown. Keywords are atoms.
func parseFlags(flags []string) (flagSet, error) {
	var fs flagSet
	for _, f := range flags {
		if strings.HasPrefix(f, `\`) {
			found := false
			for _, sf := range systemFlags {
				if strings.EqualFold(f, sf.name) {
					fs.bits |= sf.bit
					found = true
				}
			}
			if !found {
				return fs, fmt.Errorf("flag %q: %w", f, store.ErrInvalidFlag)
			}
			continue
		}
		if !validKeyword(f) {
			return fs, fmt.Errorf("keyword %q: %w", f, store.ErrInvalidFlag)
		}
		fs.keywords = addKeyword(fs.keywords, f)
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

func decodeKeywords(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, " ")
}

func (fs flagSet) keywordString() string { return strings.Join(fs.keywords, " ") }

// names lists the flags: system flags in a fixed order, then keywords.
func (fs flagSet) names() []string {
	out := make([]string, 0, 5+len(fs.keywords))
	for _, sf := range systemFlags {
		if fs.bits&sf.bit != 0 {
			out = append(out, sf.name)
		}
	}
	return append(out, fs.keywords...)
}

// apply combines the current flags with an operation (STORE FLAGS/+FLAGS/-FLAGS).
func (fs flagSet) apply(op store.FlagOp, arg flagSet) flagSet {
	switch op {
	case store.FlagsSet:
		return flagSet{bits: arg.bits, keywords: append([]string(nil), arg.keywords...)}
	case store.FlagsAdd:
		out := flagSet{bits: fs.bits | arg.bits, keywords: append([]string(nil), fs.keywords...)}
		for _, k := range arg.keywords {
			out.keywords = addKeyword(out.keywords, k)
		}
		return out
	default:
		out := flagSet{bits: fs.bits &^ arg.bits, keywords: fs.keywords}
		for _, k := range arg.keywords {
			out.keywords = removeKeyword(out.keywords, k)
		}
		return out
	}
}

func (fs flagSet) equal(o flagSet) bool {
	if fs.bits != o.bits || len(fs.keywords) != len(o.keywords) {
		return false
	}
	for i := range fs.keywords {
		if fs.keywords[i] != o.keywords[i] {
			return false
		}
	}
	return true
}

// counterDelta is how a message's flags contribute to mailbox counters.
func unseenOf(bits int64) int64 {
	if bits&bitSeen == 0 {
		return 1
	}
	return 0
}

func deletedOf(bits int64) int64 {
	if bits&bitDeleted != 0 {
		return 1
	}
	return 0
}
