package smtpclient

import "bufio"

// writeData writes msg as SMTP message content followed by the end-of-data
// indicator "<CRLF>.<CRLF>" (RFC 5321 4.1.1.4).
//
// Every line ending goes out as CRLF: a bare LF or bare CR becomes CRLF
// (RFC 5321 2.3.8 forbids them on the wire), so no byte sequence in msg can
// look like an end of data to a server that accepts bare line endings (the
// "SMTP smuggling" family of attacks). A line that starts with "." gets a
// second one (RFC 5321 4.5.2), and a message not ending in a line break gets
// one so that the final "." is on a line of its own.
func writeData(w *bufio.Writer, msg []byte) error {
	bol := true // at the beginning of a line
	for i := 0; i < len(msg); i++ {
		ch := msg[i]
		if bol && ch == '.' {
			if err := w.WriteByte('.'); err != nil {
				return err
			}
		}
		switch ch {
		case '\r':
			if i+1 < len(msg) && msg[i+1] == '\n' {
				i++
			}
			if _, err := w.WriteString("\r\n"); err != nil {
				return err
			}
			bol = true
			continue
		case '\n':
			if _, err := w.WriteString("\r\n"); err != nil {
				return err
			}
			bol = true
			continue
		}
		// Copy the rest of the line in one call.
		j := i
		for j < len(msg) && msg[j] != '\r' && msg[j] != '\n' {
			j++
		}
		if _, err := w.Write(msg[i:j]); err != nil {
			return err
		}
		i = j - 1
		bol = false
	}
	if !bol {
		if _, err := w.WriteString("\r\n"); err != nil {
			return err
		}
	}
	_, err := w.WriteString(".\r\n")
	return err
}
