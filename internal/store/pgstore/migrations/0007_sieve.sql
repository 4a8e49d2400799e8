-- Sieve scripts per account (store.SieveStore, RFC 5804 1.6: any number of
-- scripts, at most one active) and the seen table their runs need: vacation
-- replies sent (RFC 5230 4.2) and message ids the duplicate test saw (RFC
-- 7352), each until its expiry. Both go with their account. Times are unix
-- seconds. (Numbered 0007 on purpose: 0006 belongs to another branch.)
CREATE TABLE sieve_scripts (
	account_id BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	name       TEXT NOT NULL,
	content    BYTEA NOT NULL,
	active     BOOLEAN NOT NULL DEFAULT false,
	updated    BIGINT NOT NULL,
	PRIMARY KEY (account_id, name)
);
-- At most one active script per account.
CREATE UNIQUE INDEX sieve_scripts_active ON sieve_scripts(account_id) WHERE active;
CREATE TABLE sieve_seen (
	account_id BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	kind       TEXT NOT NULL,
	key        TEXT NOT NULL,
	expires    BIGINT NOT NULL,
	PRIMARY KEY (account_id, kind, key)
);
CREATE INDEX sieve_seen_expires ON sieve_seen(account_id, expires);
