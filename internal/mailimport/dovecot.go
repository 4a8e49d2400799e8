package mailimport

import (
	"bufio"
	"os"
	"strconv"
	"strings"
)

// The index files Dovecot and Courier keep beside a maildir. Each is
// optional: one that is missing or unreadable gives nothing, and the
// messages are imported without what it would have added.

// maxIndexLine bounds a line of an index file; longer lines are skipped.
const maxIndexLine = 64 << 10

// eachLine calls fn for every line of the file at path.
func eachLine(path string, fn func(line string)) {
	f, err := os.Open(path)
	if err != nil {
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 4096), maxIndexLine)
	for sc.Scan() {
		fn(strings.TrimSuffix(sc.Text(), "\r"))
	}
}

// readDovecotKeywords reads dovecot-keywords: lines "INDEX NAME", index 0
// being the letter a in file names (Dovecot's maildir-keywords.c).
func readDovecotKeywords(path string) [26]string {
	var kws [26]string
	eachLine(path, func(line string) {
		idx, name, ok := strings.Cut(line, " ")
		if !ok {
			return
		}
		i, err := strconv.Atoi(idx)
		if err != nil || i < 0 || i >= len(kws) {
			return
		}
		kws[i] = strings.TrimSpace(name)
	})
	return kws
}

// readUIDList reads dovecot-uidlist: a header line, then "UID
// [EXTENSIONS] :FILENAME" (version 3) or "UID FILENAME" (versions 1 and 2),
// FILENAME without the info suffix. It maps file base names to UIDs.
func readUIDList(path string) map[string]uint32 {
	uids := map[string]uint32{}
	first := true
	eachLine(path, func(line string) {
		if first {
			first = false
			return
		}
		uidText, rest, ok := strings.Cut(line, " ")
		if !ok {
			return
		}
		uid, err := strconv.ParseUint(uidText, 10, 32)
		if err != nil || uid == 0 {
			return
		}
		name := rest
		if i := strings.Index(rest, ":"); i >= 0 && (i == 0 || rest[i-1] == ' ') {
			name = rest[i+1:]
		} else if f := strings.Fields(rest); len(f) > 0 {
			name = f[len(f)-1]
		}
		base, _ := splitInfo(name)
		if base != "" {
			uids[base] = uint32(uid)
		}
	})
	return uids
}

// readCourierKeywords reads Courier-IMAP's courierimapkeywords/:list:
// keyword names one per line, an empty line, then "FILENAME:I J ..." with
// indexes into the names. It maps file base names to keywords. (Courier
// also keeps per-message update files beside :list until it merges them;
// those are not read.)
func readCourierKeywords(path string) map[string][]string {
	var names []string
	out := map[string][]string{}
	inNames := true
	eachLine(path, func(line string) {
		if inNames {
			if line == "" {
				inNames = false
			} else {
				names = append(names, line)
			}
			return
		}
		i := strings.LastIndexByte(line, ':')
		if i <= 0 {
			return
		}
		base, _ := splitInfo(line[:i])
		for _, idx := range strings.Fields(line[i+1:]) {
			if n, err := strconv.Atoi(idx); err == nil && n >= 0 && n < len(names) {
				out[base] = append(out[base], names[n])
			}
		}
	})
	return out
}
