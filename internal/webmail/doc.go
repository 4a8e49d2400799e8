// Package webmail is Gannet's web interface: a JSON API, a server-sent event
// stream fed by the store's change feed, and a static single-page UI embedded
// with go:embed (plain JavaScript modules and CSS; no build step).
//
// Security model and invariants:
//   - Every API call runs as the account of its session and passes that
//     account's ID to the store, which checks ownership of every mailbox ID.
//     A mailbox or message that belongs to another account answers exactly
//     like one that does not exist (same status, same body), so IDs cannot be
//     probed.
//   - Sessions live in memory only. The cookie carries a random token and an
//     HMAC of it under a per-process key; it is HttpOnly, SameSite=Strict, and
//     Secure (with the __Host- prefix) under TLS.
//   - Every state-changing request must pass net/http's cross-origin check
//     (Sec-Fetch-Site / Origin) and, once logged in, carry the session's CSRF
//     token in the X-CSRF-Token header. GET requests never change state.
//   - Message HTML is never served to the app's own origin as a document that
//     could run: it is rebuilt by a parse and a bluemonday policy, and served
//     on its own URL with a CSP that forbids scripts, forms, frames and every
//     load except data: images (and, only when the user asks, remote images),
//     plus a CSP sandbox, for an iframe that is itself sandboxed.
//   - Client-visible error texts are fixed strings; causes go to the log.
//   - The server holds no state another node could not rebuild, except the
//     sessions (users log in again after a restart).
package webmail
