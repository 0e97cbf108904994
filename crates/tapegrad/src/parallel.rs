//! Fork-join for the engine's own splits (the GEMM's column halves, the convolution's image groups, the
//! optimizers' halves): the calling thread runs one part itself and hands the others to helper threads that
//! keep spinning for a short while after each job, so the next part handed to them starts within a
//! microsecond instead of waiting for a sleeping thread to be woken.
//!
//! Why not rayon's pool (which the `gemm` crate's own threading still uses): a rayon worker sleeps after a
//! few dozen idle rounds, and a training step hands out a large product every millisecond or two with
//! one-threaded work in between, so each product waited for wake-ups: from outside the pool, one for the
//! worker, one for the second worker to steal the other half, one for the blocked calling thread. On the
//! 2-core VM of `docs/performance.md` ("Seventh round") a `256 x 1024 x 1024` product split in two took
//! 1.39-1.53 ms through a spinning helper and 1.44-3.06 ms (median) through `rayon::join` when 100-300 us
//! of one-threaded work came before it, often as long as one thread alone. OpenMP runtimes (which MKL
//! uses) spin the same way; `chili`, the low-latency alternative to rayon, shares work on a heartbeat and
//! still puts idle threads to sleep.
//!
//! - A helper spins for [`SPIN`] after its last job (yielding its core to other runnable threads between
//!   checks), then parks until a caller unparks it.
//! - A part that no helper has started by the time the caller finishes its own part is taken back and run
//!   by the caller: a helper that was parked, or descheduled by a busy machine, never makes the call slower
//!   than running both parts on one thread (apart from the hand-over itself).
//! - There are [`num_threads`]` - 1` helpers at most, started on first use. A part that finds no free helper
//!   (another caller has them all) runs on the calling thread after its own part: never a wait for a
//!   busy helper, so nested and concurrent calls cannot deadlock.
//! - A panic in any part is caught, the other parts are waited for (they may borrow the caller's stack),
//!   then the first panic is resumed on the calling thread.

use crate::kernels::gemm::num_threads;
use std::any::Any;
use std::cell::UnsafeCell;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::thread::Thread;
use std::time::{Duration, Instant};

/// How long a helper keeps checking for a new job after finishing one before it parks: longer than the
/// one-threaded stretches between a training step's large products (up to a few hundred microseconds),
/// short enough that an idle program stops using the cores almost at once.
pub const SPIN: Duration = Duration::from_millis(2);

/// The most helpers a process starts (a cap above any core count this library is tuned for).
const MAX_HELPERS: usize = 63;

/// A job's state in its helper's slot.
const IDLE: u8 = 0;
const POSTED: u8 = 1;
const RUNNING: u8 = 2;
const DONE: u8 = 3;

/// A part handed to a helper: a type-erased pointer to the caller's closure, which lives on the caller's
/// stack until the caller has seen `DONE`.
#[derive(Clone, Copy)]
struct JobPtr(*mut (dyn FnMut() + Send + 'static));

/// One helper thread's mailbox.
struct Helper {
    /// Held by the caller that posted a job here, from claiming to collecting the result.
    claimed: AtomicBool,
    state: AtomicU8,
    /// Set by the helper just before it parks; a caller that posts a job and sees it unparks the helper.
    sleeping: AtomicBool,
    job: UnsafeCell<Option<JobPtr>>,
    /// The helper's thread, started on first claim (`None` if the operating system refused it).
    thread: OnceLock<Option<Thread>>,
}

// SAFETY: `job` is written only by the caller holding `claimed` while the helper cannot read it (state
// `IDLE`, or `POSTED` taken back to `IDLE` by the caller's compare-exchange), and read only by the helper
// after its own compare-exchange from `POSTED` to `RUNNING` (acquire, pairing with the caller's store of
// `POSTED`); the caller does not touch it again until it has seen `DONE`. The pointer it holds is sent to
// the helper thread, which is sound because the closure behind it is `Send` (see `JobPtr`'s construction in
// `join`).
unsafe impl Sync for Helper {}

#[allow(clippy::declare_interior_mutable_const)]
const NEW_HELPER: Helper = Helper {
    claimed: AtomicBool::new(false),
    state: AtomicU8::new(IDLE),
    sleeping: AtomicBool::new(false),
    job: UnsafeCell::new(None),
    thread: OnceLock::new(),
};

static HELPERS: [Helper; MAX_HELPERS] = [NEW_HELPER; MAX_HELPERS];

/// Runs `a` on the calling thread and `b` on a helper thread when [`num_threads`] is at least 2 and a
/// helper is free, otherwise both on the calling thread (`a` first). Returns both results; a panic in
/// either is resumed here once both have finished.
///
/// ```
/// let v: Vec<u64> = (0..1000).collect();
/// let (lo, hi) = v.split_at(500);
/// let (a, b) = tapegrad::parallel::join(|| lo.iter().sum::<u64>(), || hi.iter().sum::<u64>());
/// assert_eq!(a + b, 499_500);
/// ```
pub fn join<A, B, RA, RB>(a: A, b: B) -> (RA, RB)
where
    A: FnOnce() -> RA + Send,
    B: FnOnce() -> RB + Send,
    RA: Send,
    RB: Send,
{
    let Some(helper) = claim() else { return (a(), b()) };
    let mut b = Some(b);
    let mut rb: Option<std::thread::Result<RB>> = None;
    let mut part = || {
        if let Some(b) = b.take() {
            rb = Some(catch_unwind(AssertUnwindSafe(b)));
        }
    };
    let part: &mut (dyn FnMut() + Send + '_) = &mut part;
    // SAFETY: only the lifetime is erased. The closure is called once, either by the helper while this frame
    // waits in `collect` below (also when `a` panics: its panic is caught first), `collect` returning only
    // after the helper has stored `DONE`, its last access; or by `collect` itself on this thread when the
    // helper had not started it. So the borrow outlives every use.
    let job = JobPtr(unsafe {
        std::mem::transmute::<*mut (dyn FnMut() + Send + '_), *mut (dyn FnMut() + Send + 'static)>(part)
    });
    post(helper, job);
    let ra = catch_unwind(AssertUnwindSafe(a));
    collect(helper, job);
    let rb = rb.unwrap_or_else(|| Err(Box::new("invariant: a helper ran its part") as Box<dyn Any + Send>));
    match (ra, rb) {
        (Ok(ra), Ok(rb)) => (ra, rb),
        (Err(p), _) | (_, Err(p)) => resume_unwind(p),
    }
}

/// Runs `f` on every item, spread over the calling thread and up to [`num_threads`]` - 1` helpers: the items
/// are split into that many contiguous runs, the first run on the calling thread. Each run calls `f` on its
/// items in order. A panic in any call is resumed here once every run has finished.
///
/// ```
/// use std::sync::atomic::{AtomicU64, Ordering};
/// let total = AtomicU64::new(0);
/// tapegrad::parallel::for_each((1..=10u64).collect(), |i| {
///     total.fetch_add(i, Ordering::Relaxed);
/// });
/// assert_eq!(total.into_inner(), 55);
/// ```
pub fn for_each<P: Send>(items: Vec<P>, f: impl Fn(P) + Sync) {
    let runs = num_threads().min(items.len()).max(1);
    split(items, runs, &f);
}

/// Calls `f(offset, chunk)` on `out` cut into one contiguous chunk per thread (each cut at a multiple of
/// `align` elements from the start; `offset` is the chunk's first index in `out`) when `split` is true and
/// [`num_threads`] is more than 1; otherwise once, on the whole of `out`. For elementwise loops, whose
/// results then do not depend on the cut.
pub(crate) fn chunks_mut<T: Send>(out: &mut [T], align: usize, split: bool, f: impl Fn(usize, &mut [T]) + Sync) {
    let align = align.max(1);
    let parts = if split { num_threads().min(out.len() / align).max(1) } else { 1 };
    if parts == 1 {
        return f(0, out);
    }
    let blocks = out.len() / align;
    let mut chunks = Vec::with_capacity(parts);
    let (mut rest, mut at) = (out, 0);
    for i in 1..parts {
        let cut = cut(blocks, i, parts) * align;
        let (chunk, tail) = rest.split_at_mut(cut - at);
        chunks.push((at, chunk));
        (rest, at) = (tail, cut);
    }
    chunks.push((at, rest));
    for_each(chunks, |(at, chunk)| f(at, chunk));
}

/// [`for_each`] over `runs` runs: the first half of the runs here, the rest through [`join`] (so with more
/// than two runs the helpers split their share again).
fn split<P: Send>(mut items: Vec<P>, runs: usize, f: &(impl Fn(P) + Sync)) {
    if runs <= 1 {
        items.into_iter().for_each(f);
        return;
    }
    let left_runs = runs / 2;
    let right = items.split_off(cut(items.len(), left_runs, runs));
    join(|| split(items, left_runs, f), || split(right, runs - left_runs, f));
}

/// `floor(len i / parts)` without the product `len i` (which could overflow): where part `i` of `len` items
/// cut into `parts` near-equal contiguous parts begins (`i <= parts`, `parts > 0`).
pub(crate) fn cut(len: usize, i: usize, parts: usize) -> usize {
    len / parts * i + len % parts * i / parts
}

/// A free helper, claimed for one job; `None` with a cap of one thread or when every helper is taken.
fn claim() -> Option<&'static Helper> {
    let helpers = num_threads().saturating_sub(1).min(MAX_HELPERS);
    HELPERS[..helpers].iter().find(|h| {
        if h.claimed.compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed).is_err() {
            return false;
        }
        let started = h.thread.get_or_init(|| start(h)).is_some();
        if !started {
            h.claimed.store(false, Ordering::Release);
        }
        started
    })
}

/// Starts a helper's thread; `None` if the operating system refuses (the helper is then never used).
fn start(h: &'static Helper) -> Option<Thread> {
    let spawned = std::thread::Builder::new().name("tapegrad-helper".into()).spawn(move || serve(h));
    spawned.ok().map(|handle| handle.thread().clone())
}

fn post(h: &Helper, job: JobPtr) {
    // SAFETY: this caller holds `claimed` and the state is `IDLE` (every job ends with `collect`, which resets
    // it), so the helper is not reading `job` now and reads it only after the store of `POSTED` below.
    unsafe { *h.job.get() = Some(job) };
    h.state.store(POSTED, Ordering::SeqCst);
    // Pairs with the helper's `sleeping` store and `state` check before it parks: with both sequentially
    // consistent, either the helper sees `POSTED` or this sees `sleeping`.
    if h.sleeping.load(Ordering::SeqCst)
        && let Some(Some(t)) = h.thread.get()
    {
        t.unpark();
    }
}

/// Takes the part back and runs it here if the helper has not started it; otherwise waits for the helper's
/// `DONE` (spinning: the part is at most as long as the caller's own). Then frees the helper.
fn collect(h: &Helper, job: JobPtr) {
    if h.state.compare_exchange(POSTED, IDLE, Ordering::AcqRel, Ordering::Acquire).is_ok() {
        // SAFETY: the helper had not taken the job (it takes it only by moving `POSTED` to `RUNNING`, which
        // can no longer succeed), so it will not read the slot or call the closure; this thread owns both.
        unsafe {
            *h.job.get() = None;
            (*job.0)();
        }
        h.claimed.store(false, Ordering::Release);
        return;
    }
    let mut spins = 0u32;
    while h.state.load(Ordering::Acquire) != DONE {
        spins = spins.wrapping_add(1);
        if spins.is_multiple_of(64) {
            std::thread::yield_now();
        } else {
            std::hint::spin_loop();
        }
    }
    h.state.store(IDLE, Ordering::Relaxed);
    h.claimed.store(false, Ordering::Release);
}

/// A helper thread's loop: wait for a job (spinning for [`SPIN`], then parked), run it, report `DONE`.
fn serve(h: &'static Helper) {
    loop {
        wait_for_job(h);
        // SAFETY: this thread moved the state from `POSTED` to `RUNNING` (acquire), so the caller has written
        // `job`, can no longer take it back, and waits in `collect` until `DONE` is stored below; the closure
        // behind the pointer lives until then.
        if let Some(job) = unsafe { (*h.job.get()).take() } {
            // SAFETY: as above; the closure catches its own panics, so this call returns.
            unsafe { (*job.0)() };
        }
        h.state.store(DONE, Ordering::Release);
    }
}

/// Returns once this helper has taken a posted job (moved the state from `POSTED` to `RUNNING`).
fn wait_for_job(h: &Helper) {
    let start = Instant::now();
    let mut spins = 0u32;
    loop {
        if h.state.load(Ordering::Relaxed) == POSTED
            && h.state.compare_exchange(POSTED, RUNNING, Ordering::Acquire, Ordering::Relaxed).is_ok()
        {
            return;
        }
        spins = spins.wrapping_add(1);
        if !spins.is_multiple_of(64) {
            std::hint::spin_loop();
            continue;
        }
        if start.elapsed() < SPIN {
            std::thread::yield_now();
            continue;
        }
        h.sleeping.store(true, Ordering::SeqCst);
        if h.state.load(Ordering::SeqCst) != POSTED {
            std::thread::park();
        }
        h.sleeping.store(false, Ordering::SeqCst);
    }
}

#[cfg(test)]
#[path = "parallel_tests.rs"]
mod tests;
