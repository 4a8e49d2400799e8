package store

import (
	"errors"
	"slices"
	"testing"
)

func TestDenseUIDs(t *testing.T) {
	for _, c := range []struct {
		next  uint32
		tomb  []uint32
		n     int64
		want  UIDSet
		dense bool
	}{
		{1, nil, 0, UIDSet{}, true},
		{6, nil, 5, UIDSet{{1, 5}}, true},
		{6, []uint32{1, 3, 5}, 2, UIDSet{{2, 2}, {4, 4}}, true},
		{6, []uint32{1, 2, 3, 4, 5}, 0, UIDSet{}, true},
		{6, nil, 4, nil, false},            // a gap: the counter disagrees
		{6, []uint32{3, 2}, 3, nil, false}, // not ascending
		{6, []uint32{6}, 4, nil, false},    // not below UIDNEXT
		{0, nil, 0, nil, false},
	} {
		got, ok := DenseUIDs(c.next, c.tomb, c.n)
		if ok != c.dense || !slices.Equal(got, c.want) {
			t.Errorf("DenseUIDs(%d, %v, %d) = %v %v, want %v %v", c.next, c.tomb, c.n, got, ok, c.want, c.dense)
		}
	}
}

func TestUIDRunsCount(t *testing.T) {
	got := UIDRuns([]uint32{1, 2, 3, 7, 9, 10})
	if want := (UIDSet{{1, 3}, {7, 7}, {9, 10}}); !slices.Equal(got, want) || got.Count() != 6 {
		t.Errorf("UIDRuns = %v (count %d), want %v", got, got.Count(), want)
	}
	if n := (UIDSet{{1, 0xFFFFFFFF}}).Count(); n != 0xFFFFFFFF {
		t.Errorf("Count of 1:4294967295 = %d", n)
	}
}

// TestPageBatches checks how Page cuts a set into queries: each batch is
// one range wider than what is still needed, or ranges whose spans add up
// to no more than that, always above after and in order.
func TestPageBatches(t *testing.T) {
	type call struct {
		batch UIDSet
		n     int
	}
	run := func(set UIDSet, after uint32, limit int, have map[uint32]bool) ([]uint32, []call) {
		var calls []call
		msgs, err := Page(set, after, limit, func(batch UIDSet, n int) ([]Message, error) {
			calls = append(calls, call{slices.Clone(batch), n})
			var out []Message
			for _, r := range batch {
				for u := uint64(r.Lo); u <= uint64(r.Hi) && len(out) < n; u++ {
					if have[uint32(u)] {
						out = append(out, Message{UID: uint32(u)})
					}
				}
			}
			return out, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		var uids []uint32
		for _, m := range msgs {
			uids = append(uids, m.UID)
		}
		return uids, calls
	}
	have := map[uint32]bool{}
	for u := uint32(1); u <= 100; u++ {
		if u%10 != 0 {
			have[u] = true
		}
	}
	// The whole mailbox: one open range, read with a limit.
	uids, calls := run(nil, 0, 5, have)
	if !slices.Equal(uids, []uint32{1, 2, 3, 4, 5}) || len(calls) != 1 || calls[0].batch[0] != (UIDRange{1, 0xFFFFFFFF}) {
		t.Errorf("nil set: %v by %v", uids, calls)
	}
	// After 8: the page starts at 9 and skips the missing 10.
	uids, _ = run(UIDSet{{1, 0}}, 8, 3, have)
	if !slices.Equal(uids, []uint32{9, 11, 12}) {
		t.Errorf("after 8: %v", uids)
	}
	// Small ranges, unsorted and overlapping, are merged and batched while
	// their spans fit what is still needed.
	uids, calls = run(UIDSet{{20, 22}, {5, 6}, {6, 7}, {30, 30}, {40, 41}}, 0, 6, have)
	if !slices.Equal(uids, []uint32{5, 6, 7, 21, 22, 41}) {
		t.Errorf("small ranges: %v", uids)
	}
	for _, c := range calls {
		var span uint64
		for _, r := range c.batch {
			span += uint64(r.Hi-r.Lo) + 1
		}
		if len(c.batch) > 1 && span > uint64(c.n) {
			t.Errorf("batch %v spans %d for %d wanted", c.batch, span, c.n)
		}
	}
	if _, err := Page(nil, 0, 0, nil); !errors.Is(err, ErrBadPage) {
		t.Errorf("Page with limit 0: %v", err)
	}
}
