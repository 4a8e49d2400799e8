-- Failed and good logins seen by one node's limiter, for the other nodes'
-- limiters (store.LoginEventStore). accounts holds the limiter's account
-- keys (digests), never typed names. node is the writing Store instance, so
-- that a node skips its own. Rows older than ten minutes are pruned.
CREATE TABLE login_events (
	seq      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	node     TEXT NOT NULL,
	prefix   TEXT NOT NULL,
	accounts BYTEA NOT NULL, -- account keys, each preceded by its length byte
	success  BOOLEAN NOT NULL,
	at       BIGINT NOT NULL
);
CREATE INDEX login_events_at ON login_events(at);
