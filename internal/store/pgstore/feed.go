package pgstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"gannet/internal/store"
)

// The change feed across nodes. A committed write publishes its changes to
// this node's hub directly (tx.go) and to every node by NOTIFY on
// feedChannel, sent inside the transaction so that PostgreSQL delivers it
// only on commit and in commit order. Each node LISTENs on one dedicated
// connection and republishes what other nodes committed to its own hub, so
// an IMAP IDLE session on node B hears of a delivery made through node A.
// Sessions re-read the store on a change, so a notification only has to say
// which account and mailbox moved (docs/ARCHITECTURE.md, "Push").
const feedChannel = "gannet_changes"

// maxPayload keeps a NOTIFY payload under PostgreSQL's 8000-byte limit.
const maxPayload = 7900

// wireChange is a store.Change on the wire.
type wireChange struct {
	A int64    `json:"a"`
	M int64    `json:"m"`
	S uint64   `json:"s"`
	K int      `json:"k"`
	U []uint32 `json:"u,omitempty"`
}

// wireBatch is one NOTIFY payload: the changes of one transaction (or part
// of them) and the node that committed it.
type wireBatch struct {
	Node    string       `json:"n"`
	Changes []wireChange `json:"c"`
}

// notifyChanges sends the transaction's changes to the other nodes, inside
// the transaction. UIDs are dropped when the payload would be too large
// (they are "when known": subscribers re-read the store), and a large
// transaction is split into several payloads.
func (s *Store) notifyChanges(ctx context.Context, t *tx) error {
	if len(t.changes) == 0 {
		return nil
	}
	var batch []wireChange
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		b, err := json.Marshal(wireBatch{Node: s.instance, Changes: batch})
		if err != nil {
			return fmt.Errorf("notify: %w", err)
		}
		batch = batch[:0]
		if _, err := t.Exec(ctx, "SELECT pg_notify($1, $2)", feedChannel, string(b)); err != nil {
			return fmt.Errorf("notify: %w", err)
		}
		return nil
	}
	size := 0
	for _, c := range t.changes {
		w := wireChange{A: c.AccountID, M: c.MailboxID, S: c.ModSeq, K: int(c.Kind), U: c.UIDs}
		n := 64 + 11*len(w.U)
		if n > maxPayload/2 {
			w.U, n = nil, 64
		}
		if size+n > maxPayload-len(s.instance)-32 {
			if err := flush(); err != nil {
				return err
			}
			size = 0
		}
		batch = append(batch, w)
		size += n
	}
	return flush()
}

// startFeed opens the listening connection and starts the loop that
// republishes other nodes' changes.
func (s *Store) startFeed(ctx context.Context) error {
	conn, err := s.listen(ctx)
	if err != nil {
		return err
	}
	fctx, cancel := context.WithCancel(context.Background())
	s.stopFeed = cancel
	s.feedDone = make(chan struct{})
	go s.feedLoop(fctx, conn)
	return nil
}

func (s *Store) listen(ctx context.Context) (*pgx.Conn, error) {
	conn, err := pgx.Connect(ctx, s.dsn)
	if err != nil {
		return nil, fmt.Errorf("pgstore: feed: %w", err)
	}
	if _, err := conn.Exec(ctx, "LISTEN "+feedChannel+"; LISTEN "+directoryChannel); err != nil {
		conn.Close(context.Background())
		return nil, fmt.Errorf("pgstore: feed: %w", err)
	}
	return conn, nil
}

// feedLoop receives notifications until ctx ends. When the connection
// breaks it reconnects with backoff; notifications sent meanwhile are lost,
// so after a reconnect it tells every subscriber to resynchronise.
func (s *Store) feedLoop(ctx context.Context, conn *pgx.Conn) {
	defer close(s.feedDone)
	backoff := 50 * time.Millisecond
	for {
		if conn == nil {
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			c, err := s.listen(ctx)
			if err != nil {
				if ctx.Err() == nil {
					s.log.Warn("change feed: reconnect failed", "err", err)
				}
				backoff = min(2*backoff, 5*time.Second)
				continue
			}
			conn, backoff = c, 50*time.Millisecond
			s.log.Info("change feed: reconnected")
			s.hub.Resync()
			s.dir.Invalidate() // directory changes may have been missed too
		}
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			conn.Close(context.Background())
			conn = nil
			if ctx.Err() != nil {
				return
			}
			s.log.Warn("change feed: connection lost", "err", err)
			continue
		}
		if n.Channel == directoryChannel {
			if n.Payload != s.instance {
				s.dir.Invalidate()
			}
			continue
		}
		s.received(n.Payload)
	}
}

// received republishes another node's changes on this node's hub.
func (s *Store) received(payload string) {
	var b wireBatch
	if err := json.Unmarshal([]byte(payload), &b); err != nil {
		s.log.Warn("change feed: bad payload", "err", err)
		return
	}
	if b.Node == s.instance {
		return // published locally at commit
	}
	cs := make([]store.Change, len(b.Changes))
	for i, w := range b.Changes {
		cs[i] = store.Change{AccountID: w.A, MailboxID: w.M, ModSeq: w.S, Kind: store.ChangeKind(w.K), UIDs: w.U}
	}
	s.hub.Publish(cs...)
}
