package pgstore

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"runtime"

	"github.com/jackc/pgx/v5"
	"github.com/klauspost/compress/zstd"

	"gannet/internal/store"
)

// chunkSize is the raw size of every chunk of a message body but the last
// (table body_chunks). 256 KiB is large enough for zstd to find most of a
// message's redundancy, small enough that a FETCH of one body part of a
// large message decompresses little more than the part, and far below
// PostgreSQL's field limit. Stored data depends on it: never change it
// without a migration.
const chunkSize = 256 << 10

// codec compresses and decompresses chunks. EncodeAll and DecodeAll are safe
// for concurrent use.
type codec struct {
	enc *zstd.Encoder
	dec *zstd.Decoder
}

func newCodec() (*codec, error) {
	// Fastest: every message is compressed once on the delivery path, where
	// latency counts (internal/store/blobstore makes the same choice). The
	// frame checksum detects corruption on read.
	enc, err := zstd.NewWriter(nil,
		zstd.WithEncoderLevel(zstd.SpeedFastest),
		zstd.WithEncoderConcurrency(runtime.GOMAXPROCS(0)),
		zstd.WithEncoderCRC(true),
		zstd.WithWindowSize(chunkSize))
	if err != nil {
		return nil, fmt.Errorf("pgstore: zstd encoder: %w", err)
	}
	// MaxMemory and CapLimit bound what a corrupt chunk can make us allocate.
	dec, err := zstd.NewReader(nil,
		zstd.WithDecoderConcurrency(0),
		zstd.WithDecoderMaxMemory(2*chunkSize),
		zstd.WithDecodeAllCapLimit(true))
	if err != nil {
		return nil, fmt.Errorf("pgstore: zstd decoder: %w", err)
	}
	return &codec{enc: enc, dec: dec}, nil
}

// body is a message's content ready to insert: the core's parse results
// (store.Ingest) and the compressed chunks.
type body struct {
	*store.Body
	chunks [][]byte
	ns     []int32
	// objects names the upload holding the chunks in the object store
	// (objects.go); "" = the chunks go to body_chunks.
	objects string
	// reused: the committed transaction found the content stored already,
	// so this body's own chunks were not used (set by queueBody).
	reused bool
}

// prepareBody parses and compresses a message, and with an object store
// uploads it. It runs before the write transaction, so that concurrent
// deliveries parse, compress and upload in parallel and the transaction
// holds its locks only for SQL.
func (s *Store) prepareBody(ctx context.Context, raw []byte) (*body, error) {
	b := s.chunkBody(store.Ingest(raw), raw)
	if s.objects != nil && len(b.chunks) > 0 {
		if err := s.upload(ctx, b); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// chunkBody compresses raw, whose parse results are pb, into chunks.
func (s *Store) chunkBody(pb *store.Body, raw []byte) *body {
	b := &body{Body: pb}
	for off, i := 0, int32(0); off < len(raw); off, i = off+chunkSize, i+1 {
		end := min(off+chunkSize, len(raw))
		b.chunks = append(b.chunks, s.codec.enc.EncodeAll(raw[off:end], nil))
		b.ns = append(b.ns, i)
	}
	return b
}

// queueBody queues the statement that stores a body once per distinct
// content, with its chunks, and sets *id to its id when the batch runs (a
// batch shares one round trip with the statements that follow). An existing
// row (the same content delivered before, or by a concurrent delivery, whose
// commit the upsert waits for) gets a fresh created time instead and keeps
// its chunks: the upsert's row lock, held to commit, and the fresh time keep
// GC, which removes only unreferenced bodies older than its grace period,
// from deleting the row before this transaction's messages reference it.
// xmax = 0 tells an inserted row from an updated one. Writers store the
// body before they lock accounts: one lock order, body then accounts.
// With an object store the row names b's upload and no chunks are inserted
// (b.chunks is empty); b.reused tells the caller whether the upload went
// unused (objects.go).
func (s *Store) queueBody(q *pgx.Batch, b *body, id *int64) {
	var objects *string
	if b.objects != "" {
		objects = &b.objects
	}
	q.Queue(`WITH b AS (
			INSERT INTO bodies(blob, size, subject, h_from, h_to, h_cc, h_bcc, sent_date, sent_day, parsed, header, created, objects)
			VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $15)
			ON CONFLICT (blob) DO UPDATE SET created = EXCLUDED.created
			RETURNING id, xmax = 0 AS inserted),
		c AS (INSERT INTO body_chunks(body_id, n, data)
			SELECT b.id, u.n, u.data FROM b, unnest($13::INTEGER[], $14::BYTEA[]) AS u(n, data) WHERE b.inserted)
		SELECT id, inserted FROM b`,
		b.ID, b.Size, b.Subject, b.From, b.To, b.Cc, b.Bcc, b.SentDate, b.SentDay, b.Parsed, b.Header,
		unix(s.now()), b.ns, b.chunks, objects).QueryRow(func(row pgx.Row) error {
		var inserted bool
		if err := row.Scan(id, &inserted); err != nil {
			return fmt.Errorf("insert body: %w", err)
		}
		b.reused = !inserted
		return nil
	})
}

// Open implements store.Store.
func (s *Store) Open(ctx context.Context, blobID string) (io.ReadCloser, error) {
	return s.open(ctx, blobID, 0, -1)
}

// OpenRange implements store.Store: only the chunks that cover the range are
// read and decompressed.
func (s *Store) OpenRange(ctx context.Context, blobID string, off, n int64) (io.ReadCloser, error) {
	if off < 0 || n < 0 {
		return nil, fmt.Errorf("open message range (%d, %d): %w", off, n, store.ErrInvalidName)
	}
	return s.open(ctx, blobID, off, n)
}

// open returns bytes [off, off+n) of a message; n < 0 means all of it.
//
// One query reads the body's id and size and the first chunk the range
// needs; the reader fetches each further chunk with a query of its own when
// it gets there. So a message under one chunk (nearly all mail) costs one
// query, and a large one is never whole in memory, compressed or not: the
// reader holds one decompressed chunk, and no pooled connection while the
// client reads (a slow client must not hold the pool).
func (s *Store) open(ctx context.Context, blobID string, off, n int64) (io.ReadCloser, error) {
	if err := s.alive(); err != nil {
		return nil, err
	}
	// Chunk numbers are INTEGER; no body has 2^31 chunks.
	first := min(off/chunkSize, math.MaxInt32)
	r := &chunkReader{ctx: ctx, s: s, next: first}
	var size int64
	var objects *string
	found := false
	err := s.chunkQuery(ctx, `SELECT b.id, b.size, b.objects, c.data FROM bodies b
		LEFT JOIN body_chunks c ON c.body_id = b.id AND c.n = $2
		WHERE b.blob = $1`, func(rows pgx.Rows) error {
		if err := rows.Scan(&r.bodyID, &size, &objects, nil); err != nil {
			return err
		}
		found = true
		r.size = size
		if objects != nil || rows.RawValues()[3] == nil {
			// In the object store (read below, once the range is known
			// not to be empty); or no chunk there: an empty body, or a
			// range past the end.
			return nil
		}
		return r.decode(rows)
	}, blobID, first)
	if err != nil {
		return nil, fmt.Errorf("open message %s: %w", blobID, err)
	}
	if !found {
		return nil, fmt.Errorf("open message %s: %w", blobID, store.ErrNotFound)
	}
	off = min(off, size)
	if n < 0 || n > size-off {
		n = size - off
	}
	if n == 0 {
		return io.NopCloser(bytes.NewReader(nil)), nil
	}
	if objects != nil {
		r.objects = *objects
		if err := r.fetch(); err != nil {
			return nil, fmt.Errorf("open message %s: %w", blobID, err)
		}
	}
	if r.buf == nil {
		return nil, fmt.Errorf("open message %s: chunk %d missing", blobID, first)
	}
	r.left = n
	r.take(off - first*chunkSize)
	return r, nil
}

// chunkQuery runs a query that returns at most one row and hands the row to
// fn while it is current (its raw values are valid only then).
func (s *Store) chunkQuery(ctx context.Context, q string, fn func(pgx.Rows) error, args ...any) error {
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	if rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	rows.Close()
	return rows.Err()
}

// chunkReader decompresses a body's chunks one at a time as they are read.
type chunkReader struct {
	ctx     context.Context
	s       *Store
	bodyID  int64
	objects string // the upload holding the chunks (objects.go); "" = body_chunks
	size    int64  // the body's size (to check each chunk's length)
	next    int64  // number of the chunk the next fill reads
	left    int64  // bytes still to return
	buf     []byte // the current chunk, decompressed, unread part
	raw     []byte // reused decompression buffer
}

// decode decompresses the chunk in the current row's last column, straight
// from the row's raw bytes (no copy of the compressed chunk), into the
// reused buffer, and makes it the current chunk.
func (r *chunkReader) decode(rows pgx.Rows) error {
	fds := rows.FieldDescriptions()
	if fds[len(fds)-1].Format != pgx.BinaryFormatCode {
		return fmt.Errorf("chunk %d: not in binary format", r.next)
	}
	return r.decodeChunk(rows.RawValues()[len(fds)-1])
}

// decodeChunk decompresses chunk r.next, whose compressed bytes are data,
// into the reused buffer and makes it the current chunk.
func (r *chunkReader) decodeChunk(data []byte) error {
	want := min(int64(chunkSize), r.size-r.next*chunkSize)
	if want <= 0 {
		return fmt.Errorf("chunk %d: past the end of a %d-byte body", r.next, r.size)
	}
	if int64(cap(r.raw)) < want {
		r.raw = make([]byte, 0, want) // DecodeAll decodes no more than the capacity
	}
	raw, err := r.s.codec.dec.DecodeAll(data, r.raw[:0])
	if err != nil {
		return fmt.Errorf("chunk %d: %w", r.next, err)
	}
	if int64(len(raw)) != want {
		return fmt.Errorf("chunk %d has %d bytes, want %d", r.next, len(raw), want)
	}
	r.raw = raw
	r.buf = raw
	r.next++
	return nil
}

// take drops skip bytes from the current chunk and bounds it by left.
func (r *chunkReader) take(skip int64) {
	r.buf = r.buf[min(skip, int64(len(r.buf))):]
	r.buf = r.buf[:min(int64(len(r.buf)), r.left)]
	r.left -= int64(len(r.buf))
}

func (r *chunkReader) Read(p []byte) (int, error) {
	for len(r.buf) == 0 {
		if r.left == 0 {
			return 0, io.EOF
		}
		if err := r.fill(); err != nil {
			return 0, err
		}
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

// fetch reads and decompresses the next chunk.
func (r *chunkReader) fetch() error {
	r.buf = nil
	if r.objects != "" {
		data, err := r.s.getChunk(r.ctx, r.objects, r.next)
		if err != nil {
			return err
		}
		return r.decodeChunk(data)
	}
	return r.s.chunkQuery(r.ctx, `SELECT data FROM body_chunks WHERE body_id = $1 AND n = $2`,
		r.decode, r.bodyID, r.next)
}

// fill reads and decompresses the next chunk.
func (r *chunkReader) fill() error {
	err := r.fetch()
	if err != nil {
		return fmt.Errorf("message body: %w", err)
	}
	if r.buf == nil {
		return fmt.Errorf("message body: chunk %d missing: %w", r.next, io.ErrUnexpectedEOF)
	}
	r.take(0)
	return nil
}

func (r *chunkReader) Close() error {
	r.buf, r.raw = nil, nil
	return nil
}
