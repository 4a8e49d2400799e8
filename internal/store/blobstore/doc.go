// Package blobstore keeps message bytes: content-addressed, zstd-compressed,
// durable files on the local filesystem.
//
// # Addressing
//
// A blob's id is the lower-case hex SHA-256 of its uncompressed bytes, so the
// same message delivered to fifty recipients is stored once. Blob id
// "abcd…" lives at dir/ab/abcd…: one level of 256-way fan-out. One level, not
// two, because a directory is fsynced into its parent the first time a process
// uses it: with 65,536 leaves nearly every Put of a young store paid that extra
// fsync (and a mkdir), which halved delivery throughput; ext4's hashed
// directories handle tens of thousands of files per directory well. Ids are
// validated (exactly 64 lower-case hex digits) before they touch a path, so no
// id can name a file outside dir.
//
// # Durability invariant
//
// When Put returns nil, the blob survives a crash or power loss. Put writes a
// temporary file in the blob's own leaf directory (rename is only atomic
// within one filesystem), fsyncs it, renames it into place and fsyncs the
// leaf directory. A leaf directory that this process has not yet
// seen is fsynced into its parent before any file is created in it.
// Consequently the presence of a blob under its final name implies its
// contents are durable; only its directory entry may still be in flight
// (another Put may be between its rename and its directory fsync, or a
// previous process may have crashed there), which is why a Put that finds the
// blob already present still fsyncs the leaf directory before it returns.
// Deletions are not fsynced: a deletion lost in a crash is redone by the next
// garbage collection.
//
// Put takes no lock while compressing or fsyncing, so Puts of different blobs
// fsync in parallel and the filesystem batches them into one journal commit.
// Concurrent Puts of the same blob each write their own temporary file; the
// renames replace one identical file with another, which is harmless.
//
// # Garbage collection
//
// The SQL store decides what is garbage; this package only lists (Walk) and
// removes (Prune, Delete). A Put that finds its blob already present resets
// the blob's mtime to now, and Prune removes a blob only if its mtime is still
// older than a cutoff, checking and removing under the same per-id lock that
// Put's freshening takes. A collector that
//
//  1. notes start := time.Now(),
//  2. reads the set of referenced blob ids,
//  3. calls Prune(id, start.Add(-grace)) for every unreferenced id from Walk,
//
// therefore never removes a blob that a delivery has just deduplicated against
// and not yet committed, as long as grace exceeds the time between a Put and
// the commit of the rows that reference it. Plain Delete has no such
// protection and is meant for tests and administrative repair.
//
// Temporary files ("<id>.<random>.tmp") left by a crash are removed by Walk
// once they are older than an hour; younger ones may belong to a Put in
// progress. Walk never removes directories, because Put caches which
// directories exist.
//
// # File format
//
// The uncompressed bytes are cut into frames of 64 KiB (the last may be
// shorter); each is compressed into an independent zstd frame with a content
// checksum, so a byte range is served by decompressing only the frames that
// cover it. After the frames comes the index, then a fixed 32-byte trailer,
// all integers little-endian:
//
//	frame 0 … frame N-1    zstd frames, concatenated
//	index                  N × uint32: compressed length of each frame
//	trailer (32 bytes)
//	   0  uint64  uncompressed size
//	   8  uint32  N, the frame count (= ceil(size / frame size))
//	  12  uint32  uncompressed frame size (65536)
//	  16  uint32  CRC-32C of index ‖ trailer[0:16]
//	  20  uint32  reserved, zero
//	  24  [7]byte magic "GNTBLOB"
//	  31  uint8   format version (1)
//
// A reader finds everything from the file's tail: usually one read of the
// last 16 KiB yields the trailer, the index and, for a small message, the
// frame itself. An empty blob is a bare trailer. Any inconsistency (bad
// magic, checksum, lengths that do not add up to the file size, a frame that
// does not decode to its expected length) is reported as ErrCorrupt, never as
// a panic or as wrong bytes.
package blobstore
