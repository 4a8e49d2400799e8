package webmail

import (
	"net/http"
	"strings"
	"time"

	"gannet/internal/mailexport"
	"gannet/internal/store"
)

// handleMboxDownload streams one of the session's own mailboxes as an mbox
// file (mboxrd with the flags in Status/X-Status/X-Keywords, as `gannet
// export --format mbox` writes each folder: internal/mailexport), which
// mutt, Thunderbird and `gannet import mbox` open. It streams message by
// message; a failure after the first byte aborts the connection, so the
// browser reports an incomplete download instead of saving a short file.
func (s *Server) handleMboxDownload(w http.ResponseWriter, r *http.Request) {
	mb, err := s.ownMailbox(r)
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	name := mb.Name
	if i := strings.LastIndex(name, store.Separator); i >= 0 {
		name = name[i+1:]
	}
	h := w.Header()
	h.Set("Content-Type", "application/mbox")
	h.Set("Content-Disposition", contentDisposition(safeFilename(name)+".mbox"))
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	w.WriteHeader(http.StatusOK)
	dw := &deadlineWriter{w: w, rc: http.NewResponseController(w)}
	n, err := mailexport.WriteMbox(r.Context(), s.opts.Store, sessionOf(r).accountID, mb, dw)
	if err != nil {
		if r.Context().Err() == nil {
			s.log.Warn("mbox download failed", "mailbox", mb.ID, "messages", n, "err", err)
		}
		panic(http.ErrAbortHandler)
	}
}

// deadlineWriter extends the connection's write deadline before every
// write, so that a large download is bounded per write (a stalled client
// is cut off) rather than by the server's whole-response WriteTimeout.
type deadlineWriter struct {
	w  http.ResponseWriter
	rc *http.ResponseController
}

// downloadWriteTimeout bounds one write of a download.
const downloadWriteTimeout = time.Minute

func (d *deadlineWriter) Write(p []byte) (int, error) {
	_ = d.rc.SetWriteDeadline(time.Now().Add(downloadWriteTimeout))
	return d.w.Write(p)
}

// handleZipDownload streams the session's whole account as a zip of mbox
// files (mailexport.WriteMboxZip: one entry per folder, Thunderbird's
// NAME.sbd layout for subfolders), aborted like handleMboxDownload on a
// failure after the first byte.
func (s *Server) handleZipDownload(w http.ResponseWriter, r *http.Request) {
	sess := sessionOf(r)
	h := w.Header()
	h.Set("Content-Type", "application/zip")
	h.Set("Content-Disposition", contentDisposition(safeFilename(sess.address)+"-mail.zip"))
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	w.WriteHeader(http.StatusOK)
	dw := &deadlineWriter{w: w, rc: http.NewResponseController(w)}
	n, err := mailexport.WriteMboxZip(r.Context(), s.opts.Store, sess.accountID, dw)
	if err != nil {
		if r.Context().Err() == nil {
			s.log.Warn("account download failed", "messages", n, "err", err)
		}
		panic(http.ErrAbortHandler)
	}
}
