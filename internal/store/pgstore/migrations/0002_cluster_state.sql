-- Cluster-wide state (issue 14, section 3).
--
-- Webmail sessions (store.WebSessions), valid on every node. The cookie's
-- token is never stored, only its SHA-256. No foreign key to accounts: a
-- session of a deleted account is refused by its credential check (the
-- account is gone) and deleted by the revocation feed or by expiry; account
-- ids are never reused, so it can never name another account. Times are unix
-- seconds.
--
-- (The POP3 maildrop locks need no table: they are session-level advisory
-- locks, released by PostgreSQL when the node holding them goes away.)
CREATE TABLE web_sessions (
	token_hash BYTEA PRIMARY KEY CHECK (length(token_hash) = 32),
	account_id BIGINT NOT NULL,
	csrf       TEXT NOT NULL,
	credential BYTEA NOT NULL CHECK (length(credential) = 32),
	created    BIGINT NOT NULL,
	last_seen  BIGINT NOT NULL
);
CREATE INDEX web_sessions_account ON web_sessions(account_id, created);
CREATE INDEX web_sessions_last_seen ON web_sessions(last_seen);
CREATE INDEX web_sessions_created ON web_sessions(created);
