package store

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
	"time"
)

func TestIngest(t *testing.T) {
	raw := []byte("From: Ann Example <Ann@Example.COM>\r\nTo: bob@example.com, \"Cy\" <cy@example.org>\r\n" +
		"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?= AUS Bern\r\nDate: Mon, 7 Dec 2026 23:30:00 -0800\r\n\r\nHello\r\n")
	b := Ingest(raw)
	sum := sha256.Sum256(raw)
	if b.ID != hex.EncodeToString(sum[:]) || b.Size != int64(len(raw)) {
		t.Errorf("id %s size %d", b.ID, b.Size)
	}
	if !strings.HasSuffix(string(b.Header), "\r\n\r\n") || strings.Contains(string(b.Header), "Hello") {
		t.Errorf("header %q", b.Header)
	}
	if b.Subject != "grüße aus bern" {
		t.Errorf("subject %q", b.Subject)
	}
	if b.From != "ann example <ann@example.com>" || b.To != "<bob@example.com>, cy <cy@example.org>" {
		t.Errorf("from %q to %q", b.From, b.To)
	}
	// The day is the Date's own (7 December), not the UTC one (8 December).
	if want := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC).Unix() / 86400; b.SentDay != want || b.SentDate == 0 {
		t.Errorf("sent day %d date %d, want day %d", b.SentDay, b.SentDate, want)
	}
	if len(b.Parsed) == 0 {
		t.Error("no parse results")
	}

	big := Ingest([]byte("Subject: x\r\nX-Long: " + strings.Repeat("a", MaxHeaderIndex) + "\r\n\r\nbody"))
	if len(big.Header) != MaxHeaderIndex {
		t.Errorf("header index %d bytes, want %d", len(big.Header), MaxHeaderIndex)
	}
	if e := Ingest(nil); e.Header == nil || e.SentDate != 0 {
		t.Errorf("empty message: header %v date %d", e.Header, e.SentDate)
	}
}
