-- Gannet schema, version 1. Times are unix seconds (UTC).
CREATE TABLE meta (
	key   TEXT PRIMARY KEY,
	value INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE domains (
	name    TEXT PRIMARY KEY,
	created INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE accounts (
	id             INTEGER PRIMARY KEY,
	address        TEXT NOT NULL UNIQUE,
	domain         TEXT NOT NULL REFERENCES domains(name),
	password       TEXT NOT NULL,
	scram          BLOB,
	quota_bytes    INTEGER NOT NULL DEFAULT 0,
	quota_messages INTEGER NOT NULL DEFAULT 0,
	used_bytes     INTEGER NOT NULL DEFAULT 0,
	used_messages  INTEGER NOT NULL DEFAULT 0,
	pop3_policy    TEXT NOT NULL DEFAULT 'delete',
	modseq         INTEGER NOT NULL DEFAULT 1,
	created        INTEGER NOT NULL
);
CREATE INDEX accounts_domain ON accounts(domain);

CREATE TABLE aliases (
	address TEXT NOT NULL,
	target  TEXT NOT NULL,
	PRIMARY KEY (address, target)
) WITHOUT ROWID;
CREATE INDEX aliases_target ON aliases(target);

-- Counters (messages, unseen, deleted, size) are maintained by every write so that
-- STATUS and the webmail folder list are O(1) on a 100,000-message mailbox.
CREATE TABLE mailboxes (
	id             INTEGER PRIMARY KEY,
	account_id     INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	name           TEXT NOT NULL,
	special_use    TEXT NOT NULL DEFAULT '',
	uidvalidity    INTEGER NOT NULL,
	uidnext        INTEGER NOT NULL DEFAULT 1,
	highest_modseq INTEGER NOT NULL DEFAULT 0,
	messages       INTEGER NOT NULL DEFAULT 0,
	unseen         INTEGER NOT NULL DEFAULT 0,
	deleted        INTEGER NOT NULL DEFAULT 0,
	size           INTEGER NOT NULL DEFAULT 0,
	UNIQUE (account_id, name)
);

CREATE TABLE subscriptions (
	account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	name       TEXT NOT NULL,
	PRIMARY KEY (account_id, name)
) WITHOUT ROWID;

-- One row per distinct message content: parse results computed once at delivery.
-- Search columns hold decoded, lower-cased text.
CREATE TABLE bodies (
	blob      TEXT PRIMARY KEY,
	size      INTEGER NOT NULL,
	parsed    BLOB NOT NULL,
	header    BLOB NOT NULL,
	subject   TEXT NOT NULL DEFAULT '',
	h_from    TEXT NOT NULL DEFAULT '',
	h_to      TEXT NOT NULL DEFAULT '',
	h_cc      TEXT NOT NULL DEFAULT '',
	h_bcc     TEXT NOT NULL DEFAULT '',
	sent_date INTEGER NOT NULL DEFAULT 0,
	sent_day  INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

CREATE TABLE messages (
	mailbox_id    INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
	uid           INTEGER NOT NULL,
	account_id    INTEGER NOT NULL,
	modseq        INTEGER NOT NULL,
	flags         INTEGER NOT NULL DEFAULT 0,
	keywords      TEXT NOT NULL DEFAULT '',
	internal_date INTEGER NOT NULL,
	size          INTEGER NOT NULL,
	blob          TEXT NOT NULL,
	pop_hidden    INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (mailbox_id, uid)
) WITHOUT ROWID;
CREATE INDEX messages_modseq ON messages(mailbox_id, modseq);
CREATE INDEX messages_blob ON messages(blob);

-- Expunged messages, for QRESYNC VANISHED (EARLIER) and webmail sync (RFC 7162 3.2.10).
CREATE TABLE tombstones (
	mailbox_id INTEGER NOT NULL,
	uid        INTEGER NOT NULL,
	modseq     INTEGER NOT NULL,
	PRIMARY KEY (mailbox_id, uid)
) WITHOUT ROWID;
CREATE INDEX tombstones_modseq ON tombstones(mailbox_id, modseq);
