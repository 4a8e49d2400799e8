package imapwire

import (
	"errors"
	"strconv"
	"time"
)

// DateTimeLayout is the IMAP date-time without its quotes (RFC 9051 9:
// date-time), as INTERNALDATE is sent.
const DateTimeLayout = "02-Jan-2006 15:04:05 -0700"

// ErrDate is the error of ParseDate and ParseDateTime.
var ErrDate = errors.New("imapwire: invalid date")

// FormatDateTime formats t as an IMAP date-time, without quotes, in t's own
// zone, e.g. "17-Jul-1996 02:44:25 -0700".
func FormatDateTime(t time.Time) string { return t.Format(DateTimeLayout) }

// ParseDateTime parses a date-time without quotes (RFC 9051 9: date-day-fixed
// "-" date-month "-" date-year SP time SP zone). The day may be " 7", "07" or,
// leniently, "7"; month names are case-insensitive.
func ParseDateTime(s string) (time.Time, error) {
	if len(s) > 0 && s[0] == ' ' {
		s = s[1:]
	}
	y, m, d, rest, ok := parseDateText(s)
	// rest = SP 2DIGIT ":" 2DIGIT ":" 2DIGIT SP ("+" / "-") 4DIGIT
	if !ok || len(rest) != 15 || rest[0] != ' ' || rest[3] != ':' || rest[6] != ':' || rest[9] != ' ' {
		return time.Time{}, ErrDate
	}
	hh, ok1 := digits2(rest[1:3])
	mm, ok2 := digits2(rest[4:6])
	ss, ok3 := digits2(rest[7:9])
	zh, ok4 := digits2(rest[11:13])
	zm, ok5 := digits2(rest[13:15])
	sign := rest[10]
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || hh > 23 || mm > 59 || ss > 60 || zh > 23 || zm > 59 || (sign != '+' && sign != '-') {
		return time.Time{}, ErrDate
	}
	if ss == 60 {
		ss = 59 // a leap second; time.Time cannot hold it
	}
	off := (zh*60 + zm) * 60
	if sign == '-' {
		off = -off
	}
	return time.Date(y, m, d, hh, mm, ss, 0, time.FixedZone("", off)), nil
}

// ParseDate parses a date-text (RFC 9051 9: date-day "-" date-month "-"
// date-year, e.g. "1-Feb-1994") as midnight UTC of that day: SEARCH compares
// dates without time or zone (RFC 9051 6.4.4).
func ParseDate(s string) (time.Time, error) {
	y, m, d, rest, ok := parseDateText(s)
	if !ok || rest != "" {
		return time.Time{}, ErrDate
	}
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC), nil
}

// parseDateText parses 1*2DIGIT "-" month "-" 4DIGIT at the start of s.
func parseDateText(s string) (year int, month time.Month, day int, rest string, ok bool) {
	i := 0
	for i < len(s) && i < 2 && isDigit(s[i]) {
		day = day*10 + int(s[i]-'0')
		i++
	}
	if i == 0 || len(s) < i+9 || s[i] != '-' || s[i+4] != '-' {
		return 0, 0, 0, "", false
	}
	month = parseMonth(s[i+1 : i+4])
	y, err := strconv.Atoi(s[i+5 : i+9])
	if month == 0 || err != nil || !isDigit(s[i+5]) || !isDigit(s[i+8]) || y < 1 {
		return 0, 0, 0, "", false
	}
	if day < 1 || day > daysIn(month, y) {
		return 0, 0, 0, "", false
	}
	return y, month, day, s[i+9:], true
}

func parseMonth(s string) time.Month {
	for m := time.January; m <= time.December; m++ {
		name := m.String()[:3]
		if upperASCII(s[0]) == upperASCII(name[0]) && upperASCII(s[1]) == upperASCII(name[1]) && upperASCII(s[2]) == upperASCII(name[2]) {
			return m
		}
	}
	return 0
}

func daysIn(m time.Month, year int) int {
	return time.Date(year, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

func digits2(s string) (int, bool) {
	if len(s) != 2 || !isDigit(s[0]) || !isDigit(s[1]) {
		return 0, false
	}
	return int(s[0]-'0')*10 + int(s[1]-'0'), true
}
