package sieve

import (
	"strconv"
	"strings"
	"time"

	"gannet/internal/message"
)

// datePartNames are the date-part values of RFC 5260 4.2.
func validDatePart(p string) bool {
	switch strings.ToLower(p) {
	case "year", "month", "day", "date", "julian", "hour", "minute", "second",
		"time", "iso8601", "std11", "zone", "weekday":
		return true
	}
	return false
}

// mjdEpoch is 1858-11-17T00:00:00Z, day 0 of the Modified Julian Day (RFC 5260 4.2).
const mjdEpoch = -3506716800

// datePart formats t as one date-part (RFC 5260 4.2).
func datePart(t time.Time, part string) string {
	switch strings.ToLower(part) {
	case "year":
		return t.Format("2006")
	case "month":
		return t.Format("01")
	case "day":
		return t.Format("02")
	case "date":
		return t.Format("2006-01-02")
	case "julian":
		// Days of the local date since the epoch: take the wall clock as UTC.
		y, m, d := t.Date()
		days := time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() - mjdEpoch
		return strconv.FormatInt(days/86400, 10)
	case "hour":
		return t.Format("15")
	case "minute":
		return t.Format("04")
	case "second":
		return t.Format("05")
	case "time":
		return t.Format("15:04:05")
	case "iso8601":
		return t.Format("2006-01-02T15:04:05-07:00")
	case "std11":
		return t.Format("Mon, 02 Jan 2006 15:04:05 -0700")
	case "zone":
		return t.Format("-0700")
	case "weekday":
		return strconv.Itoa(int(t.Weekday()))
	}
	return ""
}

// parseZone reads a :zone argument, "+hhmm" or "-hhmm" (RFC 5260 4.1).
func parseZone(z string) (*time.Location, bool) {
	if len(z) != 5 || (z[0] != '+' && z[0] != '-') || !isDigits(z[1:]) {
		return nil, false
	}
	h, _ := strconv.Atoi(z[1:3])
	m, _ := strconv.Atoi(z[3:5])
	if h > 23 || m > 59 {
		return nil, false
	}
	off := (h*60 + m) * 60
	if z[0] == '-' {
		off = -off
	}
	return time.FixedZone(z, off), true
}

// zone returns the zone dates are shown in: :zone, else the Env's location.
func (st *runState) zone(fr *frame, n *cnode) *time.Location {
	if a, ok := n.tags["zone"]; ok {
		if loc, ok := parseZone(fr.str(st, a)); ok {
			return loc
		}
	}
	if st.env.Location != nil {
		return st.env.Location
	}
	return time.UTC
}

// dateValues returns the date-part of each date header the date test looks at
// (RFC 5260 4): for Received, the date after the last ";"; values that are no
// date are skipped.
func (st *runState) dateValues(fr *frame, n *cnode) []string {
	name := fr.str(st, n.args[0])
	part := fr.str(st, n.args[1])
	loc := st.zone(fr, n)
	var out []string
	for _, v := range pickIndex(n, headerValues(st.header, name)) {
		if strings.EqualFold(name, "received") {
			if i := strings.LastIndexByte(v, ';'); i >= 0 {
				v = v[i+1:]
			}
		}
		t := message.ParseDate(v)
		if t.IsZero() {
			continue
		}
		if !n.has("originalzone") {
			t = t.In(loc)
		}
		out = append(out, datePart(t, part))
	}
	return out
}
