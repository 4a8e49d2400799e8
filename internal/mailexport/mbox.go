package mailexport

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gannet/internal/store"
)

// The mbox layout: one file per mailbox, named by its last level; the
// children of "a" in the directory "a.sbd" beside the file "a", as
// Thunderbird keeps its Local Folders (mailimport.MboxTree reads it back,
// mutt browses it as directories). Levels that could not be file names
// ("", ".", "..", or starting with ".") get a "_" in front.
type mboxLayout struct {
	dir string
	br  *bufio.Reader // reused for every message
}

func newMboxLayout(dir string) *mboxLayout {
	return &mboxLayout{dir: dir, br: bufio.NewReaderSize(nil, 64<<10)}
}

// mboxPath is the file of a mailbox name below dir.
func mboxPath(dir, name string) string {
	levels := strings.Split(name, store.Separator)
	p := dir
	for i, l := range levels {
		if l == "" || strings.HasPrefix(l, ".") {
			l = "_" + l
		}
		if i < len(levels)-1 {
			l += ".sbd"
		}
		p = filepath.Join(p, l)
	}
	return p
}

func (l *mboxLayout) open(mb *store.Mailbox, _ *Summary) (folderWriter, error) {
	p := mboxPath(l.dir, mb.Name)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	return &mboxWriter{f: f, w: bufio.NewWriterSize(f, 64<<10), br: l.br}, nil
}

// mboxWriter writes one mbox file in mboxrd form (RFC 4155 and its
// appendix; https://www.loc.gov/preservation/digital/formats/fdd/fdd000385.shtml):
//   - every message starts with a From_ line, "From SENDER DATE" with the
//     internal date in asctime form in UTC, and ends with an empty line;
//   - a line that is ">"* followed by "From " gets one more ">" (mboxrd:
//     reversible, unlike mboxo, so the bytes come back exactly);
//   - lines end in LF, as mbox files on Unix do (the store keeps CRLF,
//     which mailimport restores);
//   - the flags are header fields at the end of the header, as mutt and
//     Dovecot write them: "Status: RO" (R read, O old), "X-Status:" (A
//     answered, F flagged, T draft, D deleted) and "X-Keywords:"; such
//     fields already in the message are dropped (they would contradict
//     the store, and mailimport drops them on the way in as well).
//
// Dovecot takes keywords only from names its first message declares, so
// the first message also gets "X-IMAPbase: UIDVALIDITY UIDNEXT KEYWORD..."
// with every keyword of the folder, and each message "X-UID: n", as
// Dovecot writes them itself (then it also serves the same UIDs).
type mboxWriter struct {
	f  *os.File
	w  *bufio.Writer
	br *bufio.Reader
	// base is the X-IMAPbase field for the first message, "" once written
	// (or when no mailbox is known: the fuzz test).
	base string
}

// begin records the folder's UIDVALIDITY, UIDNEXT and keywords for the
// X-IMAPbase field.
func (mw *mboxWriter) begin(mb *store.Mailbox, keywords []string) {
	mw.base = fmt.Sprintf("X-IMAPbase: %d %d", mb.UIDValidity, mb.UIDNext)
	for _, k := range keywords {
		mw.base += " " + k
	}
	mw.base += "\n"
}

func (mw *mboxWriter) close() error {
	err := mw.w.Flush()
	if mw.f == nil {
		return err
	}
	if cerr := mw.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// WriteMbox streams one mailbox to w as an mbox file (mboxrd, as the mbox
// export writes each folder): the webmail's folder download. It returns
// how many messages it wrote.
func WriteMbox(ctx context.Context, st store.Store, accountID int64, mb *store.Mailbox, w io.Writer) (int, error) {
	ex := &Exporter{Store: st, Account: &store.Account{ID: accountID}, sum: Summary{Folders: map[string]int{}}}
	mw := &mboxWriter{w: bufio.NewWriterSize(w, 64<<10), br: bufio.NewReaderSize(nil, 64<<10)}
	err := ex.mailbox(ctx, writerLayout{mw}, mb)
	return ex.sum.Messages, err
}

// writerLayout hands out one writer already open.
type writerLayout struct{ fw folderWriter }

func (l writerLayout) open(*store.Mailbox, *Summary) (folderWriter, error) { return l.fw, nil }

// statusFields renders the flags as mbox header fields (LF endings).
func statusFields(flags []string) []byte {
	has := func(f string) bool {
		for _, x := range flags {
			if x == f {
				return true
			}
		}
		return false
	}
	var b bytes.Buffer
	if has(store.FlagSeen) {
		b.WriteString("Status: RO\n")
	} else {
		b.WriteString("Status: O\n")
	}
	// In the order Dovecot writes them (mbox-sync-update.c).
	var xs []byte
	for _, x := range []struct {
		flag   string
		letter byte
	}{{store.FlagAnswered, 'A'}, {store.FlagFlagged, 'F'}, {store.FlagDraft, 'T'}, {store.FlagDeleted, 'D'}} {
		if has(x.flag) {
			xs = append(xs, x.letter)
		}
	}
	if len(xs) > 0 {
		b.WriteString("X-Status: " + string(xs) + "\n")
	}
	var kws []string
	for _, f := range flags {
		if !strings.HasPrefix(f, `\`) {
			kws = append(kws, f)
		}
	}
	if len(kws) > 0 {
		b.WriteString("X-Keywords: " + strings.Join(kws, " ") + "\n")
	}
	return b.Bytes()
}

// fromSender is the From_ line's sender: the Return-Path when the message
// starts with one (what delivery adds), else MAILER-DAEMON, as Dovecot
// writes for a message without a known envelope sender.
func fromSender(br *bufio.Reader) string {
	head, _ := br.Peek(1024)
	const rp = "return-path:"
	if len(head) < len(rp) || !strings.EqualFold(string(head[:len(rp)]), rp) {
		return "MAILER-DAEMON"
	}
	line := head[len(rp):]
	if i := bytes.IndexAny(line, "\r\n"); i >= 0 {
		line = line[:i]
	}
	addr := strings.TrimSpace(string(line))
	addr = strings.TrimSuffix(strings.TrimPrefix(addr, "<"), ">")
	if addr == "" || strings.ContainsAny(addr, " \t") {
		return "MAILER-DAEMON"
	}
	return addr
}

// asctime is the From_ line's date form (RFC 4155 appendix).
const asctime = "Mon Jan _2 15:04:05 2006"

func (mw *mboxWriter) add(m *store.Message, r io.Reader) error {
	br := mw.br
	br.Reset(r)
	defer br.Reset(nil)
	w := mw.w
	fmt.Fprintf(w, "From %s %s\n", fromSender(br), m.InternalDate.UTC().Format(asctime))
	status := statusFields(m.Flags)
	if m.UID > 0 {
		status = fmt.Appendf(status, "X-UID: %d\n", m.UID)
	}
	if mw.base != "" {
		status = append([]byte(mw.base), status...)
		mw.base = ""
	}
	inHeader := true
	lineStart := true
	skipping := false // in a dropped state field (continuation lines too)
	pendingCR := false
	for {
		piece, err := br.ReadSlice('\n')
		if len(piece) > 0 {
			if pendingCR {
				if piece[0] != '\n' && !skipping {
					w.WriteByte('\r')
				}
				pendingCR = false
			}
			if lineStart && inHeader {
				content := bytes.TrimRight(piece, "\r\n")
				switch {
				case len(content) == 0 && bytes.HasSuffix(piece, []byte("\n")):
					w.Write(status)
					inHeader, skipping = false, false
				case piece[0] == ' ' || piece[0] == '\t':
					// a continuation keeps the state of its field
				default:
					name, _, _ := bytes.Cut(content, []byte(":"))
					skipping = isStateField(string(name))
				}
			}
			if !(inHeader && skipping) {
				if lineStart && isFromLine(piece) {
					w.WriteByte('>')
				}
				out := piece
				switch {
				case bytes.HasSuffix(out, []byte("\r\n")):
					w.Write(out[:len(out)-2])
					w.WriteByte('\n')
				case err == bufio.ErrBufferFull && out[len(out)-1] == '\r':
					// The CR of a CRLF split across two reads is held back.
					w.Write(out[:len(out)-1])
					pendingCR = true
				default:
					w.Write(out)
				}
			} else if err == bufio.ErrBufferFull && piece[len(piece)-1] == '\r' {
				pendingCR = true
			}
			lineStart = piece[len(piece)-1] == '\n'
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
	}
	if pendingCR && !(inHeader && skipping) {
		w.WriteByte('\r')
	}
	if !lineStart && !(inHeader && skipping) {
		w.WriteByte('\n') // mbox needs every line ended
	}
	if inHeader {
		w.Write(status) // a message that is all header
	}
	// The empty line that ends every message in an mbox.
	if err := w.WriteByte('\n'); err != nil {
		return err
	}
	return nil
}

// isFromLine reports whether a line is ">"* followed by "From ", the lines
// mboxrd quotes.
func isFromLine(line []byte) bool {
	return bytes.HasPrefix(bytes.TrimLeft(line, ">"), []byte("From "))
}

// WriteMboxZip streams every mailbox of an account to w as a zip archive
// of mbox files, laid out as the mbox export lays out a directory (INBOX,
// Sent, Work, Work.sbd/2024, ...), which `gannet import mbox` reads once
// unpacked and Thunderbird's ImportExportTools open: the webmail's
// whole-account download. Each folder is one compressed entry, written
// message by message.
func WriteMboxZip(ctx context.Context, st store.Store, accountID int64, w io.Writer) (int, error) {
	mbs, err := st.Mailboxes(ctx, accountID)
	if err != nil {
		return 0, fmt.Errorf("export: list mailboxes: %w", err)
	}
	sortMailboxes(mbs)
	zw := zip.NewWriter(w)
	ex := &Exporter{Store: st, Account: &store.Account{ID: accountID}, sum: Summary{Folders: map[string]int{}}}
	br := bufio.NewReaderSize(nil, 64<<10)
	for i := range mbs {
		ew, err := zw.CreateHeader(&zip.FileHeader{Name: filepath.ToSlash(mboxPath("", mbs[i].Name)), Method: zip.Deflate, Modified: time.Now()})
		if err != nil {
			return ex.sum.Messages, err
		}
		mw := &mboxWriter{w: bufio.NewWriterSize(ew, 64<<10), br: br}
		if err := ex.mailbox(ctx, writerLayout{mw}, &mbs[i]); err != nil {
			return ex.sum.Messages, err
		}
	}
	return ex.sum.Messages, zw.Close()
}
