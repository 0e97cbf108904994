//! How the convolution kernels without an unfold (Winograd's and the direct ones) cut a batch for threads:
//! at most [`GROUPS`] groups of whole images, each group one unit of work (and, for a weight gradient, one
//! partial sum, added in group order), handed to the threads in contiguous runs. The cut depends only on
//! the sizes, so the results are the same bit for bit at any thread count.

use super::lowered::PARALLEL_MIN;
use crate::kernels::gemm::num_threads;
use std::ops::Range;

/// Groups of images at most: the units handed to threads (and the weight gradient's partial sums).
pub const GROUPS: usize = 8;

/// Groups for `n` images (at most [`GROUPS`]) and the threads they run on for a call of `work`
/// multiply-adds (1: the calling thread).
pub(super) fn plan_groups(n: usize, work: usize) -> (usize, usize) {
    let groups = n.min(GROUPS);
    let threads = if work >= PARALLEL_MIN { num_threads().min(groups).max(1) } else { 1 };
    (groups, threads)
}

/// The images of group `g` of `groups` for `n` images.
pub(super) fn group_images(n: usize, g: usize, groups: usize) -> Range<usize> {
    crate::parallel::cut(n, g, groups)..crate::parallel::cut(n, g + 1, groups)
}

/// Runs `f(group, part, serial)` for every group on `threads` threads (contiguous runs of groups) or on the
/// calling thread (also the im2col path's hand-out of its chunk groups, `lowered.rs`).
pub(super) fn run<P: Send>(groups: usize, threads: usize, parts: Vec<P>, f: impl Fn(usize, P, bool) + Sync) {
    if threads <= 1 {
        parts.into_iter().enumerate().for_each(|(g, p)| f(g, p, false));
        return;
    }
    let mut buckets: Vec<Vec<(usize, P)>> = (0..threads).map(|_| Vec::new()).collect();
    for (g, p) in parts.into_iter().enumerate() {
        buckets[g * threads / groups].push((g, p));
    }
    crate::parallel::for_each(buckets, |b| b.into_iter().for_each(|(g, p)| f(g, p, true)));
}
