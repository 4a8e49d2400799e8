package sieve

import (
	"strings"
	"testing"
)

// RFC 5435 9 and RFC 5436: enotify with mailto.
func TestRFC5435Examples(t *testing.T) {
	t.Parallel()
	const ex1 = `require ["enotify", "fileinto", "variables"];

if header :contains "from" "boss@example.org" {
    notify :importance "1"
        :message "This is probably very important"
                    "mailto:alm@example.com";
    # Don't send any further notifications
    stop;
}

if header :contains "to" "sievemailinglist@example.org" {
    # :matches is used to get the value of the Subject header
    if header :matches "Subject" "*" {
        set "subject" "${1}";
    }

    # :matches is used to get the value of the From header
    if header :matches "From" "*" {
        set "from" "${1}";
    }

    notify :importance "3"
        :message "[SIEVE] ${from}: ${subject}"
        "mailto:alm@example.com";
    fileinto "INBOX.sieve";
}`
	const ex2 = `require ["enotify", "fileinto", "variables", "envelope"];

if header :matches "from" "*@*.example.org" {
    # :matches is used to get the MAIL FROM address
    if envelope :all :matches "from" "*" {
        set "env_from" " [really: ${1}]";
    }

    # :matches is used to get the value of the Subject header
    if header :matches "Subject" "*" {
        set "subject" "${1}";
    }

    # :matches is used to get the address from the From header
    if address :matches :all "from" "*" {
        set "from_addr" "${1}";
    }

    notify :message "${from_addr}${env_from}: ${subject}"
            "mailto:alm@example.com";
}`
	runGolden(t, []golden{
		{name: "9 boss", script: ex1, msg: "From: boss@example.org\nSubject: s\n\nb\n",
			want: []string{`notify mailto:alm@example.com to=alm@example.com importance=1 message="This is probably very important"`, "keep implicit"}},
		{name: "9 list", script: ex1, msg: "From: Al <al@x.example>\nTo: sievemailinglist@example.org\nSubject: enotify\n\nb\n",
			want: []string{`notify mailto:alm@example.com to=alm@example.com importance=3 message="[SIEVE] Al <al@x.example>: enotify"`, "fileinto INBOX.sieve"}},
		{name: "9 auto-submitted is not notified", script: ex1, msg: "From: boss@example.org\nAuto-Submitted: auto-generated\n\nb\n",
			want: []string{"keep implicit"}},
		{name: "9 envelope", script: ex2, msg: "From: sam@mail.example.org\nSubject: hello\n\nb\n", envl: Envelope{From: "bounce@lists.example.net"},
			want: []string{`notify mailto:alm@example.com to=alm@example.com importance=2 message="sam@mail.example.org [really: bounce@lists.example.net]: hello"`, "keep implicit"}},
		{name: "6 encodeurl", script: `require ["enotify", "variables"];
set :encodeurl "body_param" "Safe body&evil=evilbody";
notify "mailto:tim@example.com?body=${body_param}";
notify "mailto:tim@example.com?body=${body_param}";`, msg: "Subject: s\n\nb\n",
			want: []string{`notify mailto:tim@example.com?body=Safe%20body%26evil%3Devilbody to=tim@example.com importance=2 message="s" body="Safe body&evil=evilbody"`, "keep implicit"}},
		{name: "5 valid_notify_method and capability", script: `require ["enotify", "fileinto"];
if valid_notify_method ["mailto:a@example.com", "mailto:b@example.com?subject=x"] { fileinto "valid"; }
if valid_notify_method ["mailto:a@example.com", "http://gw.example.net/notify?test"] { fileinto "wrong"; }
if notify_method_capability "mailto:a@example.com" "Online" ["maybe"] { fileinto "maybe"; }`, msg: "Subject: s\n\nb\n",
			want: []string{"fileinto valid", "fileinto maybe"}},
	})
	for _, c := range []struct{ src, want string }{
		{`require "enotify"; notify "xmpp:tim@example.com";`, "1:27: notify: only mailto: notification URIs are supported"},
		{`require "enotify"; notify :importance "4" "mailto:a@example.com";`, `1:39: notify :importance must be "1", "2" or "3"`},
		{`require "variables"; set :encodeurl "a" "b";`, `tag :encodeurl needs require "enotify"`},
	} {
		if _, err := Compile("n", []byte(c.src), Options{}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err %v, want %q", c.src, err, c.want)
		}
	}
}
