package imapserver

import (
	"errors"
	"slices"

	"gannet/internal/imapwire"
	"gannet/internal/store"
)

// fetchKind is a FETCH data item (RFC 9051 6.4.5).
type fetchKind uint8

const (
	fetchUID fetchKind = iota + 1
	fetchFlags
	fetchInternalDate
	fetchSize
	fetchEnvelope
	fetchBody          // BODY (BODYSTRUCTURE without extension data)
	fetchBodyStructure // BODYSTRUCTURE
	fetchSection       // BODY[...], BODY.PEEK[...], RFC822, RFC822.HEADER, RFC822.TEXT
	fetchBinary        // BINARY[...], BINARY.PEEK[...] (RFC 3516)
	fetchBinarySize    // BINARY.SIZE[...]
	fetchModSeq        // MODSEQ (RFC 7162 3.1.4.1)
)

// fetchItem is one requested item.
type fetchItem struct {
	kind    fetchKind
	sec     imapwire.Section
	peek    bool   // does not set \Seen
	name    string // response item name for sections, e.g. "BODY[1.MIME]" or "RFC822"
	partial bool
	off     uint64
	count   uint64
}

// fetchRequest is a parsed FETCH command.
type fetchRequest struct {
	set          imapwire.NumSet
	items        []fetchItem
	changedSince uint64 // CHANGEDSINCE (RFC 7162 3.1.4.1), 0 = none
	vanished     bool   // VANISHED (RFC 7162 3.2.6)
}

// cmdFetch is FETCH and UID FETCH (RFC 9051 6.4.5, 6.4.9), with the
// CHANGEDSINCE and VANISHED modifiers (RFC 7162 3.1.4.1, 3.2.6).
func (c *conn) cmdFetch(cmd *command) error {
	p := cmd.p
	if err := p.SP(); err != nil {
		return err
	}
	var req fetchRequest
	var err error
	if req.set, err = p.SeqSet(); err != nil {
		return err
	}
	if err := p.SP(); err != nil {
		return err
	}
	if p.Peek() == '(' {
		err = p.List(func() error { return parseFetchItem(p, &req) })
	} else {
		err = parseFetchItem(p, &req)
	}
	if err != nil {
		return err
	}
	if p.Accept(' ') {
		err := p.List(func() error {
			kw, err := p.Keyword()
			if err != nil {
				return err
			}
			switch kw {
			case "CHANGEDSINCE":
				if err := p.SP(); err != nil {
					return err
				}
				req.changedSince, err = p.Number64()
				return err
			case "VANISHED":
				req.vanished = true
				return nil
			}
			return p.Fail("unknown FETCH modifier")
		})
		if err != nil {
			return err
		}
	}
	if err := p.End(); err != nil {
		return err
	}
	if req.vanished && (!cmd.uid || !c.qresync || req.changedSince == 0) {
		// RFC 7162 3.2.6: only UID FETCH, with QRESYNC enabled and CHANGEDSINCE.
		return errBad("", "VANISHED needs UID FETCH, QRESYNC and CHANGEDSINCE")
	}
	if cmd.uid {
		req.items = addItem(req.items, fetchUID)
	}
	if req.changedSince > 0 {
		req.items = addItem(req.items, fetchModSeq)
	}
	if hasItem(req.items, fetchModSeq) {
		c.enableCondstore()
	}
	return c.fetch(cmd, &req)
}

// addItem adds a simple item unless it is already requested.
func addItem(items []fetchItem, k fetchKind) []fetchItem {
	if hasItem(items, k) {
		return items
	}
	return append(items, fetchItem{kind: k})
}

func hasItem(items []fetchItem, k fetchKind) bool {
	return slices.ContainsFunc(items, func(it fetchItem) bool { return it.kind == k })
}

// parseFetchItem reads one fetch-att or macro (RFC 9051 9: fetch-att).
func parseFetchItem(p *imapwire.Parser, req *fetchRequest) error {
	kw, err := p.Keyword()
	if err != nil {
		return err
	}
	add := func(k fetchKind) { req.items = append(req.items, fetchItem{kind: k}) }
	switch kw {
	case "ALL":
		add(fetchFlags)
		add(fetchInternalDate)
		add(fetchSize)
		add(fetchEnvelope)
	case "FAST":
		add(fetchFlags)
		add(fetchInternalDate)
		add(fetchSize)
	case "FULL":
		add(fetchFlags)
		add(fetchInternalDate)
		add(fetchSize)
		add(fetchEnvelope)
		add(fetchBody)
	case "UID":
		add(fetchUID)
	case "FLAGS":
		add(fetchFlags)
	case "INTERNALDATE":
		add(fetchInternalDate)
	case "RFC822.SIZE":
		add(fetchSize)
	case "ENVELOPE":
		add(fetchEnvelope)
	case "BODYSTRUCTURE":
		add(fetchBodyStructure)
	case "MODSEQ":
		add(fetchModSeq)
	case "RFC822":
		req.items = append(req.items, fetchItem{kind: fetchSection, name: "RFC822"})
	case "RFC822.HEADER":
		req.items = append(req.items, fetchItem{kind: fetchSection, name: "RFC822.HEADER", peek: true,
			sec: imapwire.Section{Specifier: "HEADER"}})
	case "RFC822.TEXT":
		req.items = append(req.items, fetchItem{kind: fetchSection, name: "RFC822.TEXT",
			sec: imapwire.Section{Specifier: "TEXT"}})
	case "BODY", "BODY.PEEK", "BINARY", "BINARY.PEEK", "BINARY.SIZE":
		if p.Peek() != '[' {
			if kw == "BODY" {
				add(fetchBody)
				return nil
			}
			return p.Fail("expected section")
		}
		sec, err := p.Section()
		if err != nil {
			return err
		}
		it := fetchItem{kind: fetchSection, sec: sec, peek: kw == "BODY.PEEK" || kw == "BINARY.PEEK"}
		switch kw {
		case "BINARY", "BINARY.PEEK":
			it.kind = fetchBinary
		case "BINARY.SIZE":
			it.kind = fetchBinarySize
			it.peek = true
		}
		if it.kind != fetchSection && sec.Specifier != "" {
			// RFC 3516 4.1: section-binary is only part numbers.
			return p.Fail("invalid BINARY section")
		}
		if it.kind != fetchBinarySize {
			off, count, ok, err := p.Partial()
			if err != nil {
				return err
			}
			it.partial, it.off, it.count = ok, off, count
		}
		req.items = append(req.items, it)
	default:
		return p.Fail("unknown FETCH item")
	}
	return nil
}

// needs reports what the items need from the store: the parse results, and
// \Seen set (RFC 9051 6.4.5: BODY[...] without .PEEK sets \Seen).
func (req *fetchRequest) needs() (parsed, setSeen bool) {
	for _, it := range req.items {
		switch it.kind {
		case fetchEnvelope, fetchBody, fetchBodyStructure, fetchBinary, fetchBinarySize:
			parsed = true
		case fetchSection:
			if len(it.sec.Part) > 0 || it.sec.Specifier != "" {
				parsed = true
			}
		}
		if (it.kind == fetchSection || it.kind == fetchBinary) && !it.peek {
			setSeen = true
		}
	}
	return parsed, setSeen
}

// fetch runs a parsed FETCH.
func (c *conn) fetch(cmd *command, req *fetchRequest) error {
	s := c.sel
	set, err := c.numSet(req.set, cmd.uid)
	if err != nil {
		return err
	}
	if len(set) == 0 {
		return nil
	}
	parsed, setSeen := req.needs()
	st := c.srv.opts.Store
	var seenNow map[uint32]bool
	if setSeen && !s.readOnly {
		res, err := st.StoreFlags(c.ctx, c.acct.ID, s.id, set, store.FlagsAdd, []string{store.FlagSeen}, 0)
		if err != nil {
			return storeErr(err)
		}
		seenNow = make(map[uint32]bool, len(res.Updated))
		for _, u := range res.Updated {
			seenNow[u.UID] = true
			s.noteReported(u.UID, u.ModSeq)
		}
	}
	if req.vanished {
		ch, err := st.Changes(c.ctx, c.acct.ID, s.id, req.changedSince)
		if err != nil {
			return storeErr(err)
		}
		var v imapwire.SeqSet
		for _, u := range ch.Vanished {
			if set.Contains(u) {
				v.AddNum(u)
			}
		}
		if len(v) > 0 {
			w := c.out()
			w.Untagged()
			w.Atom("VANISHED")
			w.BeginList()
			w.Atom("EARLIER")
			w.EndList()
			w.SeqSet(v)
			w.CRLF()
		}
	}
	// Streamed a page at a time from the store: a FETCH of a million
	// messages holds one page (docs/ARCHITECTURE.md, "Huge mailboxes").
	opts := store.ListOptions{Parsed: parsed, FlagsOnly: req.flagsOnly()}
	err = store.ListEach(c.ctx, st, c.acct.ID, s.id, set, opts, func(page []store.Message) error {
		for i := range page {
			m := &page[i]
			if req.changedSince > 0 && m.ModSeq <= req.changedSince {
				continue
			}
			if err := c.fetchOne(req, m, seenNow[m.UID]); err != nil {
				return fetchFailure{err}
			}
		}
		return nil
	})
	var failed fetchFailure
	if errors.As(err, &failed) {
		return failed.err
	}
	if err != nil {
		return storeErr(err)
	}
	return nil
}

// flagsOnly reports whether the request needs no more of a message than
// UID, FLAGS and MODSEQ (store.ListOptions.FlagsOnly), the sync of flags
// that clients run over whole mailboxes.
func (req *fetchRequest) flagsOnly() bool {
	for _, it := range req.items {
		switch it.kind {
		case fetchUID, fetchFlags, fetchModSeq:
		default:
			return false
		}
	}
	return true
}

// fetchFailure carries an error of the FETCH itself (a response, the
// connection) through store.ListEach, to tell it from the store's.
type fetchFailure struct{ err error }

func (f fetchFailure) Error() string { return f.err.Error() }

// fetchOne writes the FETCH response of one message.
func (c *conn) fetchOne(req *fetchRequest, m *store.Message, seenNow bool) error {
	s := c.sel
	seq := s.seqOf(m.UID)
	if seq == 0 {
		return nil
	}
	if m.Parsed != nil && !knownCTE(req, m) {
		return errNo("UNKNOWN-CTE", "Unknown content transfer encoding")
	}
	if seenNow || req.wantsFlags() {
		c.announceKeywords(m.Flags)
	}
	w := c.out()
	w.Untagged()
	w.Number(seq)
	w.Atom("FETCH")
	w.BeginList()
	flagsDone, modseqDone := false, false
	for i := range req.items {
		it := &req.items[i]
		switch it.kind {
		case fetchUID:
			w.Atom("UID")
			w.Number(m.UID)
		case fetchFlags:
			w.Atom("FLAGS")
			w.Flags(c.withRecent(m.UID, m.Flags))
			flagsDone = true
		case fetchInternalDate:
			w.Atom("INTERNALDATE")
			w.DateTime(m.InternalDate)
		case fetchSize:
			w.Atom("RFC822.SIZE")
			w.Number64(uint64(m.Size))
		case fetchModSeq:
			w.Atom("MODSEQ")
			w.BeginList()
			w.Number64(m.ModSeq)
			w.EndList()
			modseqDone = true
		case fetchEnvelope:
			w.Atom("ENVELOPE")
			w.Envelope(&m.Parsed.Envelope)
		case fetchBody:
			w.Atom("BODY")
			w.BodyStructure(m.Parsed.Body, false)
		case fetchBodyStructure:
			w.Atom("BODYSTRUCTURE")
			w.BodyStructure(m.Parsed.Body, true)
		case fetchSection:
			if err := c.writeSection(m, it); err != nil {
				return err
			}
		case fetchBinary, fetchBinarySize:
			if err := c.writeBinary(m, it); err != nil {
				return err
			}
		}
	}
	// RFC 9051 6.4.5: a \Seen set by this FETCH is reported with FLAGS;
	// under CONDSTORE FLAGS go with MODSEQ (RFC 7162 3.2).
	if seenNow && !flagsDone {
		w.Atom("FLAGS")
		w.Flags(c.withRecent(m.UID, m.Flags))
		flagsDone = true
	}
	if flagsDone && c.condstore && !modseqDone {
		w.Atom("MODSEQ")
		w.BeginList()
		w.Number64(m.ModSeq)
		w.EndList()
	}
	w.EndList()
	if flagsDone {
		s.noteReported(m.UID, m.ModSeq)
	}
	return w.CRLF()
}
