//! The job table as a queue. TODO(helper A): enqueue (merging into a waiting job), claim
//! (FOR UPDATE SKIP LOCKED, due or lease expired), renew, finish, retry with backoff, fail.
