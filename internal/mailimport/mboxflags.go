package mailimport

import (
	"fmt"
	"strconv"
	"strings"

	"gannet/internal/store"
)

// Mail programs keep a message's state in mbox header fields. They are read
// into flags and then removed, as Dovecot removes them: once the flags live
// in the store, a stale copy in the message would contradict them.

// Thunderbird's X-Mozilla-Status and X-Mozilla-Status2 bits
// (comm-central, nsMsgMessageFlags.idl).
const (
	mozRead       = 0x0001
	mozReplied    = 0x0002
	mozMarked     = 0x0004
	mozExpunged   = 0x0008
	mozForwarded  = 0x1000
	mozIMAPDelete = 0x00200000
	mozLabels     = 0x0E000000 // three bits: label 1..5, the old labels
	mozLabelShift = 25
)

// ForwardedKeyword is the keyword for "forwarded" (RFC 5788 registry),
// from Maildir's P and Thunderbird's Forwarded bit.
const ForwardedKeyword = "$Forwarded"

// status is what an mbox message's state fields say.
type status struct {
	flags      []string
	expunged   bool // Thunderbird: deleted, waiting for compaction
	folderData bool // UW-IMAP's and Dovecot's X-IMAP pseudo-message
}

// statusFlags reads mutt's, Dovecot's and Thunderbird's state fields.
func statusFlags(hdr []field) status {
	var st status
	add := func(f ...string) { st.flags = append(st.flags, f...) }
	for _, f := range hdr {
		switch strings.ToLower(f.name) {
		case "status": // mutt, elm, UW-IMAP: R read, O old, r replied (mutt)
			for _, c := range f.value {
				switch c {
				case 'R':
					add(store.FlagSeen)
				case 'r':
					add(store.FlagAnswered)
				}
			}
		case "x-status": // mutt and Dovecot: A answered, F flagged, T draft, D deleted
			for _, c := range f.value {
				switch c {
				case 'A':
					add(store.FlagAnswered)
				case 'F':
					add(store.FlagFlagged)
				case 'T':
					add(store.FlagDraft)
				case 'D':
					add(store.FlagDeleted)
				}
			}
		case "x-keywords": // Dovecot, UW-IMAP
			add(strings.FieldsFunc(f.value, func(r rune) bool { return r == ' ' || r == ',' || r == '\t' })...)
		case "x-mozilla-status":
			v, err := strconv.ParseUint(f.value, 16, 32)
			if err != nil {
				continue
			}
			if v&mozRead != 0 {
				add(store.FlagSeen)
			}
			if v&mozReplied != 0 {
				add(store.FlagAnswered)
			}
			if v&mozMarked != 0 {
				add(store.FlagFlagged)
			}
			if v&mozForwarded != 0 {
				add(ForwardedKeyword)
			}
			st.expunged = st.expunged || v&mozExpunged != 0
		case "x-mozilla-status2":
			v, err := strconv.ParseUint(f.value, 16, 32)
			if err != nil {
				continue
			}
			if v&mozIMAPDelete != 0 {
				add(store.FlagDeleted)
			}
			if l := (v & mozLabels) >> mozLabelShift; l != 0 {
				add(fmt.Sprintf("$label%d", l))
			}
		case "x-mozilla-keys": // space separated; padded with spaces for in-place rewrites
			for _, k := range strings.Fields(f.value) {
				switch strings.ToLower(k) {
				case "junk":
					add("$Junk")
				case "nonjunk":
					add("$NotJunk")
				default:
					add(k)
				}
			}
		case "x-imap": // only the pseudo-message has it; real ones may carry X-IMAPbase
			st.folderData = true
		}
	}
	return st
}

// isStateField names the fields that carry the source mailbox's state.
func isStateField(name string) bool {
	switch strings.ToLower(name) {
	case "status", "x-status", "x-keywords", "x-uid", "x-imap", "x-imapbase",
		"x-mozilla-status", "x-mozilla-status2", "x-mozilla-keys":
		return true
	}
	return false
}
