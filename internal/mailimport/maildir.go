package mailimport

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"gannet/internal/imapwire"
	"gannet/internal/store"
)

// Maildir reads a Maildir tree (https://cr.yp.to/proto/maildir.html): the
// root's cur/ and new/ are INBOX; Maildir++ folders are the root's
// subdirectories ".Name", with "." separating levels (".Work.2024" is
// "Work/2024") and names in modified UTF-7 (RFC 3501 5.1.3); plain
// subdirectories that are maildirs are folders too (Dovecot's LAYOUT=fs).
// tmp/ is skipped: a message there was never delivered.
//
// Flags come from the ":2," info suffix (D draft, F flagged, P passed =
// $Forwarded, R replied, S seen, T trashed = \Deleted, a..z keywords named by
// Dovecot's dovecot-keywords); Courier's courierimapkeywords/:list adds
// keywords; Dovecot's dovecot-uidlist gives the order, else the file name's
// delivery time does. The internal date is the file's mtime (Dovecot sets it
// to the INTERNALDATE), or the file name's time when that is earlier (a tree
// copied without keeping mtimes).
type Maildir struct {
	root    string
	lim     Limits
	folders []mdFolder
	fi, mi  int
	total   int64
	read    int64
}

type mdFolder struct {
	name  string // store name
	dir   string
	files []mdFile
	kws   [26]string // dovecot-keywords: a..z
}

type mdFile struct {
	path  string
	base  string // the unique name, without the info suffix
	info  string // the letters after ":2,"
	inNew bool
	uid   uint32 // from dovecot-uidlist, 0 = not listed
	ts    int64  // delivery time from the name, 0 = none
	size  int64
	mtime time.Time
	kw    []string // Courier keywords
}

// OpenMaildir scans the tree at root (names and sizes only; messages are
// read one at a time by Next).
func OpenMaildir(root string, lim Limits) (*Maildir, error) {
	st, err := os.Stat(root)
	if err != nil {
		return nil, fmt.Errorf("maildir: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("maildir %s: not a directory", root)
	}
	d := &Maildir{root: root, lim: lim.withDefaults()}
	inbox := isMaildir(root)
	if inbox {
		if err := d.addFolder("INBOX", root); err != nil {
			return nil, err
		}
	}
	if err := d.scan(root, "", inbox); err != nil {
		return nil, err
	}
	if len(d.folders) == 0 {
		return nil, fmt.Errorf("maildir %s: no cur/ or new/ directory, and no folders", root)
	}
	sort.SliceStable(d.folders, func(i, j int) bool {
		a, b := d.folders[i].name, d.folders[j].name
		if (a == "INBOX") != (b == "INBOX") {
			return a == "INBOX"
		}
		return a < b
	})
	return d, nil
}

// scan finds folders under dir: Maildir++ ".a.b" at the root, and plain
// subdirectories (LAYOUT=fs) anywhere, prefix being dir's folder name.
// Plain subdirectories count only when the root is a maildir itself: a
// directory that merely holds a maildir ("~" holding "Maildir") is not
// imported as a folder of that name.
func (d *Maildir) scan(dir, prefix string, plain bool) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("maildir: %w", err)
	}
	for _, e := range ents {
		n := e.Name()
		if !e.IsDir() {
			continue
		}
		p := filepath.Join(dir, n)
		switch {
		case n == "cur" || n == "new" || n == "tmp" || n == "courierimapkeywords":
		case strings.HasPrefix(n, "."):
			if prefix == "" && len(n) > 1 && isMaildir(p) {
				if err := d.addFolder(maildirPPName(n[1:]), p); err != nil {
					return err
				}
			}
		case plain:
			name := decodeName(n)
			if prefix != "" {
				name = prefix + "/" + name
			}
			if isMaildir(p) {
				if err := d.addFolder(name, p); err != nil {
					return err
				}
			}
			if err := d.scan(p, name, plain); err != nil {
				return err
			}
		}
	}
	return nil
}

func isMaildir(dir string) bool {
	for _, sub := range []string{"cur", "new"} {
		if st, err := os.Stat(filepath.Join(dir, sub)); err == nil && st.IsDir() {
			return true
		}
	}
	return false
}

// maildirPPName maps a Maildir++ folder ("Work.2024") to a store name.
func maildirPPName(s string) string {
	var parts []string
	for _, p := range strings.Split(s, ".") {
		if p != "" {
			parts = append(parts, decodeName(p))
		}
	}
	return strings.Join(parts, store.Separator)
}

// decodeName decodes one modified UTF-7 level, keeping it as it is when it
// is not valid modified UTF-7 (a name written by a program that used UTF-8).
func decodeName(s string) string {
	if n, err := imapwire.DecodeMailbox(s); err == nil {
		return n
	}
	return s
}

func (d *Maildir) addFolder(name, dir string) error {
	f := mdFolder{name: name, dir: dir, kws: readDovecotKeywords(filepath.Join(dir, "dovecot-keywords"))}
	uids := readUIDList(filepath.Join(dir, "dovecot-uidlist"))
	courier := readCourierKeywords(filepath.Join(dir, "courierimapkeywords", ":list"))
	for _, sub := range []string{"new", "cur"} {
		ents, err := os.ReadDir(filepath.Join(dir, sub))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("maildir: %w", err)
		}
		for _, e := range ents {
			if !e.Type().IsRegular() || strings.HasPrefix(e.Name(), ".") {
				continue
			}
			fi, err := e.Info()
			if err != nil {
				continue // removed meanwhile
			}
			base, info := splitInfo(e.Name())
			m := mdFile{path: filepath.Join(dir, sub, e.Name()), base: base, info: info,
				inNew: sub == "new", uid: uids[base], ts: nameTime(base), size: fi.Size(),
				mtime: fi.ModTime(), kw: courier[base]}
			f.files = append(f.files, m)
			d.total += m.size
		}
	}
	// dovecot-uidlist's order first, then by delivery time and name.
	sort.Slice(f.files, func(i, j int) bool {
		a, b := f.files[i], f.files[j]
		ua, ub := uint64(a.uid), uint64(b.uid)
		if ua == 0 {
			ua = 1 << 32
		}
		if ub == 0 {
			ub = 1 << 32
		}
		if ua != ub {
			return ua < ub
		}
		if a.ts != b.ts {
			return a.ts < b.ts
		}
		return a.base < b.base
	})
	d.folders = append(d.folders, f)
	return nil
}

// splitInfo splits a maildir file name at its info suffix (":2,FLAGS";
// "!" or ";" instead of ":" on file systems without colons).
func splitInfo(name string) (base, info string) {
	for _, sep := range []string{":2,", "!2,", ";2,"} {
		if i := strings.LastIndex(name, sep); i >= 0 {
			return name[:i], name[i+len(sep):]
		}
	}
	if i := strings.IndexByte(name, ':'); i >= 0 {
		return name[:i], ""
	}
	return name, ""
}

// nameTime is the delivery time at the start of a maildir name
// ("1700000000.M1P2.host"), 0 when there is none.
func nameTime(base string) int64 {
	i := strings.IndexByte(base, '.')
	if i <= 0 {
		return 0
	}
	v, err := strconv.ParseInt(base[:i], 10, 64)
	if err != nil || v <= 0 {
		return 0
	}
	return v
}

// Folders are the store names of every folder found, empty ones included.
func (d *Maildir) Folders() []string {
	out := make([]string, len(d.folders))
	for i, f := range d.folders {
		out[i] = f.name
	}
	return out
}

// Size is the bytes of all message files; Offset those read so far.
func (d *Maildir) Size() int64   { return d.total }
func (d *Maildir) Offset() int64 { return d.read }

// Next returns the next message, a *SkipError, or io.EOF.
func (d *Maildir) Next() (*Message, error) {
	for d.fi < len(d.folders) && d.mi >= len(d.folders[d.fi].files) {
		d.fi, d.mi = d.fi+1, 0
	}
	if d.fi >= len(d.folders) {
		return nil, io.EOF
	}
	f := &d.folders[d.fi]
	mf := f.files[d.mi]
	d.mi++
	d.read += mf.size
	pos := Position{File: mf.path, Offset: -1}
	if mf.size > d.lim.MaxSize {
		return nil, &SkipError{Pos: pos, Reason: ReasonTooLarge, Detail: fmt.Sprintf("%d bytes, larger than %d", mf.size, d.lim.MaxSize)}
	}
	data, err := readLimited(mf.path, d.lim.MaxSize)
	if err != nil {
		return nil, &SkipError{Pos: pos, Reason: ReasonUnreadable, Detail: err.Error()}
	}
	raw, err := normalise(make([]byte, 0, len(data)+len(data)/32), data, d.lim.MaxLine)
	switch {
	case errors.Is(err, errLongLine):
		return nil, &SkipError{Pos: pos, Reason: ReasonLongLine, Detail: fmt.Sprintf("a line is longer than %d bytes", d.lim.MaxLine)}
	case int64(len(raw)) > d.lim.MaxSize:
		return nil, &SkipError{Pos: pos, Reason: ReasonTooLarge, Detail: fmt.Sprintf("larger than %d bytes", d.lim.MaxSize)}
	case len(raw) == 0:
		return nil, &SkipError{Pos: pos, Reason: ReasonEmpty}
	case !startsWithField(raw):
		return nil, &SkipError{Pos: pos, Reason: ReasonNoHeader, Detail: "the message does not start with a header field"}
	}
	date := mf.mtime
	if mf.ts > 0 && (date.IsZero() || time.Unix(mf.ts, 0).Before(date)) {
		date = time.Unix(mf.ts, 0)
	}
	return &Message{Mailbox: f.name, Raw: raw, Flags: validFlags(d.flags(f, mf)), Date: date, Pos: pos}, nil
}

// readLimited reads a file of at most max bytes (a file that grew since it
// was listed is cut at max+1, and then found too large).
func readLimited(path string, max int64) ([]byte, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	return io.ReadAll(io.LimitReader(fh, max+1))
}

// flags maps the info letters (and Courier's keywords) to store flags.
func (d *Maildir) flags(f *mdFolder, mf mdFile) []string {
	var out []string
	for _, c := range mf.info {
		switch {
		case c == 'D':
			out = append(out, store.FlagDraft)
		case c == 'F':
			out = append(out, store.FlagFlagged)
		case c == 'P':
			out = append(out, ForwardedKeyword)
		case c == 'R':
			out = append(out, store.FlagAnswered)
		case c == 'S':
			out = append(out, store.FlagSeen)
		case c == 'T':
			out = append(out, store.FlagDeleted)
		case c >= 'a' && c <= 'z':
			if k := f.kws[c-'a']; k != "" {
				out = append(out, k)
			}
		}
	}
	return append(out, mf.kw...)
}
