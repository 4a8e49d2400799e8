package pgstore

// The advisory lock keys pgstore uses, in one place so that no two uses
// share a key by accident (an advisory lock is just a number: two features
// on one key would serialise each other, or worse, one would release the
// other's). Single-bigint keys; accounts.go also locks addresses in the
// two-int key space under addressLockSpace, which cannot meet these.
const (
	// migrateLock: schema migrations run under it (session lock), so that
	// nodes starting together apply each migration once (migrate.go).
	migrateLock = 7305500
	// authChangeLock: the schema's trigger gannet_auth_change
	// (migrations/0001_initial.sql, which spells the number out) holds it
	// from taking a sequence number to commit; AuthChanges waits for it
	// (authchanges.go).
	authChangeLock = 7305501
	// addressLockSpace: the first key of the two-int address locks that
	// keep account and alias creation of one address apart (accounts.go).
	addressLockSpace = 7305502
	// queueLeaseLock serialises queue leasing across nodes, so that the
	// one-domain-per-instance rule holds (queuelease.go).
	queueLeaseLock = 7305503
	// webSessionsLock serialises CreateWebSession across nodes, so that
	// two logins at once cannot both keep an account under its bound by
	// counting the same rows (websessions.go). Logins are rare enough for
	// one lock.
	webSessionsLock = 7305504
	// loginEventsLock is held by AddLoginEvents to commit, so that
	// sequence order is commit order for LoginEvents' cursor
	// (loginevents.go).
	loginEventsLock = 7305505
)
