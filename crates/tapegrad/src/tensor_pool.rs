//! Large tensor buffers recycled per thread: the storage of a dropped tensor goes back to its thread's pool
//! and the next tensor of about its size takes it, instead of a fresh allocation.
//!
//! Why: a training step records a tape whose values and gradients are freed together when the step ends.
//! The system allocator then hands the freed megabytes back to the kernel (glibc trims the top of its heap
//! past a threshold), so the next step faults every page in again and the kernel zeroes it: on LeNet-5 (c2,
//! batch 64) that was about 560 page faults and a fifth of the process's time per step
//! (`docs/performance.md`, "Small CNNs (c1, c2), fourth round"). Kept here, a buffer is reused warm.
//!
//! Only buffers of at least [`POOL_MIN`] bytes are kept (small ones are cheap to allocate and stay in the
//! allocator's own caches), at most [`POOL_KEEP`] of them and [`POOL_BYTES`] bytes per thread and element
//! type; beyond that a dropped buffer is freed as before. A request takes the smallest kept buffer whose
//! capacity holds it without wasting more than its own size, so the pool never retains more than the
//! largest set of buffers a thread freed, bounded by the caps.

use std::any::Any;
use std::cell::RefCell;

thread_local! {
    /// Free buffers of this thread, one `Vec<Vec<T>>` per element type.
    static FREE: RefCell<Vec<Box<dyn Any>>> = const { RefCell::new(Vec::new()) };
}

/// Buffers smaller than this many bytes are not kept.
pub(crate) const POOL_MIN: usize = 64 << 10;
/// Buffers kept per thread and element type at most.
pub(crate) const POOL_KEEP: usize = 48;
/// Bytes kept per thread and element type at most.
pub(crate) const POOL_BYTES: usize = 64 << 20;

fn bytes<T>(v: &Vec<T>) -> usize {
    v.capacity().saturating_mul(std::mem::size_of::<T>())
}

/// Runs `f` on this thread's free list for `T` (`None` while the thread is being torn down).
fn with_free<T: 'static, R>(f: impl FnOnce(&mut Vec<Vec<T>>) -> R) -> Option<R> {
    FREE.try_with(|free| {
        let mut free = free.try_borrow_mut().ok()?;
        let i = match free.iter().position(|b| b.is::<Vec<Vec<T>>>()) {
            Some(i) => i,
            None => {
                free.push(Box::new(Vec::<Vec<T>>::new()));
                free.len() - 1
            }
        };
        free[i].downcast_mut::<Vec<Vec<T>>>().map(f)
    })
    .ok()
    .flatten()
}

/// An empty buffer with capacity for at least `n` elements from this thread's pool, if one fits (capacity
/// between `n` and `2 n`).
pub(crate) fn take<T: 'static>(n: usize) -> Option<Vec<T>> {
    let mut v = take_dirty(n)?;
    v.clear();
    Some(v)
}

/// As [`take`], but the buffer keeps the elements it held when it was handed back (plain values of a dropped
/// tensor): for a result the caller overwrites in full ([`crate::tensor::try_overwritten`]).
pub(crate) fn take_dirty<T: 'static>(n: usize) -> Option<Vec<T>> {
    if n.saturating_mul(std::mem::size_of::<T>()) < POOL_MIN {
        return None;
    }
    with_free(|free: &mut Vec<Vec<T>>| {
        let fits = |v: &Vec<T>| v.capacity() >= n && v.capacity() <= n.saturating_mul(2);
        let best = free.iter().enumerate().filter(|(_, v)| fits(v)).min_by_key(|(_, v)| v.capacity())?.0;
        Some(free.swap_remove(best))
    })
    .flatten()
}

/// Hands a buffer no longer needed to this thread's pool, or frees it (too small, or the pool is full).
pub(crate) fn give<T: 'static>(mut v: Vec<T>) {
    if bytes(&v) < POOL_MIN {
        return;
    }
    if std::mem::needs_drop::<T>() {
        v.clear(); // kept elements are only ever plain values ([`take_dirty`])
    }
    let _ = with_free(move |free: &mut Vec<Vec<T>>| {
        let kept: usize = free.iter().map(bytes).sum();
        if free.len() < POOL_KEEP && kept.saturating_add(bytes(&v)) <= POOL_BYTES {
            free.push(v);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dropped_buffer_is_taken_again_by_a_request_it_fits_and_small_ones_are_not_kept() {
        let c = 4 * POOL_MIN; // u8: bytes = elements
        let v: Vec<u8> = Vec::with_capacity(c);
        let p = v.as_ptr();
        give(v);
        assert!(take::<u8>(c + 1).is_none(), "too small for the request");
        assert!(take::<u8>(POOL_MIN).is_none(), "more than twice the request: left for a larger one");
        let again = take::<u8>(c - 10).expect("fits");
        assert_eq!((again.as_ptr(), again.len()), (p, 0));
        // A dirty take keeps the elements the buffer held; a plain take empties it.
        give(vec![7u8; c]);
        let dirty = take_dirty::<u8>(c).expect("fits");
        assert!(dirty.len() == c && dirty.iter().all(|&b| b == 7));
        give(dirty);
        assert_eq!(take::<u8>(c).map(|v| v.len()), Some(0));
        // Another element type has its own list.
        give(again);
        assert!(take::<u16>(c / 2).is_none());
        assert!(take::<u8>(c).is_some());
        give(vec![0u8; POOL_MIN - 1]);
        assert!(take::<u8>(POOL_MIN - 1).is_none(), "below POOL_MIN: freed, not kept");
    }

    #[test]
    fn the_pool_keeps_at_most_its_caps() {
        let n = POOL_BYTES / 8 + 1;
        for _ in 0..16 {
            give(Vec::<u8>::with_capacity(n));
        }
        let mut kept = 0;
        while take::<u8>(n).is_some() {
            kept += 1;
        }
        assert_eq!(kept, 7, "7 x (POOL_BYTES / 8 + 1) fit in POOL_BYTES, 8 do not");
        for _ in 0..POOL_KEEP + 5 {
            give(Vec::<u8>::with_capacity(POOL_MIN));
        }
        let mut kept = 0;
        while take::<u8>(POOL_MIN).is_some() {
            kept += 1;
        }
        assert_eq!(kept, POOL_KEEP);
    }
}
