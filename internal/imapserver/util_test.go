package imapserver_test

import "strconv"

func itoa(n int) string      { return strconv.Itoa(n) }
func uitoa(n uint32) string  { return strconv.FormatUint(uint64(n), 10) }
func u64toa(n uint64) string { return strconv.FormatUint(n, 10) }
