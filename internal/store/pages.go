package store

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
)

// Page sizes for ListEach: large enough that the per-query cost vanishes,
// small enough that a page is a few hundred kilobytes (docs/ARCHITECTURE.md,
// "Huge mailboxes"). Parse results are bigger, so their pages are smaller.
const (
	ListPageSize       = 4096
	ListPageSizeParsed = 256
)

// ErrBadPage is ListPage's answer to a limit that is not positive.
var ErrBadPage = errors.New("list page: limit must be positive")

// ListEach streams the messages of a UID set in ascending UID order, a page
// at a time, so that a command over a whole mailbox holds a few pages,
// never the whole mailbox. The next page is read while fn handles the
// current one (a million messages' FETCH FLAGS is half store, half
// writing the answer). fn may change the slice but must not keep it; an
// error from fn stops the walk and is returned as is.
func ListEach(ctx context.Context, s Store, accountID, mailboxID int64, uids UIDSet, opts ListOptions, fn func([]Message) error) error {
	if uids != nil && len(uids) == 0 {
		return nil
	}
	limit := ListPageSize
	if opts.Parsed {
		limit = ListPageSizeParsed
	}
	type result struct {
		page []Message
		err  error
	}
	ctx, cancel := context.WithCancel(ctx)
	pages := make(chan result, 1)
	go func() {
		defer close(pages)
		after := uint32(0)
		for {
			page, err := s.ListPage(ctx, accountID, mailboxID, uids, opts, after, limit)
			// Look at the page before handing it over: fn owns it then.
			done := err != nil || len(page) < limit || page[len(page)-1].UID == 0xFFFFFFFF
			if !done {
				after = page[len(page)-1].UID
			}
			select {
			case pages <- result{page, err}:
			case <-ctx.Done():
				return
			}
			if done {
				return
			}
		}
	}()
	// On any return, stop the reader and wait for it: no store call
	// outlives ListEach.
	defer func() {
		cancel()
		for range pages {
		}
	}()
	for r := range pages {
		if r.err != nil {
			return r.err
		}
		if len(r.page) == 0 {
			continue
		}
		if err := fn(r.page); err != nil {
			return err
		}
	}
	return nil
}

// maxBatchRanges bounds the ranges one page query names (sqlstore turns
// more than 200 into a scan filtered in Go).
const maxBatchRanges = 128

// Page implements ListPage for a backend over its List with a limit:
// list(batch, n) returns at most n messages of batch in UID order. The set
// is cut into batches that each query can read in UID order without
// sorting or skipping: one range wider than what is still needed (read
// with a limit along the primary key), or consecutive ranges whose spans
// add up to no more than that (so the query reads at most that many rows).
// A page thus costs the rows it returns, wherever it starts, and a walk
// over a million messages is linear, not quadratic.
func Page(set UIDSet, after uint32, limit int, list func(batch UIDSet, n int) ([]Message, error)) ([]Message, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("%w (got %d)", ErrBadPage, limit)
	}
	rs := clipRanges(set, after)
	var out []Message
	for len(rs) > 0 && len(out) < limit {
		need := limit - len(out)
		n := 1
		if span(rs[0]) <= uint64(need) {
			total := span(rs[0])
			for n < len(rs) && n < maxBatchRanges && total+span(rs[n]) <= uint64(need) {
				total += span(rs[n])
				n++
			}
		}
		msgs, err := list(rs[:n:n], need)
		if err != nil {
			return nil, err
		}
		out = append(out, msgs...)
		rs = rs[n:]
	}
	return out, nil
}

func span(r UIDRange) uint64 { return uint64(r.Hi-r.Lo) + 1 }

// clipRanges normalises a set to ascending, disjoint, closed ranges of UIDs
// above after (nil = every UID, Hi 0 = the highest UID).
func clipRanges(set UIDSet, after uint32) UIDSet {
	if set == nil {
		set = UIDSet{{Lo: 1, Hi: 0}}
	}
	rs := make(UIDSet, 0, len(set))
	for _, r := range set {
		if r.Hi == 0 {
			r.Hi = 0xFFFFFFFF
		}
		if r.Lo > r.Hi {
			r.Lo, r.Hi = r.Hi, r.Lo
		}
		if r.Hi <= after {
			continue
		}
		r.Lo = max(r.Lo, after+1)
		rs = append(rs, r)
	}
	slices.SortFunc(rs, func(a, b UIDRange) int { return cmp.Compare(a.Lo, b.Lo) })
	out := rs[:0]
	for _, r := range rs {
		if n := len(out); n > 0 && uint64(r.Lo) <= uint64(out[n-1].Hi)+1 {
			out[n-1].Hi = max(out[n-1].Hi, r.Hi)
			continue
		}
		out = append(out, r)
	}
	return out
}

// DenseUIDs derives a mailbox's UIDs without reading its messages: every
// UID below uidNext was given to one message of this mailbox, which is
// still there or left a tombstone (store invariants, store.go), unless an
// import or a failed write skipped some. tombstones are the mailbox's
// tombstoned UIDs below uidNext, ascending. The result is exact when the
// count agrees with the mailbox's message counter (the messages are a
// subset of [1, uidNext) minus the tombstones, so equal sizes mean equal
// sets); ok is false otherwise and the caller reads the UIDs instead.
func DenseUIDs(uidNext uint32, tombstones []uint32, messages int64) (set UIDSet, ok bool) {
	if uidNext == 0 || int64(uidNext)-1-int64(len(tombstones)) != messages {
		return nil, false
	}
	set = UIDSet{}
	next := uint32(1)
	for _, t := range tombstones {
		if t < next || t >= uidNext {
			return nil, false // not ascending, or out of range: not the shape assumed
		}
		if t > next {
			set = append(set, UIDRange{Lo: next, Hi: t - 1})
		}
		next = t + 1
	}
	if next < uidNext {
		set = append(set, UIDRange{Lo: next, Hi: uidNext - 1})
	}
	return set, true
}

// UIDRuns turns ascending UIDs into ascending, disjoint ranges.
func UIDRuns(uids []uint32) UIDSet {
	set := UIDSet{}
	for _, u := range uids {
		if n := len(set); n > 0 && set[n-1].Hi+1 == u {
			set[n-1].Hi = u
			continue
		}
		set = append(set, UIDRange{Lo: u, Hi: u})
	}
	return set
}

// Count is the number of UIDs in a set of closed ranges (no Hi of 0).
func (s UIDSet) Count() int64 {
	var n int64
	for _, r := range s {
		if r.Hi >= r.Lo {
			n += int64(r.Hi-r.Lo) + 1
		}
	}
	return n
}

// FlagNames shares the flag lists (Message.Flags) of a page among its
// messages with the same system flags and no keywords, most of a mailbox:
// a million messages' FETCH FLAGS would otherwise allocate a million equal
// lists. Message.Flags of a FlagsOnly list are read-only.
type FlagNames map[int64][]string

// Of returns the flag list of system flag bits and stored keywords.
func (c *FlagNames) Of(bits int64, keywords string) []string {
	if keywords != "" {
		return FlagSet{Bits: bits, Keywords: DecodeKeywords(keywords)}.Names()
	}
	if l, ok := (*c)[bits]; ok {
		return l
	}
	if *c == nil {
		*c = FlagNames{}
	}
	l := FlagSet{Bits: bits}.Names()
	(*c)[bits] = l
	return l
}
