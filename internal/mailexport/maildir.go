package mailexport

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"gannet/internal/imapwire"
	"gannet/internal/store"
)

// The Maildir++ layout (https://cr.yp.to/proto/maildir.html and Courier's
// Maildir++, as Dovecot reads it with LAYOUT=maildir++): INBOX is the
// root's cur/new/tmp; a folder "a/b" is the directory ".a.b" in the root,
// each level in modified UTF-7 (RFC 3501 5.1.3), with an empty
// "maildirfolder" file inside. A "." inside a level cannot be written (it
// is the level separator) and becomes "_", with a warning.
//
// Every message is a file in cur/ named "TIME.UuidVvalidity.gannet,S=SIZE:2,FLAGS":
// TIME the internal date (which is also the file's mtime, where Dovecot
// and mailimport read the internal date from), S= the file's size
// (Dovecot trusts it instead of a stat), FLAGS the info letters in ASCII
// order: D draft, F flagged, P passed ($Forwarded), R replied, S seen, T
// trashed (\Deleted), and a..z for keywords, named in the folder's
// dovecot-keywords file ("INDEX NAME" lines, index 0 = a). A folder has
// room for 26 keywords; more are dropped, with a warning. The bytes are
// the stored ones, CRLF line ends included (Dovecot reads both).
//
// dovecot-uidlist (version 3) keeps each message's UID and the mailbox's
// UIDVALIDITY and UIDNEXT, so Dovecot serves the export with the same
// UIDs, and mailimport reads the messages back in UID order.
type maildirLayout struct {
	root string
	used map[string]bool // directory names taken
}

func newMaildirLayout(root string) *maildirLayout {
	return &maildirLayout{root: root, used: map[string]bool{}}
}

// folderDir is the Maildir++ directory of a mailbox name.
func (l *maildirLayout) folderDir(name string, sum *Summary) string {
	if name == "INBOX" {
		return l.root
	}
	levels := strings.Split(name, store.Separator)
	for i, lv := range levels {
		enc := imapwire.EncodeMailbox(lv)
		if strings.Contains(enc, ".") {
			enc = strings.ReplaceAll(enc, ".", "_")
			sum.warn("folder %q: a \".\" cannot be part of a Maildir++ folder name, written as \"_\"", name)
		}
		levels[i] = enc
	}
	d := "." + strings.Join(levels, ".")
	for n := 2; l.used[d]; n++ {
		d = fmt.Sprintf(".%s_%d", strings.Join(levels, "."), n)
	}
	l.used[d] = true
	return filepath.Join(l.root, d)
}

func (l *maildirLayout) open(mb *store.Mailbox, sum *Summary) (folderWriter, error) {
	dir := l.folderDir(mb.Name, sum)
	for _, sub := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			return nil, err
		}
	}
	if dir != l.root {
		if err := os.WriteFile(filepath.Join(dir, "maildirfolder"), nil, 0o600); err != nil {
			return nil, err
		}
	}
	uf, err := os.OpenFile(filepath.Join(dir, "dovecot-uidlist.tmp"), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	fw := &maildirWriter{dir: dir, mb: mb, sum: sum, kwIndex: map[string]int{}, uf: uf, uw: bufio.NewWriter(uf)}
	// Dovecot's maildir-uidlist.c, version 3: "3 V<uidvalidity> N<uidnext>".
	fmt.Fprintf(fw.uw, "3 V%d N%d\n", mb.UIDValidity, max(mb.UIDNext, 1))
	return fw, nil
}

// maildirWriter writes one folder.
type maildirWriter struct {
	dir     string
	mb      *store.Mailbox
	sum     *Summary
	kws     []string       // by index: dovecot-keywords
	kwIndex map[string]int // lower-case name → index
	dropped map[string]bool
	uf      *os.File
	uw      *bufio.Writer
}

func (fw *maildirWriter) add(m *store.Message, r io.Reader) error {
	base := fmt.Sprintf("%d.U%dV%d.gannet", m.InternalDate.Unix(), m.UID, fw.mb.UIDValidity)
	tmp := filepath.Join(fw.dir, "tmp", base)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	n, err := io.Copy(f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	base = fmt.Sprintf("%s,S=%d", base, n)
	final := filepath.Join(fw.dir, "cur", base+":2,"+fw.info(m.Flags))
	if err := os.Rename(tmp, final); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Chtimes(final, m.InternalDate, m.InternalDate); err != nil {
		return err
	}
	_, err = fmt.Fprintf(fw.uw, "%d :%s\n", m.UID, base)
	return err
}

// info is the letters after ":2," for a message's flags.
func (fw *maildirWriter) info(flags []string) string {
	var b []byte
	for _, f := range flags {
		switch f {
		case store.FlagDraft:
			b = append(b, 'D')
		case store.FlagFlagged:
			b = append(b, 'F')
		case store.FlagAnswered:
			b = append(b, 'R')
		case store.FlagSeen:
			b = append(b, 'S')
		case store.FlagDeleted:
			b = append(b, 'T')
		default:
			if strings.HasPrefix(f, `\`) {
				continue
			}
			if strings.EqualFold(f, "$Forwarded") {
				b = append(b, 'P')
			}
			if c, ok := fw.keyword(f); ok {
				b = append(b, c)
			}
		}
	}
	sort.Slice(b, func(i, j int) bool { return b[i] < b[j] })
	return string(b)
}

// keyword is the letter of a keyword in this folder, assigned on first use.
func (fw *maildirWriter) keyword(k string) (byte, bool) {
	key := strings.ToLower(k)
	if i, ok := fw.kwIndex[key]; ok {
		return byte('a' + i), true
	}
	if len(fw.kws) == 26 {
		if !fw.dropped[key] {
			if fw.dropped == nil {
				fw.dropped = map[string]bool{}
			}
			fw.dropped[key] = true
			fw.sum.warn("folder %q: keyword %q dropped (a Maildir folder names at most 26 keywords)", fw.mb.Name, k)
		}
		return 0, false
	}
	fw.kwIndex[key] = len(fw.kws)
	fw.kws = append(fw.kws, k)
	return byte('a' + len(fw.kws) - 1), true
}

// close writes dovecot-keywords and puts dovecot-uidlist in place.
func (fw *maildirWriter) close() error {
	err := fw.uw.Flush()
	if cerr := fw.uf.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(fw.uf.Name(), filepath.Join(fw.dir, "dovecot-uidlist"))
	}
	if err == nil && len(fw.kws) > 0 {
		var b strings.Builder
		for i, k := range fw.kws {
			fmt.Fprintf(&b, "%d %s\n", i, k)
		}
		err = os.WriteFile(filepath.Join(fw.dir, "dovecot-keywords"), []byte(b.String()), 0o600)
	}
	return err
}
