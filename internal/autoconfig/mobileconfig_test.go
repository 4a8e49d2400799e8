package autoconfig_test

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"os/exec"
	"reflect"
	"regexp"
	"strconv"
	"testing"

	"gannet/internal/autoconfig"
)

// parsePlist reads an XML property list back into Go values (map[string]any,
// []any, string, int64, bool) with encoding/xml, checking the structure.
func parsePlist(t *testing.T, data []byte) any {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.Strict = true
	var value func(start xml.StartElement) (any, error)
	next := func() (xml.Token, error) {
		for {
			tok, err := dec.Token()
			if err != nil {
				return nil, err
			}
			switch tok := tok.(type) {
			case xml.CharData:
				if len(bytes.TrimSpace(tok)) != 0 {
					return nil, fmt.Errorf("stray text %q", tok)
				}
			case xml.Comment, xml.ProcInst, xml.Directive:
			default:
				return tok, nil
			}
		}
	}
	text := func() (string, error) {
		var s string
		for {
			tok, err := dec.Token()
			if err != nil {
				return "", err
			}
			switch tok := tok.(type) {
			case xml.CharData:
				s += string(tok)
			case xml.EndElement:
				return s, nil
			default:
				return "", fmt.Errorf("unexpected %T in a scalar", tok)
			}
		}
	}
	value = func(start xml.StartElement) (any, error) {
		switch start.Name.Local {
		case "dict":
			m := map[string]any{}
			for {
				tok, err := next()
				if err != nil {
					return nil, err
				}
				if _, ok := tok.(xml.EndElement); ok {
					return m, nil
				}
				k, ok := tok.(xml.StartElement)
				if !ok || k.Name.Local != "key" {
					return nil, fmt.Errorf("want <key>, got %v", tok)
				}
				key, err := text()
				if err != nil {
					return nil, err
				}
				tok, err = next()
				if err != nil {
					return nil, err
				}
				v, ok := tok.(xml.StartElement)
				if !ok {
					return nil, fmt.Errorf("key %s has no value", key)
				}
				if m[key], err = value(v); err != nil {
					return nil, err
				}
			}
		case "array":
			var a []any
			for {
				tok, err := next()
				if err != nil {
					return nil, err
				}
				if _, ok := tok.(xml.EndElement); ok {
					return a, nil
				}
				v, err := value(tok.(xml.StartElement))
				if err != nil {
					return nil, err
				}
				a = append(a, v)
			}
		case "string":
			return text()
		case "integer":
			s, err := text()
			if err != nil {
				return nil, err
			}
			return strconv.ParseInt(s, 10, 64)
		case "true", "false":
			if _, err := text(); err != nil {
				return nil, err
			}
			return start.Name.Local == "true", nil
		}
		return nil, fmt.Errorf("unknown element <%s>", start.Name.Local)
	}
	tok, err := next()
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := tok.(xml.StartElement); !ok || p.Name.Local != "plist" {
		t.Fatalf("root %v, want <plist>", tok)
	}
	tok, err = next()
	if err != nil {
		t.Fatal(err)
	}
	v, err := value(tok.(xml.StartElement))
	if err != nil {
		t.Fatalf("plist: %v\n%s", err, data)
	}
	if tok, err := next(); err != nil {
		t.Fatal(err)
	} else if e, ok := tok.(xml.EndElement); !ok || e.Name.Local != "plist" {
		t.Fatalf("after the value: %v", tok)
	}
	if _, err := next(); err != io.EOF {
		t.Fatalf("after </plist>: %v", err)
	}
	return v
}

var uuidRE = regexp.MustCompile(`^[0-9A-F]{8}-[0-9A-F]{4}-8[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}$`)

// checkMobileConfig checks every field of a profile for addr, as our
// parser and as Python's plistlib (the reference reader) read it.
func checkMobileConfig(t *testing.T, data []byte, addr string, imapPort, smtpPort int) {
	t.Helper()
	top, ok := parsePlist(t, data).(map[string]any)
	if !ok {
		t.Fatalf("profile is not a dict:\n%s", data)
	}
	content, _ := top["PayloadContent"].([]any)
	if len(content) != 1 {
		t.Fatalf("PayloadContent %v, want one payload", top["PayloadContent"])
	}
	mail := content[0].(map[string]any)
	for k, want := range map[string]any{
		"EmailAccountType": "EmailTypeIMAP", "EmailAddress": addr, "EmailAccountDescription": addr,
		"IncomingMailServerAuthentication": "EmailAuthPassword", "IncomingMailServerHostName": hostname,
		"IncomingMailServerPortNumber": int64(imapPort), "IncomingMailServerUseSSL": true, "IncomingMailServerUsername": addr,
		"OutgoingMailServerAuthentication": "EmailAuthPassword", "OutgoingMailServerHostName": hostname,
		"OutgoingMailServerPortNumber": int64(smtpPort), "OutgoingMailServerUseSSL": true, "OutgoingMailServerUsername": addr,
		"OutgoingPasswordSameAsIncomingPassword": true, "PayloadType": "com.apple.mail.managed", "PayloadVersion": int64(1),
	} {
		if mail[k] != want {
			t.Errorf("mail payload %s = %#v, want %#v", k, mail[k], want)
		}
	}
	for k, want := range map[string]any{"PayloadType": "Configuration", "PayloadVersion": int64(1), "PayloadRemovalDisallowed": false} {
		if top[k] != want {
			t.Errorf("profile %s = %#v, want %#v", k, top[k], want)
		}
	}
	for _, m := range []map[string]any{top, mail} {
		if u, _ := m["PayloadUUID"].(string); !uuidRE.MatchString(u) {
			t.Errorf("PayloadUUID %q", u)
		}
		if id, _ := m["PayloadIdentifier"].(string); id == "" {
			t.Error("no PayloadIdentifier")
		}
	}
	if top["PayloadUUID"] == mail["PayloadUUID"] || top["PayloadIdentifier"] == mail["PayloadIdentifier"] {
		t.Error("profile and payload share an identifier")
	}
	// Python's plistlib reads the same values.
	cmd := exec.Command("python3", "-c", "import json, plistlib, sys; json.dump(plistlib.loads(sys.stdin.buffer.read()), sys.stdout)")
	cmd.Stdin = bytes.NewReader(data)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python3 plistlib: %v: %s", err, stderr.Bytes())
	}
	var py any
	if err := json.Unmarshal(out, &py); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(jsonish(top), py) {
		t.Errorf("plistlib reads\n%s\nwe read\n%v", out, top)
	}
}

// jsonish converts parsePlist's values to what encoding/json decodes (ints
// as float64).
func jsonish(v any) any {
	switch v := v.(type) {
	case map[string]any:
		m := map[string]any{}
		for k, x := range v {
			m[k] = jsonish(x)
		}
		return m
	case []any:
		a := make([]any, len(v))
		for i, x := range v {
			a[i] = jsonish(x)
		}
		return a
	case int64:
		return float64(v)
	}
	return v
}

func TestMobileConfig(t *testing.T) {
	t.Parallel()
	e := newEnv(t, standardPorts())
	data, err := e.h.MobileConfig("Alice@Example.test")
	if err != nil {
		t.Fatal(err)
	}
	checkMobileConfig(t, data, alice, 993, 465)
	golden(t, "alice.mobileconfig", data)
	// The same address always gives the same profile (a new download
	// replaces the installed account); another address another one.
	again, _ := e.h.MobileConfig(alice)
	if !bytes.Equal(again, data) {
		t.Error("two downloads differ")
	}
	bob, err := e.h.MobileConfig("bob@" + domain)
	if err != nil {
		t.Fatal(err)
	}
	checkMobileConfig(t, bob, "bob@"+domain, 993, 465)
	if bytes.Equal(bob, data) || bytes.Contains(bob, []byte(alice)) {
		t.Error("bob's profile names alice")
	}
	// XML metacharacters in a local part are escaped.
	odd, err := e.h.MobileConfig(`o'd&d@` + domain)
	if err != nil {
		t.Fatal(err)
	}
	checkMobileConfig(t, odd, `o'd&d@`+domain, 993, 465)

	if _, err := e.h.MobileConfig("not an address"); err == nil {
		t.Error("a profile for an invalid address")
	}
	// Only STARTTLS listeners: their ports, with SSL (Apple's flag covers STARTTLS).
	e2 := newEnv(t, autoconfig.Ports{IMAP: 143, Submission: 587})
	data, err = e2.h.MobileConfig(alice)
	if err != nil {
		t.Fatal(err)
	}
	checkMobileConfig(t, data, alice, 143, 587)
	// No IMAP at all: no profile.
	e3 := newEnv(t, autoconfig.Ports{POP3S: 995, Submissions: 465})
	if _, err := e3.h.MobileConfig(alice); err == nil {
		t.Error("a profile without IMAP")
	}
}
