package main

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"gannet/internal/store"
)

// runQueue runs "gannet queue ARGS --data dir" in-process.
func runQueue(t *testing.T, dir string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb}
	code = run(context.Background(), e, append(append([]string{"queue"}, args...), "--data", dir))
	return code, out.String(), errb.String()
}

// seedQueue makes a data directory with two queued messages and returns
// their IDs.
func seedQueue(t *testing.T) (string, []int64) {
	t.Helper()
	dir := t.TempDir()
	ctx := context.Background()
	st := openData(t, dir)
	defer st.Close()
	future := time.Now().Add(time.Hour)
	var ids []int64
	for _, m := range []store.Outbound{
		{From: "alice@example.com", Recipients: []string{"bob@example.net", "carol@example.org"},
			Raw: []byte("From: alice@example.com\r\nSubject: first\r\n\r\nsecret body\r\n")},
		{From: "", Recipients: []string{"dave@example.net"}, Raw: []byte("Subject: bounce\r\n\r\nx\r\n")},
	} {
		id, err := st.EnqueueOutbound(ctx, m, future)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	err := st.QueueUpdate(ctx, []store.QueueUpdate{{MessageID: ids[0], Address: "bob@example.net", Attempts: 2,
		NextAttempt: future, LastAttempt: time.Now(), LastError: "mx.example.net said: 451 4.7.1 greylisted"}})
	if err != nil {
		t.Fatal(err)
	}
	return dir, ids
}

func TestQueueList(t *testing.T) {
	t.Parallel()
	dir, ids := seedQueue(t)
	code, out, errs := runQueue(t, dir, "list")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{
		strconv.FormatInt(ids[0], 10) + "\t", "<alice@example.com>", "bob@example.net\tattempts=2", "451 4.7.1 greylisted",
		"carol@example.org\tattempts=0", "<>", "dave@example.net", "2 messages, 3 recipients",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("list output lacks %q:\n%s", want, out)
		}
	}
}

func TestQueueShow(t *testing.T) {
	t.Parallel()
	dir, ids := seedQueue(t)
	code, out, errs := runQueue(t, dir, "show", strconv.FormatInt(ids[0], 10))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{"from: <alice@example.com>", "recipient: bob@example.net", "attempts: 2", "last error: mx.example.net said: 451", "Subject: first"} {
		if !strings.Contains(out, want) {
			t.Errorf("show output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "secret body") {
		t.Error("show prints the message body")
	}
	if code, _, errs := runQueue(t, dir, "show", "999"); code == 0 || !strings.Contains(errs, "not found") {
		t.Errorf("show unknown ID: exit %d, %q", code, errs)
	}
	if code, _, errs := runQueue(t, dir, "show", "abc"); code == 0 || !strings.Contains(errs, "positive integer") {
		t.Errorf("show bad ID: exit %d, %q", code, errs)
	}
}

func TestQueueRetryAndDrop(t *testing.T) {
	t.Parallel()
	dir, ids := seedQueue(t)
	code, out, errs := runQueue(t, dir, "retry", strconv.FormatInt(ids[0], 10))
	if code != 0 || !strings.Contains(out, "2 recipients due") {
		t.Fatalf("retry one: exit %d, %q %q", code, out, errs)
	}
	code, out, _ = runQueue(t, dir, "retry")
	if code != 0 || !strings.Contains(out, "3 recipients due") {
		t.Fatalf("retry all: exit %d, %q", code, out)
	}
	// Now due: the store says so.
	st := openData(t, dir)
	due, err := st.QueueDue(context.Background(), time.Now(), 10, time.Minute)
	st.Close()
	if err != nil || len(due) != 3 {
		t.Fatalf("due after retry: %d %v", len(due), err)
	}

	code, out, _ = runQueue(t, dir, "drop", strconv.FormatInt(ids[1], 10))
	if code != 0 || !strings.Contains(out, "dropped") {
		t.Fatalf("drop: exit %d, %q", code, out)
	}
	if code, _, errs := runQueue(t, dir, "drop", strconv.FormatInt(ids[1], 10)); code == 0 || !strings.Contains(errs, "not found") {
		t.Errorf("second drop: exit %d %q", code, errs)
	}
	code, out, _ = runQueue(t, dir, "drop", strconv.FormatInt(ids[0], 10))
	if code != 0 || !strings.Contains(out, "dropped") {
		t.Fatalf("drop: exit %d, %q", code, out)
	}
	if code, out, _ = runQueue(t, dir, "list"); code != 0 || strings.TrimSpace(out) != "queue is empty" {
		t.Errorf("list after dropping all: exit %d %q", code, out)
	}
}

func TestQueueUsage(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, args := range [][]string{{"bogus"}, {"show"}, {"drop"}, {"retry", "1", "2"}} {
		if code, _, _ := runQueue(t, dir, args...); code == 0 {
			t.Errorf("gannet queue %v: exit 0, want an error", args)
		}
	}
	var out, errb bytes.Buffer
	if code := run(context.Background(), &env{stdout: &out, stderr: &errb}, []string{"queue"}); code == 0 || !strings.Contains(errb.String(), "list show retry drop") {
		t.Errorf("gannet queue: exit %d, %q", code, errb.String())
	}
}
