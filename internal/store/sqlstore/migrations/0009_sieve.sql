-- Sieve scripts per account (store.SieveStore, RFC 5804 1.6: any number of
-- scripts, at most one active) and the seen table their runs need: vacation
-- replies sent (RFC 5230 4.2) and message ids the duplicate test saw (RFC
-- 7352), each until its expiry. Both go with their account. Times are unix
-- seconds. (Numbered 0009 on purpose: 0008 belongs to another branch.)
CREATE TABLE sieve_scripts (
	account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	name       TEXT NOT NULL,
	content    BLOB NOT NULL,
	active     INTEGER NOT NULL DEFAULT 0,
	updated    INTEGER NOT NULL,
	PRIMARY KEY (account_id, name)
) WITHOUT ROWID;
-- At most one active script per account.
CREATE UNIQUE INDEX sieve_scripts_active ON sieve_scripts(account_id) WHERE active = 1;
CREATE TABLE sieve_seen (
	account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	kind       TEXT NOT NULL,
	key        TEXT NOT NULL,
	expires    INTEGER NOT NULL,
	PRIMARY KEY (account_id, kind, key)
) WITHOUT ROWID;
CREATE INDEX sieve_seen_expires ON sieve_seen(account_id, expires);
