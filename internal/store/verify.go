package store

// VerifyStats counts what a backend's verification (`gannet verify`) looked
// at and how many problems it reported. Verification is an optional backend
// feature, reached by a type assertion in internal/app
// (docs/ARCHITECTURE.md, "Backups").
type VerifyStats struct {
	Accounts, Mailboxes, Messages int64
	// Bodies counts distinct message contents; BodyBytes sums their sizes.
	Bodies, BodyBytes int64
	// Problems counts the faults reported.
	Problems int64
}
