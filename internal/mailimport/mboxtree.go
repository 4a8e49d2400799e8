package mailimport

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"gannet/internal/store"
)

// MboxFile is one mbox file of a tree and the folder it stands for.
type MboxFile struct {
	Path   string
	Folder string
	Size   int64
}

// MboxTree lists the mbox files under dir, as Thunderbird keeps a profile's
// folders ("Inbox", "Work" with its subfolders in "Work.sbd/") and mutt a
// mail directory: a file is taken when it starts with "From " (Thunderbird's
// .msf indexes and other files do not), and its folder is its path below dir
// with ".sbd" dropped ("Work.sbd/2024" is Work/2024; the file name as
// MboxFolder reads it at the top). Empty files are skipped: they hold no mail.
func MboxTree(dir string) ([]MboxFile, error) {
	var out []MboxFile
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() || !startsWithFrom(p) {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		parts := strings.Split(filepath.ToSlash(rel), "/")
		for i, part := range parts[:len(parts)-1] {
			parts[i] = strings.TrimSuffix(part, ".sbd")
		}
		name := strings.Join(parts, store.Separator)
		if len(parts) == 1 {
			name = MboxFolder(rel)
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		out = append(out, MboxFile{Path: p, Folder: name, Size: fi.Size()})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("mbox tree: %w", err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Folder < out[j].Folder })
	return out, nil
}

// startsWithFrom reports whether the file at p begins like an mbox.
func startsWithFrom(p string) bool {
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	head := make([]byte, 5)
	n, _ := io.ReadFull(f, head)
	return bytes.Equal(head[:n], []byte("From "))
}
