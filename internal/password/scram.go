package password

import (
	"bytes"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strconv"
)

// SCRAM parameters.
const (
	// SCRAMIterations is the PBKDF2 iteration count for new keys; RFC 7677
	// section 4 says it SHOULD be at least 4096.
	SCRAMIterations = 4096
	scramSaltLen    = 16
	// Accepted by UnmarshalSCRAM: anything below 4096 is refused as too weak to
	// keep (RFC 7677 section 4); the upper bound keeps a corrupted row from making
	// one authentication spin for minutes.
	scramMinIterations = 4096
	scramMaxIterations = 1 << 20
	scramMaxSaltLen    = 64
	scramPrefix        = "SCRAM-SHA-256$"
)

// SCRAMKeys are the server-side SCRAM-SHA-256 credentials of one account
// (RFC 5802 section 3, RFC 7677). They allow verifying a client proof and
// proving the server's identity, but neither reveals the password nor lets an
// attacker who steals them log in without a further dictionary attack.
type SCRAMKeys struct {
	Salt       []byte
	Iterations int
	StoredKey  []byte // H(ClientKey), 32 bytes
	ServerKey  []byte // HMAC(SaltedPassword, "Server Key"), 32 bytes
}

// NewSCRAMKeys derives SCRAM-SHA-256 keys for pw with a fresh random salt and
// SCRAMIterations iterations. pw is normalised as in Hash (see normalize for how
// this relates to SASLprep).
func NewSCRAMKeys(pw string) (SCRAMKeys, error) {
	norm, err := normalize(pw)
	if err != nil {
		return SCRAMKeys{}, fmt.Errorf("password: scram keys: %w", err)
	}
	salt := make([]byte, scramSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return SCRAMKeys{}, fmt.Errorf("password: scram keys: read salt: %w", err)
	}
	k, err := deriveSCRAM(norm, salt, SCRAMIterations)
	if err != nil {
		return SCRAMKeys{}, fmt.Errorf("password: scram keys: %w", err)
	}
	return k, nil
}

// deriveSCRAM computes, per RFC 5802 section 3:
//
//	SaltedPassword := Hi(Normalize(password), salt, i)   // PBKDF2-HMAC-SHA-256
//	ClientKey      := HMAC(SaltedPassword, "Client Key")
//	StoredKey      := H(ClientKey)
//	ServerKey      := HMAC(SaltedPassword, "Server Key")
//
// norm must already be normalised.
func deriveSCRAM(norm string, salt []byte, iter int) (SCRAMKeys, error) {
	salted, err := pbkdf2.Key(sha256.New, norm, salt, iter, sha256.Size)
	if err != nil {
		return SCRAMKeys{}, fmt.Errorf("pbkdf2: %w", err)
	}
	clientKey := hmacSHA256(salted, "Client Key")
	storedKey := sha256.Sum256(clientKey)
	return SCRAMKeys{
		Salt:       bytes.Clone(salt),
		Iterations: iter,
		StoredKey:  storedKey[:],
		ServerKey:  hmacSHA256(salted, "Server Key"),
	}, nil
}

func hmacSHA256(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

// Marshal encodes the keys in the format PostgreSQL uses for the same purpose,
//
//	SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>
//
// with standard, padded base64. The encoding is ASCII and self-describing, so a
// future mechanism (SCRAM-SHA-512) can sit beside it.
func (k SCRAMKeys) Marshal() []byte {
	enc := base64.StdEncoding
	b := make([]byte, 0, len(scramPrefix)+16+enc.EncodedLen(len(k.Salt))+
		enc.EncodedLen(len(k.StoredKey))+enc.EncodedLen(len(k.ServerKey)))
	b = append(b, scramPrefix...)
	b = strconv.AppendInt(b, int64(k.Iterations), 10)
	b = append(b, ':')
	b = enc.AppendEncode(b, k.Salt)
	b = append(b, '$')
	b = enc.AppendEncode(b, k.StoredKey)
	b = append(b, ':')
	b = enc.AppendEncode(b, k.ServerKey)
	return b
}

// UnmarshalSCRAM decodes what Marshal produced. Any deviation (other mechanism,
// bad base64, keys that are not 32 bytes, an empty or oversized salt, an
// iteration count below 4096 or absurdly high) is an error wrapping ErrMalformed.
func UnmarshalSCRAM(b []byte) (SCRAMKeys, error) {
	k, err := unmarshalSCRAM(b)
	if err != nil {
		return SCRAMKeys{}, fmt.Errorf("password: unmarshal scram keys: %w: %s", ErrMalformed, err)
	}
	return k, nil
}

func unmarshalSCRAM(b []byte) (SCRAMKeys, error) {
	rest, ok := bytes.CutPrefix(b, []byte(scramPrefix))
	if !ok {
		return SCRAMKeys{}, fmt.Errorf("missing %q prefix", scramPrefix)
	}
	params, keys, ok := bytes.Cut(rest, []byte("$"))
	if !ok {
		return SCRAMKeys{}, fmt.Errorf("missing keys")
	}
	iterStr, saltStr, ok := bytes.Cut(params, []byte(":"))
	if !ok {
		return SCRAMKeys{}, fmt.Errorf("missing salt")
	}
	storedStr, serverStr, ok := bytes.Cut(keys, []byte(":"))
	if !ok {
		return SCRAMKeys{}, fmt.Errorf("missing server key")
	}
	iter, err := strconv.Atoi(string(iterStr))
	if err != nil || iter < scramMinIterations || iter > scramMaxIterations {
		return SCRAMKeys{}, fmt.Errorf("iteration count %q out of range", iterStr)
	}
	enc := base64.StdEncoding.Strict()
	var k SCRAMKeys
	k.Iterations = iter
	if k.Salt, err = enc.AppendDecode(nil, saltStr); err != nil {
		return SCRAMKeys{}, fmt.Errorf("salt: %v", err)
	}
	if len(k.Salt) == 0 || len(k.Salt) > scramMaxSaltLen {
		return SCRAMKeys{}, fmt.Errorf("salt length %d out of range", len(k.Salt))
	}
	if k.StoredKey, err = enc.AppendDecode(nil, storedStr); err != nil || len(k.StoredKey) != sha256.Size {
		return SCRAMKeys{}, fmt.Errorf("stored key is not %d bytes of base64", sha256.Size)
	}
	if k.ServerKey, err = enc.AppendDecode(nil, serverStr); err != nil || len(k.ServerKey) != sha256.Size {
		return SCRAMKeys{}, fmt.Errorf("server key is not %d bytes of base64", sha256.Size)
	}
	return k, nil
}
