package autoconfig

import (
	"bytes"
	"crypto/sha256"
	"encoding/xml"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"gannet/internal/store"
)

// Apple's configuration profile (Configuration Profile Reference, payload
// type com.apple.mail.managed): a property list that iOS and macOS install
// as a mail account. It is unsigned (the device says so when installing);
// the webmail hands it to a logged-in user for their own address only.

// MobileConfigType is the media type Apple devices open as a profile.
const MobileConfigType = "application/x-apple-aspen-config"

// MobileConfig returns the profile for address: IMAP and SMTP submission,
// implicit TLS where the listener exists (RFC 8314 5.1), else STARTTLS
// (Apple's UseSSL covers both), the address as user name. The UUIDs and
// identifiers are derived from the host name and the address, so that
// installing a newer download replaces the account instead of adding a
// second one.
func (h *Handler) MobileConfig(address string) ([]byte, error) {
	local, domain, err := store.NormAddress(address)
	if err != nil {
		return nil, fmt.Errorf("mobileconfig: %w", err)
	}
	address = local + "@" + domain
	p := h.opts.Ports()
	imapPort := firstPort(p.IMAPS, p.IMAP)
	smtpPort := firstPort(p.Submissions, p.Submission)
	if imapPort == 0 || smtpPort == 0 {
		return nil, errors.New("mobileconfig: IMAP or submission is not served")
	}
	host := h.opts.Hostname
	ident := reverseName(host) + ".gannet.mail"
	accountUUID := stableUUID(host, address, "account")
	mail := dict{
		{"EmailAccountDescription", address},
		{"EmailAccountType", "EmailTypeIMAP"},
		{"EmailAddress", address},
		{"IncomingMailServerAuthentication", "EmailAuthPassword"},
		{"IncomingMailServerHostName", host},
		{"IncomingMailServerPortNumber", imapPort},
		{"IncomingMailServerUseSSL", true},
		{"IncomingMailServerUsername", address},
		{"OutgoingMailServerAuthentication", "EmailAuthPassword"},
		{"OutgoingMailServerHostName", host},
		{"OutgoingMailServerPortNumber", smtpPort},
		{"OutgoingMailServerUseSSL", true},
		{"OutgoingMailServerUsername", address},
		{"OutgoingPasswordSameAsIncomingPassword", true},
		{"PayloadDescription", "Mail account " + address},
		{"PayloadDisplayName", address},
		{"PayloadIdentifier", ident + ".account." + accountUUID},
		{"PayloadType", "com.apple.mail.managed"},
		{"PayloadUUID", accountUUID},
		{"PayloadVersion", 1},
	}
	profileUUID := stableUUID(host, address, "profile")
	profile := dict{
		{"PayloadContent", []any{mail}},
		{"PayloadDescription", "Sets up the mail account " + address + " on " + host},
		{"PayloadDisplayName", "Mail: " + address},
		{"PayloadIdentifier", ident + "." + profileUUID},
		{"PayloadOrganization", host},
		{"PayloadRemovalDisallowed", false},
		{"PayloadType", "Configuration"},
		{"PayloadUUID", profileUUID},
		{"PayloadVersion", 1},
	}
	var b bytes.Buffer
	b.WriteString(xml.Header)
	b.WriteString(`<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">` + "\n")
	b.WriteString(`<plist version="1.0">` + "\n")
	writePlist(&b, profile, 0)
	b.WriteString("</plist>\n")
	return b.Bytes(), nil
}

// firstPort is the first non-zero port.
func firstPort(ports ...int) int {
	for _, p := range ports {
		if p != 0 {
			return p
		}
	}
	return 0
}

// reverseName turns mail.example.com into com.example.mail, the reverse-DNS
// style of Apple's payload identifiers.
func reverseName(host string) string {
	labels := strings.Split(host, ".")
	slices.Reverse(labels)
	return strings.Join(labels, ".")
}

// stableUUID derives a UUID from its parts (RFC 9562 5.8, version 8: a
// SHA-256 prefix with the version and variant bits set).
func stableUUID(parts ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	u := sum[:16]
	u[6] = u[6]&0x0f | 0x80
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%X-%X-%X-%X-%X", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

// dict is a property-list dictionary with its keys in the order written.
type dict []entry

type entry struct {
	key   string
	value any // string, int, bool, []any or dict
}

// writePlist writes v in Apple's XML property-list format.
func writePlist(b *bytes.Buffer, v any, depth int) {
	pad := strings.Repeat("\t", depth)
	switch v := v.(type) {
	case dict:
		b.WriteString(pad + "<dict>\n")
		for _, e := range v {
			b.WriteString(pad + "\t<key>")
			xml.EscapeText(b, []byte(e.key))
			b.WriteString("</key>\n")
			writePlist(b, e.value, depth+1)
		}
		b.WriteString(pad + "</dict>\n")
	case []any:
		b.WriteString(pad + "<array>\n")
		for _, x := range v {
			writePlist(b, x, depth+1)
		}
		b.WriteString(pad + "</array>\n")
	case string:
		b.WriteString(pad + "<string>")
		xml.EscapeText(b, []byte(v))
		b.WriteString("</string>\n")
	case int:
		b.WriteString(pad + "<integer>" + strconv.Itoa(v) + "</integer>\n")
	case bool:
		if v {
			b.WriteString(pad + "<true/>\n")
		} else {
			b.WriteString(pad + "<false/>\n")
		}
	default:
		// Only the literals above are built in this file.
		panic(fmt.Sprintf("plist: unsupported type %T", v))
	}
}
