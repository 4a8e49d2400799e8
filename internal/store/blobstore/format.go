package blobstore

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"os"
)

const (
	// frameSize is the uncompressed size of every frame but the last. 64 KiB
	// is large enough for zstd to find most of a message's redundancy and
	// small enough that a 4 KiB IMAP partial fetch decodes at most 128 KiB.
	frameSize = 64 << 10

	// maxFrameSize bounds the frame size a file may declare, so that a
	// corrupt trailer cannot make a reader allocate gigabytes.
	maxFrameSize = 1 << 20

	trailerSize = 32
	magic       = "GNTBLOB"
	version     = 1

	// tailRead is how much of a file's end a reader reads at once. It covers
	// the trailer and the index of blobs up to ~250 MB, and the whole file of
	// a typical message, so most opens need a single read.
	tailRead = 16 << 10
)

// castagnoli returns the CRC-32C table (cached inside hash/crc32), chosen
// because it is computed in hardware on amd64 and arm64.
func castagnoli() *crc32.Table { return crc32.MakeTable(crc32.Castagnoli) }

// maxCompressed bounds the compressed length of one frame of fs uncompressed
// bytes: zstd stores incompressible data raw, adding only a frame header, a
// 3-byte header per 128 KiB block and a 4-byte checksum.
func maxCompressed(fs int) int { return fs + fs/64 + 1024 }

// index is the parsed tail of a blob file.
type index struct {
	size      int64   // uncompressed size
	frameSize int64   // uncompressed bytes per frame
	offs      []int64 // compressed start of frame i; offs[N] is the end of the frames
}

func (ix *index) frames() int { return len(ix.offs) - 1 }

// frameLen is the uncompressed length of frame i.
func (ix *index) frameLen(i int) int64 {
	start := int64(i) * ix.frameSize
	return min(ix.frameSize, ix.size-start)
}

// appendTail appends the index and trailer for frames with the given
// compressed lengths (lens, already encoded as little-endian uint32s).
func appendTail(dst, lens []byte, size int64, fs int) []byte {
	dst = append(dst, lens...)
	var t [trailerSize]byte
	binary.LittleEndian.PutUint64(t[0:], uint64(size))
	binary.LittleEndian.PutUint32(t[8:], uint32(len(lens)/4))
	binary.LittleEndian.PutUint32(t[12:], uint32(fs))
	crc := crc32.Update(crc32.Checksum(lens, castagnoli()), castagnoli(), t[:16])
	binary.LittleEndian.PutUint32(t[16:], crc)
	copy(t[24:], magic)
	t[31] = version
	return append(dst, t[:]...)
}

func corruptf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrCorrupt, fmt.Sprintf(format, args...))
}

// parseTrailer checks the fixed trailer and returns the index length it
// announces, so the caller knows how much more of the tail to read.
func parseTrailer(t []byte, fileSize int64) (size int64, frames int, fs int64, err error) {
	if string(t[24:31]) != magic {
		return 0, 0, 0, corruptf("bad magic")
	}
	if t[31] != version {
		return 0, 0, 0, corruptf("unsupported format version %d", t[31])
	}
	if binary.LittleEndian.Uint32(t[20:]) != 0 {
		return 0, 0, 0, corruptf("reserved trailer field set")
	}
	usize := binary.LittleEndian.Uint64(t[0:])
	n := uint64(binary.LittleEndian.Uint32(t[8:]))
	ufs := uint64(binary.LittleEndian.Uint32(t[12:]))
	if ufs == 0 || ufs > maxFrameSize {
		return 0, 0, 0, corruptf("frame size %d", ufs)
	}
	// Frame count must match the size exactly, so that every frame but the
	// last is full and frameLen needs no per-frame table.
	if usize > 1<<62 || n != (usize+ufs-1)/ufs {
		return 0, 0, 0, corruptf("%d frames for %d bytes", n, usize)
	}
	if int64(n)*4+trailerSize+int64(n) > fileSize { // every frame is ≥ 1 byte
		return 0, 0, 0, corruptf("index of %d frames exceeds file size %d", n, fileSize)
	}
	return int64(usize), int(n), int64(ufs), nil
}

// parseIndex validates the index (the 4·N bytes before the trailer) and
// turns it into offsets.
func parseIndex(idx, t []byte, size int64, fs int64, fileSize int64) (index, error) {
	crc := crc32.Update(crc32.Checksum(idx, castagnoli()), castagnoli(), t[:16])
	if crc != binary.LittleEndian.Uint32(t[16:]) {
		return index{}, corruptf("index checksum mismatch")
	}
	n := len(idx) / 4
	ix := index{size: size, frameSize: fs, offs: make([]int64, n+1)}
	limit := int64(maxCompressed(int(fs)))
	var off int64
	for i := range n {
		l := int64(binary.LittleEndian.Uint32(idx[4*i:]))
		if l == 0 || l > limit {
			return index{}, corruptf("frame %d has compressed length %d", i, l)
		}
		ix.offs[i] = off
		off += l
	}
	ix.offs[n] = off
	if off+int64(len(idx))+trailerSize != fileSize {
		return index{}, corruptf("frames end at %d, index at %d", off, fileSize-int64(len(idx))-trailerSize)
	}
	return ix, nil
}

// readIndex reads and validates the index of f. It reads the last tailRead
// bytes into buf (which must have that capacity) and returns them with their
// file offset, so the caller can serve small frames without reading again.
func readIndex(f *os.File, fileSize int64, buf []byte) (ix index, tail []byte, tailOff int64, err error) {
	if fileSize < trailerSize {
		return index{}, nil, 0, corruptf("file of %d bytes is shorter than the trailer", fileSize)
	}
	tailOff = max(0, fileSize-int64(cap(buf)))
	tail = buf[:fileSize-tailOff]
	if _, err := f.ReadAt(tail, tailOff); err != nil {
		return index{}, nil, 0, readErr(err)
	}
	t := tail[len(tail)-trailerSize:]
	size, n, fs, err := parseTrailer(t, fileSize)
	if err != nil {
		return index{}, nil, 0, err
	}
	idxLen := int64(4 * n)
	var idx []byte
	if idxLen <= int64(len(tail)-trailerSize) {
		idx = tail[len(tail)-trailerSize-int(idxLen) : len(tail)-trailerSize]
	} else {
		// A blob above ~250 MB: read its index separately.
		idx = make([]byte, idxLen)
		if _, err := f.ReadAt(idx, fileSize-trailerSize-idxLen); err != nil {
			return index{}, nil, 0, readErr(err)
		}
	}
	ix, err = parseIndex(idx, t, size, fs, fileSize)
	if err != nil {
		return index{}, nil, 0, err
	}
	return ix, tail, tailOff, nil
}

// readErr turns a short read (the file shrank under us) into corruption.
func readErr(err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return corruptf("short read")
	}
	return err
}
