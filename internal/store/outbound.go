package store

// Outbound is a message to relay to remote recipients through the queue: what
// submission, webmail and alias expansion hand over once local recipients are
// delivered. The queue makes it durable before Enqueue returns.
type Outbound struct {
	From       string   // envelope sender (RFC 5321 MAIL FROM); "" for a bounce
	Recipients []string // remote envelope recipients
	Raw        []byte   // the message, with our Received: field already added
	AccountID  int64    // the sending account, for DSNs into its INBOX; 0 if none (relayed by alias)
	// DSN parameters (RFC 3461), passed on to the next hop when it supports DSN.
	EnvID  string            // ENVID
	Ret    string            // RET: "FULL", "HDRS" or ""
	Notify map[string]string // per recipient NOTIFY value, e.g. "SUCCESS,FAILURE"
	ORcpt  map[string]string // per recipient ORCPT value
}
