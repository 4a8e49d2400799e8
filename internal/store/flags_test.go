package store

import (
	"errors"
	"slices"
	"testing"
)

// TestFlagBits: the bits are stored by every backend; renumbering them would
// change the flags of every stored message.
func TestFlagBits(t *testing.T) {
	got := []int64{FlagBitSeen, FlagBitAnswered, FlagBitFlagged, FlagBitDeleted, FlagBitDraft}
	if !slices.Equal(got, []int64{1, 2, 4, 8, 16}) {
		t.Fatalf("flag bits %v changed", got)
	}
}

func TestFlagSet(t *testing.T) {
	fs, err := ParseFlags([]string{`\seen`, "Work", `\Flagged`, "work", "$Label1"})
	if err != nil {
		t.Fatal(err)
	}
	if got := fs.Names(); !slices.Equal(got, []string{`\Flagged`, `\Seen`, "$Label1", "Work"}) {
		t.Errorf("Names = %q", got)
	}
	if back := (FlagSet{Bits: fs.Bits, Keywords: DecodeKeywords(fs.KeywordString())}); !back.Equal(fs) {
		t.Errorf("stored form does not round-trip: %+v", back)
	}
	if Unseen(fs.Bits) != 0 || Deleted(fs.Bits) != 0 || Unseen(0) != 1 || Deleted(FlagBitDeleted) != 1 {
		t.Error("counter contributions wrong")
	}
	arg, _ := ParseFlags([]string{`\Deleted`, "WORK"})
	if got := fs.Apply(FlagsRemove, arg).Names(); !slices.Equal(got, []string{`\Flagged`, `\Seen`, "$Label1"}) {
		t.Errorf("-FLAGS = %q", got)
	}
	if got := fs.Apply(FlagsAdd, arg).Names(); !slices.Equal(got, []string{`\Deleted`, `\Flagged`, `\Seen`, "$Label1", "Work"}) {
		t.Errorf("+FLAGS = %q", got)
	}
	if got := fs.Apply(FlagsSet, arg).Names(); !slices.Equal(got, []string{`\Deleted`, "WORK"}) {
		t.Errorf("FLAGS = %q", got)
	}
	if !fs.Has("work") || !fs.Has(`\SEEN`) || fs.Has(`\Draft`) {
		t.Error("Has wrong")
	}
	for _, bad := range []string{`\Recent`, `\Foo`, "a b", "", "x]"} {
		if _, err := ParseFlags([]string{bad}); !errors.Is(err, ErrInvalidFlag) {
			t.Errorf("ParseFlags(%q) = %v, want ErrInvalidFlag", bad, err)
		}
	}
}
