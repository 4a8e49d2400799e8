-- Small messages are kept inline, zstd-compressed, so that delivering one costs
-- no file creation and no fsync beyond the shared transaction's (group commit).
-- NULL means the bytes are a file in the blobstore.
ALTER TABLE bodies ADD COLUMN data BLOB;
