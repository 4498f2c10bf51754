package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jonboulle/clockwork"

	"taskrunner/models"
	"taskrunner/tasks"
)

// WorkerConfig is what a worker takes from which queues.
type WorkerConfig struct {
	// Queues maps each queue the worker reads to how many of its jobs it
	// runs at once (seed 001's worker number).
	Queues map[string]int
	// Prefetch is how many jobs of a queue a worker takes ahead of a free
	// slot, so the next starts without waiting for a take's round trip.
	// A prefetched job is the worker's: should it die, the job follows
	// its task's on_lost like one it ran (recover: runs elsewhere; drop:
	// lost, not run). 0 takes a job only for a free slot.
	Prefetch int
	// Info is the worker's row info (host, IP, container, ...); the queues
	// are added to it.
	Info map[string]any
	// Join registers the worker's row; nil registers it without a token
	// (the daemon's embedded worker). A standalone worker presents its
	// token there (models.RegisterWorker).
	Join func(ctx context.Context, r models.Replica) error
}

// Validate returns the flag or key at fault, and why.
func (w WorkerConfig) Validate() (string, error) {
	if len(w.Queues) == 0 {
		return "queues", errors.New("no queue to read")
	}
	if w.Prefetch < 0 || w.Prefetch > 10000 {
		return "prefetch", fmt.Errorf("want 0 to 10000 jobs, got %d", w.Prefetch)
	}
	for name, n := range w.Queues {
		if name == "" || !validQueueName(name) {
			return "queues", fmt.Errorf("queue name %q: want 1 to 64 letters, digits, '-', '_' or '.'", name)
		}
		if n < 1 || n > 10000 {
			return "concurrency", fmt.Errorf("queue %s: want 1 to 10000 jobs at once, got %d", name, n)
		}
	}
	return "", nil
}

// Worker takes queued runs from the named queues and runs them: the
// consumer side of the queue, in a `taskrunner worker` process or
// embedded in the daemon. It registers in the replica table (kind
// worker) and beats like a replica; it takes each run's row before
// running it (fenced by its liveness), keeps the run's lease, records
// its outcome as the run's owner (fenced by run id, attempt and owner),
// with the next attempt or child tasks the task calls for, and only then
// acknowledges the job. Should it be declared dead, its runs are the
// rescuers': it cancels what it still runs and registers again.
type Worker struct {
	cfg   Config
	wcfg  WorkerConfig
	db    *models.DB
	tr    Transport
	log   *slog.Logger
	clock clockwork.Clock
	host  string
	total int // jobs of all its queues at once

	registry  *registry
	cache     *taskCache
	completer *completer
	runner    *Runner

	// slots frees, by run, the slot of its queue a taken job holds: when
	// its function returns.
	slotsMu sync.Mutex
	slots   map[int64]func()

	refused chan error // its token refused at a later registration
	// acks feeds the acker; ackerDone is closed when it ends.
	acks      chan ackReq
	ackerDone chan struct{}

	ctx      context.Context // ends at Shutdown: no more fetching
	stop     context.CancelFunc
	wg       sync.WaitGroup // the fetch loops
	inFlight sync.WaitGroup // jobs taken and not yet acknowledged
	started  bool
}

// NewWorker builds a worker on db and tr. Of the options, WithClock,
// WithObserver and WithVersion apply.
func NewWorker(cfg Config, wcfg WorkerConfig, db *models.DB, reg *tasks.Registry, tr Transport, log *slog.Logger, opts ...Option) (*Worker, error) {
	if key, err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("worker: config %s: %w", key, err)
	}
	if key, err := wcfg.Validate(); err != nil {
		return nil, fmt.Errorf("worker: %s: %w", key, err)
	}
	e := &Engine{clock: clockwork.NewRealClock(), obs: NopObserver{}, version: "dev"}
	for _, o := range opts {
		o(e)
	}
	w := &Worker{cfg: cfg, wcfg: wcfg, db: db, tr: tr, log: log.With("component", "worker"), clock: e.clock, host: hostID()}
	info := map[string]any{}
	for k, v := range wcfg.Info {
		info[k] = v
	}
	info["queues"] = wcfg.Queues
	infoJSON, err := jsonText(info)
	if err != nil {
		return nil, fmt.Errorf("worker: info: %w", err)
	}
	w.refused = make(chan error, 1)
	join := wcfg.Join
	if join != nil {
		// Refused again when it registers anew (declared dead, then its
		// token revoked): the worker stops.
		join = func(ctx context.Context, r models.Replica) error {
			err := wcfg.Join(ctx, r)
			if errors.Is(err, models.ErrTokenRefused) {
				select {
				case w.refused <- err:
				default:
				}
			}
			return err
		}
	}
	w.registry = &registry{cfg: cfg, db: db, log: w.log, clock: w.clock, host: w.host, version: e.version,
		kind: models.KindWorker, info: infoJSON, join: join}
	w.cache = newTaskCache(db, cfg, w.log, w.clock)
	w.completer = &completer{db: db, log: w.log, clock: w.clock, obs: e.obs, tab: w.cache, host: w.host}
	for _, n := range wcfg.Queues {
		w.total += n
	}
	w.runner = NewRunner(db, reg, w.log, w.clock, handBack{w: w, next: w.completer}, e.obs, w.total, cfg.OutputLimit, cfg.Lease)
	w.slots = map[int64]func(){}
	w.runner.returned = w.freeSlot
	// Each queue runs at most its concurrency at once, prefetched jobs
	// waiting; the personal queue, at most the worker's total.
	running := map[string]chan struct{}{}
	for name, n := range wcfg.Queues {
		running[name] = make(chan struct{}, n)
	}
	personal := make(chan struct{}, w.total)
	w.runner.queueSlots = func(queue string) chan struct{} {
		if _, ok := personalOwner(queue); ok {
			return personal
		}
		return running[queue]
	}
	w.registry.fenced = func(old string) {
		if n := w.runner.CancelOwner(old, errDeclaredDead); n > 0 {
			w.log.Warn("runs cancelled: this worker lost them when it was declared dead", "count", n)
		}
	}
	return w, nil
}

// ID returns the worker's id in the replica table.
func (w *Worker) ID() string { return w.registry.ID() }

// Start registers the worker and starts taking jobs.
func (w *Worker) Start(ctx context.Context) error {
	if err := w.registry.Start(ctx); err != nil {
		return fmt.Errorf("worker: register: %w", err)
	}
	w.cache.Start()
	w.completer.Start()
	w.runner.Start()
	w.ctx, w.stop = context.WithCancel(context.Background())
	w.acks, w.ackerDone = make(chan ackReq, 1024), make(chan struct{})
	go w.acker()
	go func() {
		for id := range w.tr.Kills(w.ctx) {
			if w.runner.Cancel(id, errors.New("killed by an operator")) {
				w.log.Info("run killed", "exec_id", id)
			}
		}
	}()
	names := make([]string, 0, len(w.wcfg.Queues))
	for name := range w.wcfg.Queues {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		w.wg.Add(1)
		go w.consume(func() string { return name }, w.wcfg.Queues[name])
	}
	// Its personal queue: broadcast runs, and shards spread over workers.
	w.wg.Add(1)
	go w.consume(func() string { return personalQueue(w.ID()) }, w.total)
	w.started = true
	w.log.Info("worker registered", "worker", w.ID(), "host", w.host, "queues", strings.Join(names, ","))
	return nil
}

// Run starts the worker (an error if it cannot register), works until
// ctx ends or its token is refused, then shuts down.
func (w *Worker) Run(ctx context.Context) error {
	if err := w.Start(ctx); err != nil {
		return err
	}
	select {
	case <-ctx.Done():
		return w.Shutdown()
	case err := <-w.refused:
		w.log.Error("worker stops: its token was refused when it registered again (revoked?)")
		return errors.Join(w.Shutdown(), err)
	}
}

// Shutdown stops taking jobs, waits up to ShutdownTimeout for those in
// hand, records the ones it cuts off as interrupted, and marks the worker
// stopped. Jobs received and not yet taken go back to their queue.
func (w *Worker) Shutdown() error {
	if !w.started {
		return nil
	}
	w.started = false
	w.stop()
	w.wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), w.cfg.ShutdownTimeout)
	defer cancel()
	if n := w.runner.Drain(ctx); n > 0 {
		w.log.Warn("shutdown deadline passed; runs interrupted", "count", n)
	}
	acked := make(chan struct{})
	go func() { w.inFlight.Wait(); close(acked) }()
	select {
	case <-acked:
		close(w.acks)
		<-w.ackerDone
	case <-time.After(5 * time.Second):
		w.log.Warn("shutdown: jobs left unacknowledged; the replicas take them back")
	}
	w.completer.Stop()
	w.cache.Stop()
	stopCtx, stopCancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer stopCancel()
	w.registry.Stop(stopCtx)
	w.log.Info("worker stopped")
	return nil
}

// consume takes jobs from one queue, at most n in hand at once. The name
// is read before each receive: a worker's personal queue changes with its
// id.
func (w *Worker) consume(name func() string, n int) {
	defer w.wg.Done()
	slots := make(chan struct{}, n+w.wcfg.Prefetch) // jobs in hand: running, or taken and waiting
	// One taker per queue: what is received while a take is in flight is
	// taken together next, in one statement.
	takes := make(chan received, n)
	w.wg.Add(1)
	go w.taker(takes)
	defer close(takes)
	for w.ctx.Err() == nil {
		// One free slot at least, then as many as are free.
		select {
		case slots <- struct{}{}:
		case <-w.ctx.Done():
			return
		}
		free := 1
		for free < n {
			select {
			case slots <- struct{}{}:
				free++
				continue
			default:
			}
			break
		}
		release := func(k int) {
			for range k {
				<-slots
			}
		}
		queue := name()
		ds, err := w.tr.Receive(w.ctx, queue, w.ID(), free)
		if err != nil {
			release(free)
			w.log.Warn("receive", "queue", queue, "error", err)
			select {
			case <-w.ctx.Done():
			case <-time.After(time.Second):
			}
			continue
		}
		release(free - len(ds))
		if len(ds) > 0 {
			// Taken while the loop receives more: slots freed meanwhile
			// are filled without waiting for this take's round trip.
			takes <- received{queue: queue, ds: ds, done: func() { release(1) }}
		}
	}
}

// received is a receive's jobs, for the taker.
type received struct {
	queue string
	ds    []Delivery
	done  func() // frees one slot
}

// taker takes what consume received, merging the receives that came
// while the previous take was in flight (of one queue name).
func (w *Worker) taker(in <-chan received) {
	defer w.wg.Done()
	for r := range in {
		batch := []received{r}
	more:
		for {
			select {
			case r2, ok := <-in:
				if !ok {
					break more
				}
				batch = append(batch, r2)
			default:
				break more
			}
		}
		byQueue := map[string][]Delivery{}
		var order []string
		for _, b := range batch {
			if byQueue[b.queue] == nil {
				order = append(order, b.queue)
			}
			byQueue[b.queue] = append(byQueue[b.queue], b.ds...)
		}
		for _, q := range order {
			w.take(q, byQueue[q], batch[0].done)
		}
	}
}

// take takes the rows of delivered jobs and runs those it took; the rest
// (stale: taken already, closed) are acknowledged at once.
func (w *Worker) take(queue string, ds []Delivery, done func()) {
	ctx := context.Background()
	ids := make([]int64, 0, len(ds))
	for _, d := range ds {
		if d.Err == nil {
			ids = append(ids, d.Job.RunID)
		}
	}
	owner := w.ID()
	var taken []int64
	// A database that does not answer is waited for until shutdown: the
	// jobs are this consumer's until acknowledged, so given up here they
	// would wait for this worker to stop.
	var err error
	for {
		err = retryTransient(w.ctx, func() (err error) {
			taken, err = models.TakeQueued(ctx, w.db, owner, w.host, uuid.NewString(), ids, w.clock.Now())
			return err
		})
		if err == nil || models.IsPermanent(err) || w.ctx.Err() != nil {
			break
		}
		w.log.Warn("jobs not taken yet: the database does not answer; trying again", "queue", queue, "jobs", len(ds), "error", err)
	}
	if err != nil {
		// Not taken: the jobs stay unacknowledged and the rows queued; once
		// this worker stops (or is declared dead) a replica takes the jobs
		// back from it and sends them again.
		w.log.Error("jobs not taken", "queue", queue, "jobs", len(ds), "error", err)
		for range ds {
			done()
		}
		return
	}
	got := make(map[int64]bool, len(taken))
	for _, id := range taken {
		got[id] = true
	}
	var stale []string
	var jobs []Job
	var jobAck []string
	for _, d := range ds {
		if d.Err != nil || !got[d.Job.RunID] {
			if d.Err != nil {
				w.log.Warn("message dropped: not a job", "queue", queue, "error", d.Err)
			}
			stale = append(stale, d.ID)
			done()
			continue
		}
		delete(got, d.Job.RunID) // the same run sent twice in one batch: run once
		j := d.Job
		j.Owner = owner
		jobs = append(jobs, j)
		jobAck = append(jobAck, d.ID)
	}
	if len(stale) > 0 {
		w.ack(queue, stale)
	}
	if len(jobs) == 0 {
		return
	}
	w.inFlight.Add(len(jobs))
	w.slotsMu.Lock()
	for _, j := range jobs {
		w.slots[j.RunID] = done
	}
	w.slotsMu.Unlock()
	for i, c := range w.runner.Execute(ctx, jobs, nil) {
		go func(c <-chan struct{}, id string, runID int64) {
			<-c
			w.freeSlot(runID) // if the runner did not (it always does)
			w.acks <- ackReq{queue: queue, id: id}
		}(c, jobAck[i], jobs[i].RunID)
	}
}

// ackReq is a job whose outcome is recorded, to acknowledge.
type ackReq struct{ queue, id string }

// acker acknowledges recorded jobs, those that came while an
// acknowledgement was in flight together.
func (w *Worker) acker() {
	defer close(w.ackerDone)
	for r := range w.acks {
		byQueue := map[string][]string{r.queue: {r.id}}
		n := 1
	more:
		for {
			select {
			case r2, ok := <-w.acks:
				if !ok {
					break more
				}
				byQueue[r2.queue] = append(byQueue[r2.queue], r2.id)
				n++
			default:
				break more
			}
		}
		for q, ids := range byQueue {
			w.ack(q, ids)
		}
		for range n {
			w.inFlight.Done()
		}
	}
}

// freeSlot frees the slot a run held, once.
func (w *Worker) freeSlot(runID int64) {
	w.slotsMu.Lock()
	free := w.slots[runID]
	delete(w.slots, runID)
	w.slotsMu.Unlock()
	if free != nil {
		free()
	}
}

func (w *Worker) ack(queue string, ids []string) {
	if err := retryTransient(context.Background(), func() error { return w.tr.Ack(context.Background(), queue, ids) }); err != nil {
		w.log.Warn("jobs not acknowledged; the replicas drop them once this worker is gone", "queue", queue, "jobs", len(ids), "error", err)
	}
}

// taskCache is a worker's view of the task rows its outcomes need for
// their follow-ups (retries, child tasks): every row, read every sync
// interval, and between two reads a row asked for and not known (added
// since) read alone, by id or key. Rows not valid, or whose extra does
// not parse, are not scheduled by the replicas either: they have no
// follow-ups.
type taskCache struct {
	db    *models.DB
	cfg   Config
	log   *slog.Logger
	clock clockwork.Clock

	mu    sync.Mutex
	byID  map[int64]*entry  // nil: known not to be scheduled
	keyed map[string]*entry // the same, by key
	loop  loop
}

func newTaskCache(db *models.DB, cfg Config, log *slog.Logger, clock clockwork.Clock) *taskCache {
	return &taskCache{db: db, cfg: cfg, log: log, clock: clock, byID: map[int64]*entry{}, keyed: map[string]*entry{}}
}

func (c *taskCache) Start() {
	c.reload()
	c.loop.every(c.clock, c.cfg.SyncInterval, nil, c.reload)
}

func (c *taskCache) Stop() { c.loop.halt() }

// reload reads every row; what cannot be read now stays as it was.
func (c *taskCache) reload() {
	rows, err := models.ListTasks(context.Background(), c.db)
	if err != nil {
		c.log.Warn("read task table", "error", err)
		return
	}
	byID, keyed := make(map[int64]*entry, len(rows)), make(map[string]*entry, len(rows))
	for _, t := range rows {
		ent := c.scheduled(t)
		byID[t.ID] = ent
		if ent == nil {
			continue
		}
		if other := keyed[t.Key]; other == nil || t.ID < other.task.ID {
			keyed[t.Key] = ent // of two valid rows of a key, the lower id runs
		}
	}
	c.mu.Lock()
	c.byID, c.keyed = byID, keyed
	c.mu.Unlock()
}

func (c *taskCache) options(id int64) (taskOptions, bool) {
	ent := c.get(func() (*entry, bool) { v, ok := c.byID[id]; return v, ok },
		func(ctx context.Context) (models.Task, error) { return models.GetTask(ctx, c.db, id) },
		func(v *entry) { c.byID[id] = v })
	if ent == nil {
		return taskOptions{}, false
	}
	return ent.opts, true
}

func (c *taskCache) byKey(key string) (*entry, time.Time, bool) {
	ent := c.get(func() (*entry, bool) { v, ok := c.keyed[key]; return v, ok },
		func(ctx context.Context) (models.Task, error) { return models.GetTaskByKey(ctx, c.db, key) },
		func(v *entry) { c.keyed[key] = v })
	return ent, time.Time{}, ent != nil
}

// get returns the cached entry, or, for a row not known, reads that row
// alone and keeps what it found (until the next reload).
func (c *taskCache) get(look func() (*entry, bool), read func(context.Context) (models.Task, error), store func(*entry)) *entry {
	c.mu.Lock()
	ent, ok := look()
	c.mu.Unlock()
	if ok {
		return ent
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	t, err := read(ctx)
	switch {
	case errors.Is(err, models.ErrTaskNotFound):
	case err != nil:
		c.log.Warn("read task row", "error", err)
		return nil // not kept: read again when asked again
	default:
		ent = c.scheduled(t)
	}
	c.mu.Lock()
	store(ent)
	c.mu.Unlock()
	return ent
}

// scheduled is the entry of a row the replicas schedule, with its
// options; nil for one they do not.
func (c *taskCache) scheduled(t models.Task) *entry {
	if t.IsValid != 1 {
		return nil
	}
	opts, _, err := parseOptions(t.Extra, time.UTC, c.cfg.Defaults)
	if err != nil {
		return nil
	}
	return &entry{task: t, opts: opts}
}

// jsonText is v as JSON text.
func jsonText(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

// handBack records the outcomes of a worker's runs, but for a run its
// shutdown cut off whose task would recover it from a dead worker: that
// one goes back on its queue, the same attempt, for another worker.
type handBack struct {
	w    *Worker
	next Recorder
}

func (h handBack) Record(job Job, f models.Finish, noRetry bool) {
	if f.Status == models.RunInterrupted {
		if queue, ok := h.w.recoverTo(job); ok {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			note := fmt.Sprintf("handed back: worker %s shut down before it ended; sent again to queue %s", job.Owner, queue)
			if ok, err := models.RecoverRun(ctx, h.w.db, job.RunID, job.Owner, queue, note, h.w.clock.Now()); err == nil && ok {
				h.w.log.Info("run handed back to its queue at shutdown", "task_key", job.TaskKey, "exec_id", job.RunID, "queue", queue)
				return
			}
		}
	}
	h.next.Record(job, f, noRetry)
}

// recoverTo returns the queue a run of this worker goes back to when it
// cannot finish here, and whether it does: as the rescuer decides for a
// dead worker's run (entry.recovers).
func (w *Worker) recoverTo(job Job) (string, bool) {
	opts, ok := w.cache.options(job.TaskID)
	if !ok || job.Queue == "" {
		return "", false
	}
	ent := entry{opts: opts}
	if !ent.recovers(models.ExecuteTask{ShardTotal: job.Shards}) {
		return "", false
	}
	queue := job.Queue
	if _, personal := personalOwner(queue); personal {
		queue = opts.Queue
		if queue == "" {
			queue = DefaultQueue
		}
	}
	return queue, true
}
