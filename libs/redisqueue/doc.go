// Package redisqueue is the transport of queued runs: it carries a run's
// ids from the scheduler to a worker over Redis, and nothing else. The
// run's row in the database stays the source of truth: a message holds
// the run id, the attempt and the trace id (and, optionally, a copy of the
// job as the caller's payload), and whoever reads one claims the row
// before running it, so a message delivered twice, or late, is recognised
// there and dropped.
//
// # Design: Streams with consumer groups
//
// Each named queue is one stream, {prefix:queue}:jobs, read by one
// consumer group, workers; a worker's consumer name is its worker id.
// The braces are a hash tag: every key of one queue lands in one Cluster
// slot, so the multi-command steps (ack and delete, extend) stay atomic
// under Cluster. A Consumer reads one queue: one XREADGROUP over several
// queues would span slots, which Cluster refuses.
//
//   - Enqueue is XADD. Fetch is XREADGROUP: the entry enters the group's
//     pending entries list (PEL), owned by the consumer, with a delivery
//     count and an idle time.
//   - Ack is XACK and XDEL in one MULTI, after the outcome is recorded:
//     the stream only ever holds jobs queued or in hand, so nothing needs
//     trimming (XTRIM before Redis 8.2 drops entries still pending).
//   - Extend is XCLAIM … JUSTID to the owner itself, which resets the idle
//     time without counting a delivery; a script first checks the owner,
//     so a worker whose job was taken from it cannot take it back.
//   - Reclaim is XAUTOCLAIM: entries idle longer than minIdle (their worker
//     died, or stopped extending) move to the caller. The first claim
//     resets the idle time, so two reapers never take the same entry. The
//     delivery count (XPENDING) tells a job delivered more than
//     maxDeliveries times: it is given up, for the caller to mark lost or
//     run again by the task's policy.
//   - ReclaimFrom takes over at once the jobs of a consumer the registry
//     declared dead (a script lists and claims them in one step, so two
//     reapers never share one); RemoveConsumer then forgets it, refusing
//     while anything is pending for it (XGROUP DELCONSUMER would drop
//     those entries from the group, and nobody would be given them again).
//
// Redis restarted empty, or the stream evicted: a Fetch that finds no
// group creates it again (XGROUP CREATE … MKSTREAM, from the start of the
// stream so entries added before it are read), and the rows still queued
// are re-enqueued from the database by the caller.
//
// # Why not lists and a lease ZSET
//
// The other design (Asynq, BullMQ, the redis.io job-queue guide) keeps a
// pending list, moves a job into an active list with BLMOVE, and writes
// its lease deadline into a ZSET; a recoverer returns jobs whose lease
// expired. It gives delays and priorities, which taskrunner does not
// need of Redis (the database holds not_before; the scheduler enqueues
// at fire time). Its failure modes:
//   - every move between the lists and the ZSET spans keys and must be a
//     Lua script; a crash or a bug between the steps leaves a job in the
//     active list with no lease, stuck until someone looks (Asynq #717,
//     #1051, #1144 are that class of report);
//   - nothing counts deliveries, so a job that kills its worker is
//     retried forever unless the scripts keep a counter too;
//   - a recoverer that moves expired jobs must itself be made exclusive,
//     or two move the same job twice.
//
// Streams have these in the server: the PEL is the active set and the
// lease together, XAUTOCLAIM the exclusive recoverer, the delivery count
// the poison-job detector. What Streams lack (delays, priorities, removal
// of one queued job) taskrunner keeps in the database.
//
// # Supported servers
//
// Redis 6.2 and 7.x: XAUTOCLAIM and XPENDING … IDLE need 6.2. Nothing
// from 8.x is used (XACKDEL, XREADGROUP … CLAIM); with 8.2+, XACKDEL could
// replace XACK and XDEL.
//
// The server must keep what it is given: maxmemory-policy noeviction and
// persistence on; redispool.CheckServer warns otherwise.
package redisqueue
