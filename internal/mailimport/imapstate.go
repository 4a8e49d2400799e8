package mailimport

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/emersion/go-imap/v2"
)

// IMAPState is what an IMAP import has fetched from each source folder: a
// rerun asks only for UIDs above LastUID while the folder's UIDVALIDITY is
// unchanged (RFC 9051 2.3.1.1: then no UID is reused). When it changed, the
// folder is read again from the start and the Importer's blob-id resume
// skips what is already there. The state lives in a small JSON file,
// written atomically after every batch; losing it costs a full re-read,
// never a duplicate.
type IMAPState struct {
	Source  string                     `json:"source"` // the URL, no password
	To      string                     `json:"to"`
	Folders map[string]IMAPFolderState `json:"folders"` // by remote name
}

// IMAPFolderState is one source folder's progress.
type IMAPFolderState struct {
	UIDValidity uint32 `json:"uidvalidity"`
	LastUID     uint32 `json:"last_uid"`
}

// IMAPStatePath is where the state of an import from source into the
// account to is kept under a data directory.
func IMAPStatePath(dataDir, source, to string) string {
	sum := sha256.Sum256([]byte(source + "\n" + to))
	return filepath.Join(dataDir, "import-state", "imap-"+hex.EncodeToString(sum[:8])+".json")
}

// LoadIMAPState reads the state file; a missing one is an empty state.
func LoadIMAPState(path, source, to string) (*IMAPState, error) {
	st := &IMAPState{Source: source, To: to, Folders: map[string]IMAPFolderState{}}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return nil, fmt.Errorf("import state: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("import state %s: %w", path, err)
	}
	if err := json.Unmarshal(b, st); err != nil {
		return nil, fmt.Errorf("import state %s: %w (delete it to read every folder again)", path, err)
	}
	if st.Folders == nil {
		st.Folders = map[string]IMAPFolderState{}
	}
	return st, nil
}

// Save writes the state atomically: a temporary file, fsynced, renamed.
func (s *IMAPState) Save(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("import state: %w", err)
	}
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("import state: %w", err)
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("import state: %w", err)
	}
	return nil
}

// IMAPBatch is how many messages one UID FETCH asks for.
const IMAPBatch = 200

// ImportIMAP imports every folder of src through im, asking each folder
// only for the UIDs after those state records, and saving the state to
// statePath after every batch that im stored completely. Empty folders
// are created too.
func ImportIMAP(ctx context.Context, im *Importer, src *IMAP, state *IMAPState, statePath string) error {
	folders, err := src.Folders(ctx)
	if err != nil {
		return err
	}
	names := make([]string, len(folders))
	for i, f := range folders {
		names[i] = f.Target
	}
	if err := im.Import(ctx, folderList(names)); err != nil {
		return err
	}
	for _, f := range folders {
		uv, err := src.Select(ctx, f.Name)
		var refused *imap.Error
		if errors.As(err, &refused) && refused.Type == imap.StatusResponseTypeNo {
			// Deleted since LIST, or not ours to read: the other
			// folders go on, and the summary says why this one did not.
			skip := &SkipError{Pos: Position{File: f.Name, Offset: -1}, Reason: ReasonUnreadable, Detail: refused.Text}
			if err := im.Import(ctx, &skipSource{skip}); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		after := uint32(0)
		if fs, ok := state.Folders[f.Name]; ok && fs.UIDValidity == uv {
			after = fs.LastUID
		}
		uids, err := src.UIDsAfter(ctx, after)
		if err != nil {
			return err
		}
		for len(uids) > 0 {
			chunk := uids[:min(IMAPBatch, len(uids))]
			uids = uids[len(chunk):]
			b, err := src.Fetch(ctx, f, chunk)
			if err != nil {
				return err
			}
			if err := im.Import(ctx, b); err != nil {
				// The rest of the batch is not wanted: end the session
				// rather than wait for it (the state is as of the last batch).
				src.abort()
				return err
			}
			state.Folders[f.Name] = IMAPFolderState{UIDValidity: uv, LastUID: chunk[len(chunk)-1]}
			if err := state.Save(statePath); err != nil {
				return err
			}
		}
		if _, ok := state.Folders[f.Name]; !ok || state.Folders[f.Name].UIDValidity != uv {
			state.Folders[f.Name] = IMAPFolderState{UIDValidity: uv, LastUID: after}
			if err := state.Save(statePath); err != nil {
				return err
			}
		}
	}
	return nil
}

// skipSource is a Source that reports one skip.
type skipSource struct{ e *SkipError }

func (s *skipSource) Next() (*Message, error) {
	if s.e == nil {
		return nil, io.EOF
	}
	e := s.e
	s.e = nil
	return nil, e
}

// folderList is a Source of no messages that names folders, so that the
// Importer creates them even when they are empty.
type folderList []string

func (l folderList) Next() (*Message, error) { return nil, io.EOF }
func (l folderList) Folders() []string       { return l }
