-- Message bytes in an S3-compatible object store (config key `blobs`,
-- objects.go): a body whose objects column is set keeps its chunks as the
-- objects <objects>/<n> under the configured prefix, not in body_chunks.
-- The name is random per upload and never reused, so GC can delete a
-- body's objects without racing a delivery of the same content (objects.go).
-- NULL: the chunks are in body_chunks, as before this migration.
ALTER TABLE bodies ADD COLUMN objects TEXT;
CREATE UNIQUE INDEX bodies_objects ON bodies(objects) WHERE objects IS NOT NULL;
