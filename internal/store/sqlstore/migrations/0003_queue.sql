-- The outbound queue. Message bytes stay in this table (zstd, as bodies.data)
-- rather than in the blobstore: blob GC deletes any blob file without a bodies
-- row, and the queue's bytes must live exactly as long as the queue row.
CREATE TABLE queue_messages (
	id         INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused: logs and admins name messages by ID
	mail_from  TEXT NOT NULL,
	account_id INTEGER NOT NULL DEFAULT 0,
	env_id     TEXT NOT NULL DEFAULT '',
	ret        TEXT NOT NULL DEFAULT '',
	size       INTEGER NOT NULL,
	data       BLOB NOT NULL,
	created    INTEGER NOT NULL
);

-- One row per recipient still to reach; a delivered or bounced recipient's row
-- is deleted, and the message with its last recipient.
CREATE TABLE queue_recipients (
	message_id     INTEGER NOT NULL REFERENCES queue_messages(id) ON DELETE CASCADE,
	address        TEXT NOT NULL,
	domain         TEXT NOT NULL,
	notify         TEXT NOT NULL DEFAULT '',
	orcpt          TEXT NOT NULL DEFAULT '',
	attempts       INTEGER NOT NULL DEFAULT 0,
	next_attempt   INTEGER NOT NULL,
	last_attempt   INTEGER NOT NULL DEFAULT 0,
	last_error     TEXT NOT NULL DEFAULT '',
	delay_notified INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (message_id, address)
) WITHOUT ROWID;
CREATE INDEX queue_recipients_due ON queue_recipients(next_attempt);
