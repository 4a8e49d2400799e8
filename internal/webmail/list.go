package webmail

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"gannet/internal/message"
	"gannet/internal/store"
)

// summaryJSON is one row of the message list.
type summaryJSON struct {
	UID        uint32     `json:"uid"`
	Flags      []string   `json:"flags"`
	From       []addrJSON `json:"from"`
	To         []addrJSON `json:"to"`
	Subject    string     `json:"subject"`
	Date       time.Time  `json:"date"`
	Preview    string     `json:"preview"`
	Size       int64      `json:"size"`
	Attachment bool       `json:"attachment"`
}

// listJSON is one page of the message list, newest first. Next is the
// cursor for the following (older) page, 0 when there is none.
type listJSON struct {
	Messages []summaryJSON `json:"messages"`
	Next     uint32        `json:"next"`
	Total    int64         `json:"total"`
}

func summarize(m *store.Message) summaryJSON {
	p := m.Parsed
	att := false
	p.Body.Walk(func(q *message.Part) bool {
		if q != p.Body && q.Type != "multipart" && (q.Disposition == "attachment" || q.Filename() != "") {
			att = true
		}
		return !att
	})
	return summaryJSON{
		UID: m.UID, Flags: nonNil(m.Flags), From: addrs(p.Envelope.From), To: addrs(p.Envelope.To),
		Subject: p.Subject, Date: messageDate(m), Preview: p.Preview, Size: m.Size, Attachment: att,
	}
}

// handleList returns a page of a mailbox, newest first:
//
//	?before=UID  only messages with a smaller UID (the cursor)
//	?limit=N     page size (default 50, at most 500)
//	?q=TEXT&in=all|from|subject|body   search
//
// Without a search it never reads the whole mailbox: it probes UID windows
// below the cursor, growing each time, so a page costs a few indexed range
// queries however large the mailbox is.
func (s *Server) handleList(w http.ResponseWriter, r *http.Request) {
	mb, err := s.ownMailbox(r)
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	q := r.URL.Query()
	limit := pageDefault
	if v, err := strconv.Atoi(q.Get("limit")); err == nil && v > 0 {
		limit = min(v, pageMax)
	}
	before := mb.UIDNext
	if v, err := strconv.ParseUint(q.Get("before"), 10, 32); err == nil && v > 0 {
		before = min(uint32(v), mb.UIDNext)
	}
	acct := sessionOf(r).accountID
	var uids []uint32
	var more bool
	if text := strings.TrimSpace(q.Get("q")); text != "" {
		uids, more, err = s.searchPage(r.Context(), acct, mb.ID, text, q.Get("in"), before, limit)
	} else {
		uids, more, err = s.page(r.Context(), acct, mb.ID, before, limit)
	}
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	out := listJSON{Messages: []summaryJSON{}, Total: mb.Messages}
	if len(uids) > 0 {
		msgs, err := s.opts.Store.List(r.Context(), acct, mb.ID, uidSet(uids), store.ListOptions{Parsed: true})
		if err != nil {
			s.storeError(w, r, err)
			return
		}
		for i := len(msgs) - 1; i >= 0; i-- {
			out.Messages = append(out.Messages, summarize(&msgs[i]))
		}
		if more {
			out.Next = uids[0]
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// page finds the limit highest UIDs below before, ascending, and whether
// older ones may exist. UIDs are dense after delivery and sparse after
// expunges: the window starts at twice the page and grows fourfold.
func (s *Server) page(ctx context.Context, acct, mid int64, before uint32, limit int) ([]uint32, bool, error) {
	var found []uint32 // descending
	hi := int64(before) - 1
	window := int64(2 * limit)
	for hi >= 1 && len(found) < limit {
		lo := max(1, hi-window+1)
		msgs, err := s.opts.Store.List(ctx, acct, mid, store.UIDSet{{Lo: uint32(lo), Hi: uint32(hi)}}, store.ListOptions{})
		if err != nil {
			return nil, false, fmt.Errorf("list page: %w", err)
		}
		for i := len(msgs) - 1; i >= 0 && len(found) < limit; i-- {
			found = append(found, msgs[i].UID)
		}
		hi = lo - 1
		window *= 4
	}
	slices.Reverse(found)
	// More may exist below the lowest UID found unless the scan reached UID 1.
	more := len(found) == limit && found[0] > 1
	return found, more, nil
}

// searchPage runs a search and pages its result. The store returns all
// matching UIDs (ascending); only the page's rows are then read with parse
// results.
func (s *Server) searchPage(ctx context.Context, acct, mid int64, text, in string, before uint32, limit int) ([]uint32, bool, error) {
	c := store.Criteria{}
	if before > 1 {
		c.UIDs = store.UIDSet{{Lo: 1, Hi: before - 1}}
	} else {
		return nil, false, nil
	}
	switch in {
	case "from":
		c.Header = []store.HeaderTerm{{Field: "From", Value: text}}
	case "subject":
		c.Header = []store.HeaderTerm{{Field: "Subject", Value: text}}
	case "body":
		c.Body = []string{text}
	default:
		// From, subject or body (RFC 9051 OR keys, nested).
		c.Or = [][2]store.Criteria{{
			{Header: []store.HeaderTerm{{Field: "From", Value: text}}},
			{Or: [][2]store.Criteria{{
				{Header: []store.HeaderTerm{{Field: "Subject", Value: text}}},
				{Body: []string{text}},
			}}},
		}}
	}
	uids, err := s.opts.Store.Search(ctx, acct, mid, c)
	if err != nil {
		return nil, false, fmt.Errorf("search: %w", err)
	}
	if len(uids) > limit {
		return uids[len(uids)-limit:], true, nil
	}
	return uids, false, nil
}
