package password

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Params are the argon2id cost parameters (RFC 9106 section 3.1).
type Params struct {
	Memory  uint32 // m, in KiB
	Time    uint32 // t, passes over memory
	Threads uint8  // p, lanes
	SaltLen uint32 // bytes of random salt
	KeyLen  uint32 // bytes of digest
}

// DefaultParams returns the parameters used by Hash: OWASP's argon2id
// recommendation m=19456 KiB (19 MiB), t=2, p=1, a 16-byte salt and a 32-byte
// digest. This costs roughly 20-40 ms and 19 MiB per login on current hardware;
// callers on the login path should bound how many verifications run at once.
func DefaultParams() Params {
	return Params{Memory: 19 * 1024, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}
}

// TestParams returns deliberately cheap parameters for tests (m=64 KiB, t=1).
// Never use them for real accounts.
func TestParams() Params {
	return Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}
}

// Bounds accepted by Verify. They are generous enough for any sensible
// configuration and small enough that a corrupted or hostile hash cannot exhaust
// memory or CPU on the login path.
const (
	maxMemory  = 256 * 1024 // KiB, 256 MiB (OWASP's largest option is 46 MiB)
	maxTime    = 16
	minSaltLen = 8 // RFC 9106 section 3.1: salt at least 8 bytes
	maxSaltLen = 64
	minKeyLen  = 16 // RFC 9106 allows 4; anything below 16 is not a real hash
	maxKeyLen  = 128
)

// Hash returns the argon2id hash of pw with DefaultParams, in PHC string format.
func Hash(pw string) (string, error) {
	return DefaultParams().Hash(pw)
}

// Hash returns the argon2id hash of pw with parameters p, in PHC string format.
func (p Params) Hash(pw string) (string, error) {
	if err := p.check(); err != nil {
		return "", fmt.Errorf("password: hash: invalid params: %w", err)
	}
	norm, err := normalize(pw)
	if err != nil {
		return "", fmt.Errorf("password: hash: %w", err)
	}
	salt := make([]byte, p.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("password: hash: read salt: %w", err)
	}
	key := argon2.IDKey([]byte(norm), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	return encode(p, salt, key), nil
}

// check reports parameters that Verify would refuse, so that Hash never produces
// an encoding that cannot be verified.
func (p Params) check() error {
	switch {
	case p.Threads < 1:
		return errors.New("parallelism must be at least 1")
	case p.Memory < 8*uint32(p.Threads) || p.Memory > maxMemory:
		// RFC 9106 section 3.1: m >= 8*p.
		return fmt.Errorf("memory %d KiB out of range", p.Memory)
	case p.Time < 1 || p.Time > maxTime:
		return fmt.Errorf("time %d out of range", p.Time)
	case p.SaltLen < minSaltLen || p.SaltLen > maxSaltLen:
		return fmt.Errorf("salt length %d out of range", p.SaltLen)
	case p.KeyLen < minKeyLen || p.KeyLen > maxKeyLen:
		return fmt.Errorf("key length %d out of range", p.KeyLen)
	}
	return nil
}

func encode(p Params, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads, base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

// Verify reports whether pw matches the PHC-encoded argon2id hash. A wrong
// password is (false, nil); an encoding that cannot be parsed, uses another
// algorithm or version, or has out-of-range parameters is (false, error wrapping
// ErrMalformed). A password that cannot be normalised cannot have been set, so it
// is simply wrong: (false, nil). The digest comparison is constant-time.
func Verify(encoded, pw string) (bool, error) {
	p, salt, want, err := decode(encoded)
	if err != nil {
		return false, fmt.Errorf("password: verify: %w", err)
	}
	norm, err := normalize(pw)
	if err != nil {
		return false, nil
	}
	got := argon2.IDKey([]byte(norm), salt, p.Time, p.Memory, p.Threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// NeedsRehash reports whether encoded was made with parameters other than p (or
// cannot be parsed), so that a caller who has just verified the plaintext can
// store a fresh hash.
func NeedsRehash(encoded string, p Params) bool {
	q, salt, key, err := decode(encoded)
	if err != nil {
		return true
	}
	return q.Memory != p.Memory || q.Time != p.Time || q.Threads != p.Threads ||
		uint32(len(salt)) != p.SaltLen || uint32(len(key)) != p.KeyLen
}

// decode parses "$argon2id$v=19$m=M,t=T,p=P$salt$hash" as specified by the PHC
// string format and RFC 9106; parameters must appear in that order, as every
// mainstream implementation writes them.
func decode(encoded string) (p Params, salt, key []byte, err error) {
	parts := strings.Split(encoded, "$")
	// "", "argon2id", "v=19", "m=...,t=...,p=...", salt, hash
	if len(parts) != 6 || parts[0] != "" {
		return p, nil, nil, fmt.Errorf("%w: not a PHC string", ErrMalformed)
	}
	if parts[1] != "argon2id" {
		return p, nil, nil, fmt.Errorf("%w: algorithm %q is not argon2id", ErrMalformed, parts[1])
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return p, nil, nil, fmt.Errorf("%w: unsupported version %q", ErrMalformed, parts[2])
	}
	fields := strings.Split(parts[3], ",")
	if len(fields) != 3 {
		return p, nil, nil, fmt.Errorf("%w: parameters %q", ErrMalformed, parts[3])
	}
	var vals [3]uint64
	for i, name := range [3]string{"m", "t", "p"} {
		v, ok := strings.CutPrefix(fields[i], name+"=")
		if !ok {
			return p, nil, nil, fmt.Errorf("%w: parameters %q", ErrMalformed, parts[3])
		}
		// PHC: decimal, no sign, no leading zero.
		if v == "" || v[0] == '+' || (len(v) > 1 && v[0] == '0') {
			return p, nil, nil, fmt.Errorf("%w: parameter %s=%q", ErrMalformed, name, v)
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return p, nil, nil, fmt.Errorf("%w: parameter %s=%q", ErrMalformed, name, v)
		}
		vals[i] = n
	}
	if vals[2] > 255 {
		return p, nil, nil, fmt.Errorf("%w: parallelism %d out of range", ErrMalformed, vals[2])
	}
	p = Params{Memory: uint32(vals[0]), Time: uint32(vals[1]), Threads: uint8(vals[2])}
	if salt, err = base64.RawStdEncoding.Strict().DecodeString(parts[4]); err != nil {
		return p, nil, nil, fmt.Errorf("%w: salt: %v", ErrMalformed, err)
	}
	if key, err = base64.RawStdEncoding.Strict().DecodeString(parts[5]); err != nil {
		return p, nil, nil, fmt.Errorf("%w: hash: %v", ErrMalformed, err)
	}
	p.SaltLen, p.KeyLen = uint32(len(salt)), uint32(len(key))
	if err := p.check(); err != nil {
		return p, nil, nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return p, salt, key, nil
}
