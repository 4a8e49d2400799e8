-- Account and mailbox ids are never reused (issue 13, finding 1). Without
-- AUTOINCREMENT SQLite gives a new row max(id)+1, so deleting the newest
-- account and creating another handed the new account the old id, and every
-- session still holding that id (a webmail cookie, an IMAP login) read the new
-- account's mail.
--
-- SQLite cannot ALTER a table to AUTOINCREMENT, and rebuilding accounts and
-- mailboxes is not safe here: a migration runs in one transaction, where
-- PRAGMA foreign_keys cannot be switched off, so DROP TABLE accounts would
-- cascade (ON DELETE CASCADE) through mailboxes to every message. Instead
-- meta keeps a high-water mark per table, which is all AUTOINCREMENT is
-- (sqlite_sequence): inserts take the mark + 1, a trigger refuses any insert
-- that does not (so a new insert path that forgets fails loudly rather than
-- reusing an id), and another advances the mark. Ids freed before this
-- migration, above today's highest, are not known; the sessions that could
-- still hold them lived in the memory of the process being upgraded.
INSERT INTO meta(key, value) VALUES('last_account_id', (SELECT coalesce(max(id), 0) FROM accounts))
	ON CONFLICT(key) DO NOTHING;
INSERT INTO meta(key, value) VALUES('last_mailbox_id', max(
	(SELECT coalesce(max(id), 0) FROM mailboxes),
	(SELECT coalesce(max(mailbox_id), 0) FROM tombstones)))
	ON CONFLICT(key) DO NOTHING;

CREATE TRIGGER accounts_id_fresh BEFORE INSERT ON accounts
	WHEN NEW.id IS NULL OR NEW.id <= (SELECT value FROM meta WHERE key = 'last_account_id')
BEGIN
	SELECT RAISE(ABORT, 'account id reused');
END;
CREATE TRIGGER accounts_id_mark AFTER INSERT ON accounts
BEGIN
	UPDATE meta SET value = NEW.id WHERE key = 'last_account_id' AND value < NEW.id;
END;
CREATE TRIGGER mailboxes_id_fresh BEFORE INSERT ON mailboxes
	WHEN NEW.id IS NULL OR NEW.id <= (SELECT value FROM meta WHERE key = 'last_mailbox_id')
BEGIN
	SELECT RAISE(ABORT, 'mailbox id reused');
END;
CREATE TRIGGER mailboxes_id_mark AFTER INSERT ON mailboxes
BEGIN
	UPDATE meta SET value = NEW.id WHERE key = 'last_mailbox_id' AND value < NEW.id;
END;

-- A disabled account keeps its mail and keeps receiving mail, but cannot log
-- in on any protocol.
ALTER TABLE accounts ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;

-- The revocation feed (store.Store.AuthChanges): one row per account deleted,
-- disabled or given a new password, written by triggers so that no path that
-- changes an account can forget it, and read by every server process, which
-- ends that account's sessions. AUTOINCREMENT: the sequence is the readers'
-- cursor and must never go back, even when pruning has emptied the table.
-- Rows older than an hour are pruned (at is unix seconds).
CREATE TABLE auth_changes (
	seq        INTEGER PRIMARY KEY AUTOINCREMENT,
	account_id INTEGER NOT NULL,
	at         INTEGER NOT NULL
);
CREATE TRIGGER auth_changes_prune AFTER INSERT ON auth_changes
BEGIN
	DELETE FROM auth_changes WHERE at < NEW.at - 3600;
END;
CREATE TRIGGER accounts_auth_deleted AFTER DELETE ON accounts
BEGIN
	INSERT INTO auth_changes(account_id, at) VALUES(OLD.id, unixepoch());
END;
CREATE TRIGGER accounts_auth_password AFTER UPDATE OF password ON accounts
	WHEN NEW.password IS NOT OLD.password
BEGIN
	INSERT INTO auth_changes(account_id, at) VALUES(NEW.id, unixepoch());
END;
CREATE TRIGGER accounts_auth_disabled AFTER UPDATE OF disabled ON accounts
	WHEN NEW.disabled AND NOT OLD.disabled
BEGIN
	INSERT INTO auth_changes(account_id, at) VALUES(NEW.id, unixepoch());
END;
