-- SELECT of a huge mailbox reads no message rows (docs/ARCHITECTURE.md,
-- "Huge mailboxes"): the first unseen message and the keywords in use come
-- from partial indexes that hold only unseen messages (flag bit 1 is \Seen,
-- store.FlagBitSeen) and only messages with keywords. The queries repeat
-- these WHERE terms exactly, as SQLite requires to use a partial index.
CREATE INDEX messages_unseen ON messages(mailbox_id, uid) WHERE flags & 1 = 0;
CREATE INDEX messages_keywords ON messages(mailbox_id, keywords) WHERE keywords <> '';
