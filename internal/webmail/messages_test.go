package webmail

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"gannet/internal/store"
)

func TestMailboxesAndFolders(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice := e.account("alice@example.org")
	e.deliver(alice, plainMessage(1, "a@example.net"))
	e.deliver(alice, plainMessage(2, "b@example.net"))
	c := e.login("alice@example.org")
	var list []mailboxJSON
	if st := c.json("GET", "/api/mailboxes", nil, &list); st != 200 {
		t.Fatalf("mailboxes: %d", st)
	}
	if len(list) != len(store.DefaultMailboxes) || list[0].Name != "INBOX" || list[0].Unseen != 2 || list[0].Messages != 2 {
		t.Fatalf("mailboxes: %+v", list)
	}
	var created mailboxJSON
	if st := c.json("POST", "/api/mailboxes", nameRequest{Name: "Projects/2025"}, &created); st != 201 || created.Name != "Projects/2025" {
		t.Fatalf("create: %d %+v", st, created)
	}
	if st := c.json("POST", "/api/mailboxes", nameRequest{Name: "Projects/2025"}, nil); st != 409 {
		t.Errorf("create duplicate: %d", st)
	}
	if st := c.json("POST", "/api/mailboxes", nameRequest{Name: "  "}, nil); st != 400 {
		t.Errorf("create empty name: %d", st)
	}
	var renamed mailboxJSON
	if st := c.json("PATCH", fmt.Sprintf("/api/mailboxes/%d", created.ID), nameRequest{Name: "Work"}, &renamed); st != 200 || renamed.Name != "Work" || renamed.ID != created.ID {
		t.Fatalf("rename: %d %+v", st, renamed)
	}
	inbox := e.mailbox(alice, "INBOX")
	sent := e.mailbox(alice, "Sent")
	for _, id := range []int64{inbox.ID, sent.ID} {
		if st := c.json("PATCH", fmt.Sprintf("/api/mailboxes/%d", id), nameRequest{Name: "X"}, nil); st != 403 {
			t.Errorf("rename protected %d: %d", id, st)
		}
		if st := c.json("DELETE", fmt.Sprintf("/api/mailboxes/%d", id), nil, nil); st != 403 {
			t.Errorf("delete protected %d: %d", id, st)
		}
	}
	if st := c.json("DELETE", fmt.Sprintf("/api/mailboxes/%d", created.ID), nil, nil); st != 204 {
		t.Fatalf("delete: %d", st)
	}
	if _, err := e.st.MailboxByID(t.Context(), alice.ID, created.ID); err == nil {
		t.Error("deleted folder still exists")
	}
	if st := c.json("GET", fmt.Sprintf("/api/mailboxes/%d/messages", created.ID), nil, nil); st != 404 {
		t.Errorf("list deleted folder: %d", st)
	}
}

func TestListPagingNewestFirst(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice := e.account("alice@example.org")
	inbox := e.mailbox(alice, "INBOX")
	var uids []uint32
	for i := range 130 {
		uids = append(uids, e.deliver(alice, plainMessage(i, "x@example.net")))
	}
	// Make the UIDs sparse: expunge a long run in the middle and a few others.
	var gone []uint32
	gone = append(gone, uids[20:90]...)
	gone = append(gone, uids[3], uids[125])
	if _, err := e.st.ExpungeUIDs(t.Context(), alice.ID, inbox.ID, gone); err != nil {
		t.Fatal(err)
	}
	var want []uint32
	for _, u := range uids {
		if !slices.Contains(gone, u) {
			want = append(want, u)
		}
	}
	slices.Reverse(want)
	c := e.login("alice@example.org")
	var got []uint32
	query := "limit=25"
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("paging does not end")
		}
		l := c.list(inbox.ID, query)
		if l.Total != int64(len(want)) {
			t.Errorf("total %d, want %d", l.Total, len(want))
		}
		for _, m := range l.Messages {
			got = append(got, m.UID)
		}
		if l.Next == 0 {
			break
		}
		query = fmt.Sprintf("limit=25&before=%d", l.Next)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("paged UIDs\n got %v\nwant %v", got, want)
	}
	l := c.list(inbox.ID, "limit=1")
	if m := l.Messages[0]; m.Subject != "Message 129" || m.From[0].Email != "x@example.net" || !strings.Contains(m.Preview, "Body of message 129") || slices.Contains(m.Flags, `\Seen`) {
		t.Errorf("summary: %+v", m)
	}
}

func TestSearch(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice := e.account("alice@example.org")
	inbox := e.mailbox(alice, "INBOX")
	u1 := e.deliver(alice, plainMessage(1, "Carol <carol@example.net>"))
	u2 := e.deliver(alice, plainMessage(2, "dave@example.net"))
	c := e.login("alice@example.org")
	uidsOf := func(l listJSON) []uint32 {
		var out []uint32
		for _, m := range l.Messages {
			out = append(out, m.UID)
		}
		return out
	}
	for _, tc := range []struct {
		q    string
		want []uint32
	}{
		{"q=carol&in=from", []uint32{u1}},
		{"q=Message+2&in=subject", []uint32{u2}},
		{"q=message+1&in=body", []uint32{u1}},
		{"q=second+line&in=body", []uint32{u2, u1}},
		{"q=dave", []uint32{u2}},
		{"q=nothing-matches", nil},
		{"q=carol&in=subject", nil},
	} {
		if got := uidsOf(c.list(inbox.ID, tc.q)); !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.q, got, tc.want)
		}
	}
}

func TestMessageViewAndParts(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice := e.account("alice@example.org")
	inbox := e.mailbox(alice, "INBOX")
	uid := e.deliver(alice, richMessage("http://remote.example"))
	c := e.login("alice@example.org")
	var m messageJSON
	if st := c.json("GET", fmt.Sprintf("/api/mailboxes/%d/messages/%d", inbox.ID, uid), nil, &m); st != 200 {
		t.Fatalf("view: %d", st)
	}
	if m.Subject != "Rich message" || m.From[0].Name != "Rich Sender" || !m.HTML || !strings.Contains(m.Text, "Hello rich world (plain)") || strings.Contains(m.Text, "\r") {
		t.Errorf("view: %+v", m)
	}
	// The tracking pixel, the CSS background and the @import.
	if m.RemoteImages != 3 {
		t.Errorf("remote images %d, want 3", m.RemoteImages)
	}
	if len(m.Attachments) != 1 || m.Attachments[0].Type != "application/pdf" || m.Attachments[0].Section != "2" {
		t.Fatalf("attachments: %+v", m.Attachments)
	}
	// The attachment downloads decoded, as an attachment with a safe name.
	st, h, body := c.do("GET", fmt.Sprintf("/api/mailboxes/%d/messages/%d/parts/2", inbox.ID, uid), nil, "")
	if st != 200 || string(body) != "%PDF-1.4 fake pdf" {
		t.Fatalf("part: %d %q", st, body)
	}
	cd := h.Get("Content-Disposition")
	if !strings.HasPrefix(cd, "attachment;") || strings.Contains(cd, "/") || strings.Contains(cd, "\u202e") || strings.Contains(cd, "%E2%80%AE") {
		t.Errorf("Content-Disposition %q", cd)
	}
	if h.Get("Content-Type") != "application/pdf" || h.Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(h.Get("Content-Security-Policy"), "sandbox") {
		t.Errorf("part headers: %v", h)
	}
	// The inline image is a part too; a multipart or missing section is not.
	if st, _, body := c.do("GET", fmt.Sprintf("/api/mailboxes/%d/messages/%d/parts/1.2.2", inbox.ID, uid), nil, ""); st != 200 || !strings.HasPrefix(string(body), "\x89PNG") {
		t.Errorf("inline image part: %d %q", st, body)
	}
	for _, sec := range []string{"1", "9", "1.2.9", "x"} {
		if st, _, _ := c.do("GET", fmt.Sprintf("/api/mailboxes/%d/messages/%d/parts/%s", inbox.ID, uid, sec), nil, ""); st != 404 {
			t.Errorf("part %s: %d", sec, st)
		}
	}
	if st := c.json("GET", fmt.Sprintf("/api/mailboxes/%d/messages/%d", inbox.ID, uid+1), nil, nil); st != 404 {
		t.Errorf("missing message: %d", st)
	}
}

func TestHTMLBodySanitised(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice := e.account("alice@example.org")
	inbox := e.mailbox(alice, "INBOX")
	remote := "http://remote.example"
	hostile := e.deliver(alice, hostileHTML(remote))
	rich := e.deliver(alice, richMessage(remote))
	c := e.login("alice@example.org")
	get := func(uid uint32, q string) (string, http.Header) {
		st, h, b := c.do("GET", fmt.Sprintf("/api/mailboxes/%d/messages/%d/body%s", inbox.ID, uid, q), nil, "")
		if st != 200 {
			t.Fatalf("body %d%s: %d", uid, q, st)
		}
		return string(b), h
	}
	for _, q := range []string{"", "?remote=1"} {
		doc, h := get(hostile, q)
		lower := strings.ToLower(doc)
		for _, bad := range []string{"<script", "onerror", "onload", "javascript:", "<form", "<svg", "<iframe", "<object",
			"<meta http-equiv", "<link", "@import", "@font-face", "u\\72l", "poster", "alert("} {
			if strings.Contains(lower, bad) {
				t.Errorf("remote=%q: sanitised body contains %q:\n%s", q, bad, doc)
			}
		}
		if !strings.Contains(doc, "Hostile content") {
			t.Errorf("remote=%q: text lost:\n%s", q, doc)
		}
		csp := h.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "sandbox", "style-src 'unsafe-inline'", "frame-ancestors 'self'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("body CSP %q lacks %q", csp, want)
			}
		}
		if strings.Contains(csp, "script-src") || strings.Contains(csp, "allow-scripts") || strings.Contains(csp, "allow-same-origin") {
			t.Errorf("body CSP allows scripts: %q", csp)
		}
		if q == "" && (strings.Contains(doc, remote) || strings.Contains(csp, "http:")) {
			t.Errorf("remote content not blocked by default:\n%s\nCSP %s", doc, csp)
		}
		if q != "" && !strings.Contains(doc, remote+"/remote-img.png") {
			t.Errorf("remote=1: remote image not kept:\n%s", doc)
		}
	}
	doc, _ := get(rich, "")
	if !strings.Contains(doc, `src="data:image/png;base64,`+pngPixel) {
		t.Errorf("cid image not inlined:\n%s", doc)
	}
	if !strings.Contains(doc, "color: #123456") || !strings.Contains(doc, `noreferrer`) || !strings.Contains(doc, `target="_blank"`) {
		t.Errorf("style or link lost:\n%s", doc)
	}
	// A plain text message has no HTML body.
	plain := e.deliver(alice, plainMessage(1, "x@example.net"))
	if st, _, _ := c.do("GET", fmt.Sprintf("/api/mailboxes/%d/messages/%d/body", inbox.ID, plain), nil, ""); st != 404 {
		t.Errorf("body of a text message: %d", st)
	}
}

func TestActions(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice := e.account("alice@example.org")
	inbox := e.mailbox(alice, "INBOX")
	trash := e.mailbox(alice, "Trash")
	archive := e.mailbox(alice, "Archive")
	u1 := e.deliver(alice, plainMessage(1, "x@example.net"))
	u2 := e.deliver(alice, plainMessage(2, "x@example.net"))
	u3 := e.deliver(alice, plainMessage(3, "x@example.net"))
	c := e.login("alice@example.org")
	path := func(mid int64, what string) string { return fmt.Sprintf("/api/mailboxes/%d/messages/%s", mid, what) }
	flagsOf := func(mid int64, uid uint32) []string {
		msgs, err := e.st.List(t.Context(), alice.ID, mid, store.UIDSet{{Lo: uid, Hi: uid}}, store.ListOptions{})
		if err != nil || len(msgs) != 1 {
			t.Fatalf("list %d/%d: %v %v", mid, uid, err, msgs)
		}
		return msgs[0].Flags
	}
	if st := c.json("POST", path(inbox.ID, "flags"), flagsRequest{UIDs: []uint32{u1, u2}, Add: []string{`\Seen`, `\Flagged`}}, nil); st != 204 {
		t.Fatalf("flags: %d", st)
	}
	if st := c.json("POST", path(inbox.ID, "flags"), flagsRequest{UIDs: []uint32{u2}, Remove: []string{`\Seen`}}, nil); st != 204 {
		t.Fatalf("unflag: %d", st)
	}
	if f := flagsOf(inbox.ID, u1); !slices.Equal(f, []string{`\Flagged`, `\Seen`}) && !slices.Equal(f, []string{`\Seen`, `\Flagged`}) {
		t.Errorf("u1 flags %v", f)
	}
	if f := flagsOf(inbox.ID, u2); !slices.Equal(f, []string{`\Flagged`}) {
		t.Errorf("u2 flags %v", f)
	}
	for _, bad := range []flagsRequest{{UIDs: []uint32{u1}, Add: []string{`\Deleted`}}, {UIDs: []uint32{u1}, Add: []string{"$Junk"}}, {Add: []string{`\Seen`}}} {
		if st := c.json("POST", path(inbox.ID, "flags"), bad, nil); st != 400 {
			t.Errorf("flags %+v: %d", bad, st)
		}
	}
	if st := c.json("POST", path(inbox.ID, "move"), moveRequest{UIDs: []uint32{u1}, To: archive.ID}, nil); st != 204 {
		t.Fatalf("move: %d", st)
	}
	if l := c.list(archive.ID, ""); len(l.Messages) != 1 || l.Messages[0].Subject != "Message 1" {
		t.Errorf("archive after move: %+v", l)
	}
	if st := c.json("POST", path(inbox.ID, "move"), moveRequest{UIDs: []uint32{u2}, To: 99999}, nil); st != 404 {
		t.Errorf("move to a missing folder: %d", st)
	}
	if st := c.json("POST", path(inbox.ID, "delete"), uidsRequest{UIDs: []uint32{u2, u3}}, nil); st != 204 {
		t.Fatalf("delete: %d", st)
	}
	if l := c.list(inbox.ID, ""); len(l.Messages) != 0 {
		t.Errorf("inbox after delete: %+v", l.Messages)
	}
	tl := c.list(trash.ID, "")
	if len(tl.Messages) != 2 {
		t.Fatalf("trash after delete: %+v", tl.Messages)
	}
	// Deleting in Trash is for good.
	if st := c.json("POST", path(trash.ID, "delete"), uidsRequest{UIDs: []uint32{tl.Messages[0].UID}}, nil); st != 204 {
		t.Fatalf("delete in trash: %d", st)
	}
	if l := c.list(trash.ID, ""); len(l.Messages) != 1 {
		t.Errorf("trash after permanent delete: %+v", l.Messages)
	}
	if st := c.json("POST", fmt.Sprintf("/api/mailboxes/%d/empty", inbox.ID), nil, nil); st != 403 {
		t.Errorf("empty INBOX: %d", st)
	}
	if st := c.json("POST", fmt.Sprintf("/api/mailboxes/%d/empty", trash.ID), nil, nil); st != 200 {
		t.Fatalf("empty trash: %d", st)
	}
	if m, _ := e.st.MailboxByID(t.Context(), alice.ID, trash.ID); m.Messages != 0 {
		t.Errorf("trash after empty: %d messages", m.Messages)
	}
}
