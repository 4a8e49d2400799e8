-- Webmail sessions live in the store (store.WebSessions), so that a session
-- outlives a restart and, on PostgreSQL, is valid on every node. The cookie's
-- token is never stored, only its SHA-256. No foreign key to accounts: a
-- session of a deleted account is refused by its credential check (the
-- account is gone) and deleted by the revocation feed or by expiry; account
-- ids are never reused (0006), so it can never name another account.
-- Times are unix seconds.
CREATE TABLE web_sessions (
	token_hash BLOB PRIMARY KEY,
	account_id INTEGER NOT NULL,
	csrf       TEXT NOT NULL,
	credential BLOB NOT NULL,
	created    INTEGER NOT NULL,
	last_seen  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX web_sessions_account ON web_sessions(account_id, created);
CREATE INDEX web_sessions_last_seen ON web_sessions(last_seen);
CREATE INDEX web_sessions_created ON web_sessions(created);
