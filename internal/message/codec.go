package message

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Marshal encodes p for storage: compact JSON with the short field names of
// the struct tags, deterministic (fields in declaration order, map keys
// sorted, no HTML escaping). A Date JSON cannot hold is stored as zero.
func (p *Parsed) Marshal() []byte {
	b, err := encode(p)
	if err != nil {
		// Only a time outside RFC 3339 can fail; Parse never produces one.
		q := *p
		q.Date = time.Time{}
		b, _ = encode(&q)
	}
	return b
}

func encode(p *Parsed) ([]byte, error) {
	return appendParsed(make([]byte, 0, 1024), p)
}

// Unmarshal decodes what Marshal produced.
func Unmarshal(b []byte) (*Parsed, error) {
	var p Parsed
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("unmarshal parsed message: %w", err)
	}
	if p.Body == nil {
		return nil, errors.New("unmarshal parsed message: no body part")
	}
	return &p, nil
}
