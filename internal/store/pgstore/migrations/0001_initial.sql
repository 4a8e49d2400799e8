-- Gannet on PostgreSQL, schema version 1: the same model as the SQLite
-- schema (internal/store/sqlstore/migrations), in plain SQL that PostgreSQL
-- and the engines compatible with it accept. Times are unix seconds (UTC).
--
-- Ids come from identity sequences: a sequence never goes back, so account,
-- mailbox, message-body and queue ids are never reused (store.Store's
-- invariant), on any number of nodes.

CREATE TABLE domains (
	name    TEXT PRIMARY KEY,
	created BIGINT NOT NULL
);

-- modseq: the account's MODSEQ counter (RFC 7162 3.1). Every write to the
-- account's mail bumps it with UPDATE ... RETURNING, which also takes the
-- row's lock until commit: writes to one account are serialised in commit
-- order (MODSEQ strictly increasing as seen by readers), and quota checks
-- under that lock are exact under concurrency.
CREATE TABLE accounts (
	id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	address        TEXT NOT NULL UNIQUE,
	domain         TEXT NOT NULL REFERENCES domains(name),
	password       TEXT NOT NULL,
	scram          BYTEA,
	quota_bytes    BIGINT NOT NULL DEFAULT 0,
	quota_messages BIGINT NOT NULL DEFAULT 0,
	used_bytes     BIGINT NOT NULL DEFAULT 0,
	used_messages  BIGINT NOT NULL DEFAULT 0,
	pop3_policy    TEXT NOT NULL DEFAULT 'delete',
	modseq         BIGINT NOT NULL DEFAULT 1,
	disabled       BOOLEAN NOT NULL DEFAULT FALSE,
	created        BIGINT NOT NULL
);
CREATE INDEX accounts_domain ON accounts(domain);

CREATE TABLE aliases (
	address TEXT NOT NULL,
	target  TEXT NOT NULL,
	PRIMARY KEY (address, target)
);
CREATE INDEX aliases_target ON aliases(target);

-- Counters (messages, unseen, deleted, size) are maintained by every write so
-- that STATUS and the webmail folder list are O(1) on a huge mailbox.
CREATE TABLE mailboxes (
	id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	account_id     BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	name           TEXT NOT NULL,
	special_use    TEXT NOT NULL DEFAULT '',
	uidvalidity    BIGINT NOT NULL,
	uidnext        BIGINT NOT NULL DEFAULT 1,
	highest_modseq BIGINT NOT NULL DEFAULT 0,
	messages       BIGINT NOT NULL DEFAULT 0,
	unseen         BIGINT NOT NULL DEFAULT 0,
	deleted        BIGINT NOT NULL DEFAULT 0,
	size           BIGINT NOT NULL DEFAULT 0,
	UNIQUE (account_id, name)
);

-- UIDVALIDITY values handed out so far (RFC 9051 2.3.1.1: a mailbox created
-- again under an old name gets a new one); one row, bumped under its lock.
CREATE TABLE uidvalidity (
	last BIGINT NOT NULL
);
INSERT INTO uidvalidity(last) VALUES (0);

CREATE TABLE subscriptions (
	account_id BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	name       TEXT NOT NULL,
	PRIMARY KEY (account_id, name)
);

-- One row per distinct message content (deduplicated by SHA-256, hex in
-- blob): the parse results computed once at delivery and the lower-cased
-- search columns. The bytes are in body_chunks.
CREATE TABLE bodies (
	id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	blob      TEXT NOT NULL UNIQUE,
	size      BIGINT NOT NULL,
	subject   TEXT NOT NULL DEFAULT '',
	h_from    TEXT NOT NULL DEFAULT '',
	h_to      TEXT NOT NULL DEFAULT '',
	h_cc      TEXT NOT NULL DEFAULT '',
	h_bcc     TEXT NOT NULL DEFAULT '',
	sent_date BIGINT NOT NULL DEFAULT 0,
	sent_day  BIGINT NOT NULL DEFAULT 0,
	parsed    BYTEA NOT NULL,
	header    BYTEA NOT NULL,
	created   BIGINT NOT NULL
);

-- Message bytes, in chunks of a fixed raw size (pgstore.chunkSize), each
-- compressed on its own (zstd): a byte range (a FETCH of one body part)
-- decompresses only the chunks it covers, and no row comes near
-- PostgreSQL's 1 GB field limit.
CREATE TABLE body_chunks (
	body_id BIGINT NOT NULL REFERENCES bodies(id) ON DELETE CASCADE,
	n       INTEGER NOT NULL,
	data    BYTEA NOT NULL,
	PRIMARY KEY (body_id, n)
);

CREATE TABLE messages (
	mailbox_id    BIGINT NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
	uid           BIGINT NOT NULL,
	account_id    BIGINT NOT NULL,
	modseq        BIGINT NOT NULL,
	flags         BIGINT NOT NULL DEFAULT 0,
	keywords      TEXT NOT NULL DEFAULT '',
	internal_date BIGINT NOT NULL,
	size          BIGINT NOT NULL,
	body_id       BIGINT NOT NULL REFERENCES bodies(id),
	pop_hidden    BOOLEAN NOT NULL DEFAULT FALSE,
	PRIMARY KEY (mailbox_id, uid)
);
CREATE INDEX messages_modseq ON messages(mailbox_id, modseq);
CREATE INDEX messages_body ON messages(body_id);

-- Expunged messages, for QRESYNC VANISHED (EARLIER) and webmail sync
-- (RFC 7162 3.2.10). No foreign key: tombstones outlive nothing but their
-- mailbox, and are deleted with it by DeleteMailbox.
CREATE TABLE tombstones (
	mailbox_id BIGINT NOT NULL,
	uid        BIGINT NOT NULL,
	modseq     BIGINT NOT NULL,
	PRIMARY KEY (mailbox_id, uid)
);
CREATE INDEX tombstones_modseq ON tombstones(mailbox_id, modseq);

-- The outbound queue. Bytes stay in the row (zstd) and live exactly as long
-- as it. lease_owner/lease_until: a node delivering a recipient holds it
-- until lease_until; another node takes it over only after that (a node that
-- died), so each recipient is attempted by one node at a time.
CREATE TABLE queue_messages (
	id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	mail_from  TEXT NOT NULL,
	account_id BIGINT NOT NULL DEFAULT 0,
	env_id     TEXT NOT NULL DEFAULT '',
	ret        TEXT NOT NULL DEFAULT '',
	size       BIGINT NOT NULL,
	data       BYTEA NOT NULL,
	created    BIGINT NOT NULL
);

CREATE TABLE queue_recipients (
	message_id     BIGINT NOT NULL REFERENCES queue_messages(id) ON DELETE CASCADE,
	address        TEXT NOT NULL,
	domain         TEXT NOT NULL,
	notify         TEXT NOT NULL DEFAULT '',
	orcpt          TEXT NOT NULL DEFAULT '',
	attempts       INTEGER NOT NULL DEFAULT 0,
	next_attempt   BIGINT NOT NULL,
	last_attempt   BIGINT NOT NULL DEFAULT 0,
	last_error     TEXT NOT NULL DEFAULT '',
	delay_notified BOOLEAN NOT NULL DEFAULT FALSE,
	lease_owner    TEXT NOT NULL DEFAULT '',
	lease_until    BIGINT NOT NULL DEFAULT 0,
	PRIMARY KEY (message_id, address)
);
CREATE INDEX queue_recipients_due ON queue_recipients(next_attempt);

-- DKIM signing keys per domain (RFC 6376).
CREATE TABLE dkim_keys (
	domain    TEXT NOT NULL REFERENCES domains(name) ON DELETE CASCADE,
	selector  TEXT NOT NULL,
	algorithm TEXT NOT NULL,
	pem       BYTEA NOT NULL,
	created   BIGINT NOT NULL,
	PRIMARY KEY (domain, selector)
);

-- The revocation feed (store.Store.AuthChanges): one row per account deleted,
-- disabled or given a new password, written by triggers so that no path that
-- changes an account can forget it. seq is the readers' cursor; a sequence
-- never goes back, and the trigger's lock makes seq order commit order.
-- Rows older than an hour are pruned.
CREATE TABLE auth_changes (
	seq        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	account_id BIGINT NOT NULL,
	at         BIGINT NOT NULL
);

CREATE FUNCTION gannet_auth_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	now_s BIGINT := extract(epoch FROM clock_timestamp())::BIGINT;
BEGIN
	IF TG_OP = 'UPDATE' AND NEW.password IS NOT DISTINCT FROM OLD.password
			AND NOT (NEW.disabled AND NOT OLD.disabled) THEN
		RETURN NULL;
	END IF;
	-- One writer at a time, held to commit: a sequence value is taken
	-- before commit, so without this a reader could see seq 5 committed
	-- before seq 4 and move its cursor past 4 for good.
	PERFORM pg_advisory_xact_lock(7305501);
	IF TG_OP = 'DELETE' THEN
		INSERT INTO auth_changes(account_id, at) VALUES (OLD.id, now_s);
	ELSE
		INSERT INTO auth_changes(account_id, at) VALUES (NEW.id, now_s);
	END IF;
	DELETE FROM auth_changes WHERE at < now_s - 3600;
	RETURN NULL;
END;
$$;
CREATE TRIGGER accounts_auth_change AFTER DELETE OR UPDATE OF password, disabled ON accounts
	FOR EACH ROW EXECUTE FUNCTION gannet_auth_change();
