// Package sieve compiles and runs Sieve mail filtering scripts (RFC 5228) with
// the extensions users and clients rely on: fileinto, reject and ereject
// (RFC 5429), envelope, encoded-character, imap4flags (RFC 5232), copy
// (RFC 3894), body (RFC 5173), variables (RFC 5229), date and index (RFC
// 5260), relational (RFC 5231), subaddress (RFC 5233), mailbox (RFC 5490),
// vacation and vacation-seconds (RFC 5230, 6131), include (RFC 6609),
// editheader (RFC 5293), duplicate (RFC 7352), spamtest, spamtestplus and
// virustest (RFC 5235), environment (RFC 5183) and enotify with the mailto
// method (RFC 5435, 5436).
//
// Compile validates a script completely (syntax, commands, tags, argument
// types, capabilities), as an upload needs; errors are *Error values with the
// line and column. Script.Run evaluates a compiled script against a Message
// and returns a Result: the actions for the caller to perform, with the
// implicit keep and RFC 5228 2.10's rules applied. Nothing here touches the
// store or the network: mailbox existence, duplicate and vacation tracking,
// included scripts and the clock come through Env callbacks.
//
// Invariants: no input makes Compile or Run panic or work without bound. The
// source size, nesting depth, number of actions and redirects, steps per run
// (includes counted), include depth, variable sizes and the text a test
// compares are all limited by Options; :matches runs without backtracking
// (see glob). A *Script is immutable and safe for concurrent runs; the package
// has no state.
package sieve
