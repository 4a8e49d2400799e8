-- Queue leases (issue 14 section 3; pgstore/queuelease.go). QueueDue asks,
-- for every candidate recipient, whether another node holds a live lease in
-- its domain: only leased rows are of interest, a handful beside the queue.
-- QueueNextAttempt asks for the earliest recipient of each such domain.
CREATE INDEX queue_recipients_leased ON queue_recipients(domain, lease_until) WHERE lease_owner <> '';
CREATE INDEX queue_recipients_domain ON queue_recipients(domain, next_attempt);
