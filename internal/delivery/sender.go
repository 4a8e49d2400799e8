package delivery

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"gannet/internal/message"
	"gannet/internal/smtp"
	"gannet/internal/store"
)

// CheckSender enforces, for an authenticated submission (RFC 6409 8.1 lets an
// MSA check the sender), that the envelope sender is one of the account's
// addresses: its own, its aliases, or either with a +tag (RFC 5233). The null
// sender is refused: users do not send bounces. The refusal is 550 5.7.1.
func (d *Deliverer) CheckSender(ctx context.Context, account *store.Account, from smtp.Address) error {
	if from.IsNull() {
		return smtp.SenderNotOwned().WithCause(errors.New("null sender on submission"))
	}
	owned, err := d.owned(ctx, account)
	if err != nil {
		return err
	}
	if !owns(owned, from.Key()) {
		return smtp.SenderNotOwned().WithCause(fmt.Errorf("%s may not send as %s", account.Address, from))
	}
	return nil
}

func (d *Deliverer) owned(ctx context.Context, account *store.Account) (map[string]bool, error) {
	addrs, err := d.st.Addresses(ctx, account.ID)
	if err != nil {
		return nil, smtp.LocalError().WithCause(fmt.Errorf("addresses of %s: %w", account.Address, err))
	}
	m := make(map[string]bool, len(addrs))
	for _, a := range addrs {
		m[strings.ToLower(a)] = true
	}
	return m, nil
}

// owns reports whether key (lower-case local@a-label) is in owned, directly or
// once its +tag is removed.
func owns(owned map[string]bool, key string) bool {
	if owned[key] {
		return true
	}
	at := strings.LastIndexByte(key, '@')
	if at < 0 {
		return false
	}
	if plus := strings.IndexByte(key[:at], '+'); plus > 0 {
		return owned[key[:plus]+key[at:]]
	}
	return false
}

// PrepareSubmission checks the header of a submitted message and completes it
// (RFC 6409 8): there must be exactly one From: field and every mailbox in it
// must belong to the account (550 5.7.1 otherwise), so that an authenticated
// user cannot forge another's address; a missing Date: or Message-ID: is added
// (RFC 6409 8.2, 8.3). It returns the message to deliver.
func (d *Deliverer) PrepareSubmission(ctx context.Context, account *store.Account, msg []byte) ([]byte, error) {
	end := headerEnd(msg)
	fields := message.Header(msg, 0, int64(end))
	var nFrom int
	var hasDate, hasID bool
	for _, f := range fields {
		switch strings.ToLower(f.Name) {
		case "from":
			nFrom++
		case "date":
			hasDate = true
		case "message-id":
			hasID = true
		}
	}
	if nFrom != 1 {
		return nil, smtp.BadHeader("Message must have exactly one From: header field").
			WithCause(fmt.Errorf("%d From fields", nFrom))
	}
	from := message.Parse(msg[:end]).Envelope.From
	owned, err := d.owned(ctx, account)
	if err != nil {
		return nil, err
	}
	n := 0
	signDomain := ""
	for _, a := range from {
		if a.Host == "" {
			continue // group start or end marker (RFC 5322 3.4)
		}
		n++
		if signDomain == "" {
			signDomain = strings.ToLower(a.Host)
		}
		key := strings.ToLower(a.Mailbox) + "@" + strings.ToLower(a.Host)
		if host, err := smtp.ASCIIDomain(a.Host); err == nil {
			key = strings.ToLower(a.Mailbox) + "@" + host
		}
		if !owns(owned, key) {
			return nil, smtp.SenderNotOwned().WithText("From: address not owned by authenticated user").
				WithCause(fmt.Errorf("%s may not use From: %s@%s", account.Address, a.Mailbox, a.Host))
		}
	}
	if n == 0 {
		return nil, smtp.BadHeader("Message From: header field has no address").WithCause(errors.New("empty From"))
	}
	if !hasDate || !hasID {
		var add bytes.Buffer
		if !hasDate {
			add.WriteString("Date: " + d.now().Format(dateLayout) + "\r\n")
		}
		if !hasID {
			add.WriteString("Message-ID: <" + NewID() + "@" + d.hostname + ">\r\n")
		}
		out := make([]byte, 0, add.Len()+len(msg))
		msg = append(append(out, add.Bytes()...), msg...)
	}
	if d.sign == nil {
		return msg, nil
	}
	// Sign last, over the final header (RFC 6376 5.4: Date and Message-ID
	// are among the fields worth signing).
	signed, err := d.sign(ctx, signDomain, msg)
	if err != nil {
		return nil, smtp.LocalError().WithCause(fmt.Errorf("dkim sign for %s: %w", signDomain, err))
	}
	return signed, nil
}

// headerEnd returns the offset just after the blank line ending the header
// (RFC 5322 2.1), or len(msg) when there is none.
func headerEnd(msg []byte) int {
	if bytes.HasPrefix(msg, []byte("\r\n")) {
		return 2
	}
	if i := bytes.Index(msg, []byte("\r\n\r\n")); i >= 0 {
		return i + 4
	}
	return len(msg)
}
