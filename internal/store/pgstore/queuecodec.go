package pgstore

import (
	"fmt"
	"runtime"

	"github.com/klauspost/compress/zstd"
)

// The framing of the blobstore package's inline blobs (sqlstore keeps its
// queued messages so): independent zstd frames of at most frameSize raw
// bytes, and a decoder that allocates at most maxFrameMemory for a corrupt
// frame. blobstore's Compress is a method of a blob directory, which a node
// on PostgreSQL does not have, so pgstore keeps its own encoder and decoder
// with the same settings.
const (
	frameSize      = 64 << 10
	maxFrameMemory = 1 << 20
)

// queueCodec compresses queued messages (queue_messages.data). Both halves
// are safe for concurrent use (EncodeAll and DecodeAll). Message bodies have
// their own chunk codec (bodies.go), with a larger window.
type queueCodec struct {
	enc *zstd.Encoder
	dec *zstd.Decoder
}

func newQueueCodec() (*queueCodec, error) {
	// Fastest: compression runs on the submission path, where latency
	// counts; text still shrinks about 3×. The frame checksum lets readers
	// detect corruption.
	enc, err := zstd.NewWriter(nil,
		zstd.WithEncoderLevel(zstd.SpeedFastest),
		zstd.WithEncoderConcurrency(runtime.GOMAXPROCS(0)),
		zstd.WithEncoderCRC(true),
		zstd.WithWindowSize(frameSize))
	if err != nil {
		return nil, fmt.Errorf("pgstore: zstd encoder: %w", err)
	}
	dec, err := zstd.NewReader(nil,
		zstd.WithDecoderConcurrency(0),
		zstd.WithDecoderMaxMemory(maxFrameMemory),
		zstd.WithDecodeAllCapLimit(true))
	if err != nil {
		return nil, fmt.Errorf("pgstore: zstd decoder: %w", err)
	}
	return &queueCodec{enc: enc, dec: dec}, nil
}

// compress returns data as a sequence of independent zstd frames of at
// most frameSize raw bytes each.
func (c *queueCodec) compress(data []byte) []byte {
	var out []byte
	for off := 0; off < len(data); off += frameSize {
		out = c.enc.EncodeAll(data[off:min(off+frameSize, len(data))], out)
	}
	return out
}

// decompress reverses compress; size is the raw size, which also bounds what
// corrupt input can make it allocate.
func (c *queueCodec) decompress(b []byte, size int64) ([]byte, error) {
	if size < 0 {
		return nil, fmt.Errorf("decompress: corrupt: size %d", size)
	}
	out, err := c.dec.DecodeAll(b, make([]byte, 0, size))
	if err != nil {
		return nil, fmt.Errorf("decompress: corrupt: %w", err)
	}
	if int64(len(out)) != size {
		return nil, fmt.Errorf("decompress: corrupt: size %d, want %d", len(out), size)
	}
	return out, nil
}

func (c *queueCodec) close() {
	_ = c.enc.Close()
	c.dec.Close()
}
