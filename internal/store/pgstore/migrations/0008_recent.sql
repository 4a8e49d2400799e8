-- IMAP4rev1 \Recent (store.RecentStore): the lowest UID of the mailbox no
-- session has been given as recent. Existing mailboxes start with nothing
-- recent, new ones with everything.
ALTER TABLE mailboxes ADD COLUMN recent_uid BIGINT NOT NULL DEFAULT 1;
UPDATE mailboxes SET recent_uid = uidnext;
