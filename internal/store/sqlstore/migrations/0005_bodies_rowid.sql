-- bodies becomes a rowid table with the small search columns first. As a
-- WITHOUT ROWID table its ~1 KB rows (parse results + header) overflowed the
-- b-tree page, and reading the subject for SEARCH meant reading overflow pages
-- with a pread each (SQLite recommends WITHOUT ROWID only for small rows).
CREATE TABLE bodies_new (
	id        INTEGER PRIMARY KEY,
	blob      TEXT NOT NULL UNIQUE,
	size      INTEGER NOT NULL,
	subject   TEXT NOT NULL DEFAULT '',
	h_from    TEXT NOT NULL DEFAULT '',
	h_to      TEXT NOT NULL DEFAULT '',
	h_cc      TEXT NOT NULL DEFAULT '',
	h_bcc     TEXT NOT NULL DEFAULT '',
	sent_date INTEGER NOT NULL DEFAULT 0,
	sent_day  INTEGER NOT NULL DEFAULT 0,
	parsed    BLOB NOT NULL,
	header    BLOB NOT NULL,
	data      BLOB
);
INSERT INTO bodies_new(blob, size, subject, h_from, h_to, h_cc, h_bcc, sent_date, sent_day, parsed, header, data)
	SELECT blob, size, subject, h_from, h_to, h_cc, h_bcc, sent_date, sent_day, parsed, header, data FROM bodies;
DROP TABLE bodies;
ALTER TABLE bodies_new RENAME TO bodies;
