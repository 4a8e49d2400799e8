package clustertest

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"gannet/internal/smtpclient/smtptest"
)

// TestQueueExactlyOnce: three nodes run the outbound queue on one database.
// 500 messages to an alias forwarding to a remote sink are sent over the
// three MXs; the node delivering to the sink (the holder of the queue's
// leases) is SIGKILLed a third of the way in and restarted at two thirds.
// Every message answered 250 reaches the sink (none lost, the dead node's
// recipients taken over once its leases lapse), and none twice, except the
// one message the dead node may have had between the sink's 250 and its
// queue update (RFC 5321 6.1: a duplicate rather than a loss); one job per
// route means that is at most one.
func TestQueueExactlyOnce(t *testing.T) {
	var sinkMu sync.Mutex
	got := map[string]int{}
	var arrivals []time.Time
	sink := smtptest.Start(t, smtptest.Options{Data: func(m smtptest.Message) error {
		id := messageID(m.Data)
		sinkMu.Lock()
		got[id]++
		arrivals = append(arrivals, time.Now())
		sinkMu.Unlock()
		return nil
	}})
	// poll_interval 2s: leases last 8 s (4 intervals), so the dead node's
	// mail is taken over within about 10 s; a short retry so that a
	// connection the kill broke is tried again within the test.
	c := newCluster(t, 3, fmt.Sprintf(`
[queue]
poll_interval = "2s"
retry_schedule = ["2s"]

[queue.transports]
"remote.test" = %q
`, sink.Addr))
	for _, nd := range c.nodes {
		nd.start(t)
	}
	c.admin(0, "", "alias", "add", "fwd@"+domain, "out@remote.test")
	db, err := pgx.Connect(t.Context(), c.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(context.WithoutCancel(t.Context()))

	const senders, perSender = 10, 50
	total := senders * perSender
	var mu sync.Mutex
	accepted := map[string]bool{}
	killAt, restartAt := total/3, 2*total/3
	var killed *node
	var killedAt time.Time
	var heldAtKill int
	progress := make(chan struct{}, total)
	var wg, done sync.WaitGroup
	done.Add(1)
	go func() {
		defer done.Done()
		n := 0
		for range progress {
			n++
			switch n {
			case killAt:
				killed, heldAtKill = killLeaseHolder(t, c, db)
				killedAt = time.Now()
			case restartAt:
				if err := killed.run(); err != nil {
					t.Error(err)
				}
			}
		}
	}()
	start := time.Now()
	for s := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perSender {
				id := fmt.Sprintf("q%d-%d", s, i)
				nd := c.nodes[(s+i)%len(c.nodes)]
				if err := send(nd.smtp, "fwd@"+domain, message(id, 1500)); err == nil {
					mu.Lock()
					accepted[id] = true
					mu.Unlock()
				}
				progress <- struct{}{}
			}
		}()
	}
	wg.Wait()
	close(progress)
	done.Wait()
	loadEnd := time.Now()
	if t.Failed() {
		return
	}
	t.Logf("%d of %d messages answered 250 in %v; %s killed holding %d leases", len(accepted), total,
		loadEnd.Sub(start).Round(time.Millisecond), killed.name, heldAtKill)
	if len(accepted) < total/2 {
		t.Fatalf("only %d of %d messages accepted", len(accepted), total)
	}

	// Every accepted message reaches the sink, within a bound.
	deadline := time.Now().Add(45 * time.Second)
	for {
		sinkMu.Lock()
		missing := 0
		for id := range accepted {
			if got[id] == 0 {
				missing++
			}
		}
		sinkMu.Unlock()
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			var left int
			_ = db.QueryRow(t.Context(), `SELECT count(*) FROM queue_recipients`).Scan(&left)
			t.Fatalf("%d accepted messages not at the sink 45 s after the load (%d recipients queued)", missing, left)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("all accepted messages at the sink %v after the kill, %v after the load", time.Since(killedAt).Round(time.Millisecond),
		time.Since(loadEnd).Round(time.Millisecond))

	sinkMu.Lock()
	defer sinkMu.Unlock()
	for _, at := range arrivals {
		if at.After(killedAt) {
			// With leases held by the dead node this is the takeover, after
			// the lease (8 s) lapsed.
			took := at.Sub(killedAt)
			t.Logf("first message at the sink after the kill: %v after it", took.Round(time.Millisecond))
			// The domain was the dead node's until its leases lapsed: at
			// most 8 s, plus a 2 s poll, plus slack for a loaded machine.
			if heldAtKill > 0 && took > 20*time.Second {
				t.Errorf("takeover after %v; want within the lease (8 s) and a poll", took)
			}
			break
		}
	}
	dups, extra := 0, 0
	for id, n := range got {
		if n > 1 {
			dups += n - 1
			t.Logf("message %s reached the sink %d times", id, n)
		}
		if !accepted[id] {
			extra++ // queued, but the kill cut the connection before the client heard 250
		}
	}
	t.Logf("%d messages at the sink, %d duplicates, %d not answered 250 but delivered (the kill came between commit and 250)", len(got), dups, extra)
	// The dead node held its leases on one route (one domain): one job,
	// one message in flight at a time.
	maxDups := 0
	if heldAtKill > 0 {
		maxDups = 1
	}
	if dups > maxDups {
		t.Errorf("%d duplicates; want at most %d (%s held %d leases when killed)", dups, maxDups, killed.name, heldAtKill)
	}
	var left int
	if err := db.QueryRow(t.Context(), `SELECT count(*) FROM queue_recipients`).Scan(&left); err != nil || left != 0 {
		t.Errorf("%d recipients still queued (%v)", left, err)
	}
}

// killLeaseHolder SIGKILLs the node whose queue holds leases (the one
// delivering: one domain is worked by one node at a time), waiting up to 5 s
// for one to hold some, else node 3, and reports how many leases it held:
// they stay in the database after its death until they lapse.
func killLeaseHolder(t *testing.T, c *cluster, db *pgx.Conn) (*node, int) {
	victim := c.nodes[2]
	ctx := context.WithoutCancel(t.Context())
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		var owner string
		if db.QueryRow(ctx, `SELECT lease_owner FROM queue_recipients WHERE lease_owner <> '' LIMIT 1`).Scan(&owner) != nil {
			continue
		}
		for _, nd := range c.nodes {
			if strings.HasPrefix(owner, nd.name+"-") {
				victim = nd
			}
		}
		break
	}
	victim.kill()
	var held int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM queue_recipients WHERE lease_owner LIKE $1`,
		victim.name+"-%").Scan(&held); err != nil {
		t.Error(err)
	}
	return victim, held
}

// messageID is the id part of a message's Message-ID.
func messageID(raw []byte) string {
	i := bytes.Index(raw, []byte("Message-ID: <"))
	if i < 0 {
		return ""
	}
	id, _, _ := strings.Cut(string(raw[i+len("Message-ID: <"):]), "@")
	return id
}
