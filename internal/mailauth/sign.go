package mailauth

import (
	"errors"
	"fmt"
	"strings"

	"github.com/emersion/go-msgauth/dkim"
)

// Signer adds DKIM signatures (RFC 6376 5) for one domain, one per key. It is
// immutable and safe for concurrent use.
type Signer struct {
	domain string
	keys   []Key
}

// NewSigner returns a Signer that signs as domain (the d= SDID) with keys.
func NewSigner(domain string, keys ...Key) (*Signer, error) {
	d, err := normalizeDomain(domain)
	if err != nil {
		return nil, fmt.Errorf("dkim signer: %w", err)
	}
	if len(keys) == 0 {
		return nil, errors.New("dkim signer: no keys")
	}
	for _, k := range keys {
		if k.Selector == "" || k.Signer == nil || k.Algorithm() == "" {
			return nil, fmt.Errorf("dkim signer for %s: key with selector %q unusable", d, k.Selector)
		}
	}
	return &Signer{domain: d, keys: append([]Key(nil), keys...)}, nil
}

// Sign returns raw (a complete message with CRLF line endings, as it will be
// transmitted) with one DKIM-Signature field per key prepended, in key order.
// Canonicalization is relaxed/relaxed (RFC 6376 3.4.2, 3.4.4), which survives
// the re-folding and whitespace changes relays make. From is oversigned
// (listed once more than it occurs, RFC 6376 5.4.2) so that a From field
// added in transit breaks the signature.
func (s *Signer) Sign(raw []byte) ([]byte, error) {
	fields, _ := splitHeader(raw)
	keys := headerKeys(fields)
	if len(keys) == 0 {
		return nil, errors.New("dkim sign: message has no From field")
	}
	var sigs strings.Builder
	for _, k := range s.keys {
		signer, err := dkim.NewSigner(&dkim.SignOptions{
			Domain:                 s.domain,
			Selector:               k.Selector,
			Signer:                 k.Signer,
			HeaderCanonicalization: dkim.CanonicalizationRelaxed,
			BodyCanonicalization:   dkim.CanonicalizationRelaxed,
			HeaderKeys:             keys,
		})
		if err != nil {
			return nil, fmt.Errorf("dkim sign with %s: %w", k.Selector, err)
		}
		if _, err := signer.Write(raw); err != nil {
			signer.Close()
			return nil, fmt.Errorf("dkim sign with %s: %w", k.Selector, err)
		}
		if err := signer.Close(); err != nil {
			return nil, fmt.Errorf("dkim sign with %s: %w", k.Selector, err)
		}
		sigs.WriteString(signer.Signature())
	}
	out := make([]byte, 0, sigs.Len()+len(raw))
	out = append(out, sigs.String()...)
	return append(out, raw...), nil
}

// headerKeys lists each signed field name as many times as it occurs (RFC
// 6376 5.4.2: instances are signed bottom-up), plus one extra From. It
// returns nil when there is no From, which RFC 6376 5.4 requires signing.
func headerKeys(fields []field) []string {
	// The fields we sign when present, after RFC 6376 5.4.1: those that
	// carry the message's meaning to its reader. Trace and transport fields
	// (Received, Return-Path) are left out because relays add to them.
	signed := []string{
		"From", "Reply-To", "Sender", "To", "Cc", "Subject", "Date", "Message-ID",
		"In-Reply-To", "References", "MIME-Version", "Content-Type",
		"Content-Transfer-Encoding", "List-Unsubscribe", "List-Unsubscribe-Post",
	}
	var keys []string
	for _, name := range signed {
		n := len(fieldsNamed(fields, name))
		if name == "From" {
			if n == 0 {
				return nil
			}
			n++
		}
		for range n {
			keys = append(keys, name)
		}
	}
	return keys
}
