use super::*;
use std::sync::Mutex;
use std::sync::atomic::AtomicUsize;
use std::thread::ThreadId;

use crate::kernels::gemm::THREAD_CAP_LOCK as CAP;

fn with_threads<R>(n: usize, f: impl FnOnce() -> R) -> R {
    let _guard = CAP.lock().unwrap_or_else(|e| e.into_inner());
    let before = num_threads();
    crate::set_num_threads(n);
    let r = catch_unwind(AssertUnwindSafe(f));
    crate::set_num_threads(before);
    r.unwrap_or_else(|p| resume_unwind(p))
}

#[test]
fn join_returns_both_results_and_runs_the_second_part_elsewhere_at_two_threads() {
    with_threads(2, || {
        let here = std::thread::current().id();
        let mut elsewhere = 0;
        for round in 0..200u64 {
            // Sometimes wait long enough that the helper has parked.
            if round % 50 == 49 {
                std::thread::sleep(SPIN + Duration::from_millis(1));
            }
            let data: Vec<u64> = (0..1000).map(|i| i * round).collect();
            let (lo, hi) = data.split_at(300);
            let ((a, ta), (b, tb)) = join(
                || {
                    // Long enough for a spinning helper to take the other part before this one ends.
                    std::thread::sleep(Duration::from_micros(50));
                    (lo.iter().sum::<u64>(), std::thread::current().id())
                },
                || (hi.iter().sum::<u64>(), std::thread::current().id()),
            );
            assert_eq!(a + b, round * 499_500);
            assert_eq!(ta, here);
            // Tests running beside this one may hold the helper now and then: that part then runs here.
            elsewhere += usize::from(tb != here);
        }
        assert!(elsewhere > 0, "the second part never ran on a helper");
    });
}

#[test]
fn a_part_the_helper_has_not_started_is_taken_back_by_the_caller() {
    with_threads(2, || {
        let here = std::thread::current().id();
        let mut taken_back = 0;
        for round in 0..20u64 {
            // The helper parks after `SPIN`; the caller's own part is empty, so it usually finishes before
            // the parked helper wakes, and then runs the second part itself.
            std::thread::sleep(SPIN + Duration::from_millis(2));
            let (a, (b, tb)) = join(|| round, || (round * 2, std::thread::current().id()));
            assert_eq!((a, b), (round, round * 2));
            taken_back += usize::from(tb == here);
        }
        // Whichever thread ran it, the helper is free again and takes parts when they are long enough (a
        // few tries: a test running beside this one may hold the helper for a moment).
        let elsewhere = (0..5).any(|_| {
            let (_, tb) = join(|| std::thread::sleep(Duration::from_millis(5)), || std::thread::current().id());
            tb != here
        });
        assert!(elsewhere, "the helper did not take a 5 ms part ({taken_back} of 20 taken back)");
    });
}

#[test]
fn one_thread_runs_both_parts_in_order_on_the_calling_thread() {
    with_threads(1, || {
        let here = std::thread::current().id();
        let order = Mutex::new(Vec::new());
        let (ta, tb) = join(
            || {
                order.lock().unwrap().push('a');
                std::thread::current().id()
            },
            || {
                order.lock().unwrap().push('b');
                std::thread::current().id()
            },
        );
        assert_eq!((ta, tb), (here, here));
        assert_eq!(*order.lock().unwrap(), ['a', 'b']);
    });
}

#[test]
fn a_panic_in_either_part_reaches_the_caller_after_the_other_part_finished() {
    with_threads(2, || {
        for panicking_second in [false, true] {
            let finished = AtomicBool::new(false);
            let r = catch_unwind(AssertUnwindSafe(|| {
                join(
                    || {
                        if !panicking_second {
                            panic!("first part");
                        }
                        std::thread::sleep(Duration::from_millis(5));
                        finished.store(true, Ordering::SeqCst);
                    },
                    || {
                        if panicking_second {
                            panic!("second part");
                        }
                        std::thread::sleep(Duration::from_millis(5));
                        finished.store(true, Ordering::SeqCst);
                    },
                )
            }));
            let payload = r.expect_err("the panic must reach the caller");
            let msg = payload.downcast_ref::<&str>().copied().unwrap_or_default();
            assert_eq!(msg, if panicking_second { "second part" } else { "first part" });
            assert!(finished.load(Ordering::SeqCst), "the other part was not waited for");
        }
        // The helper still works afterwards.
        assert_eq!(join(|| 1, || 2), (1, 2));
    });
}

#[test]
fn nested_and_concurrent_calls_finish_with_every_result() {
    with_threads(2, || {
        let calls = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for t in 0..4u64 {
                let calls = &calls;
                s.spawn(move || {
                    for i in 0..200u64 {
                        let ((a, b), (c, d)) = join(|| join(|| i, || t), || join(|| i + 1, || t + 1));
                        assert_eq!((a, b, c, d), (i, t, i + 1, t + 1));
                        calls.fetch_add(1, Ordering::Relaxed);
                    }
                });
            }
        });
        assert_eq!(calls.into_inner(), 800);
    });
}

#[test]
fn for_each_calls_every_item_once_in_order_within_each_run() {
    for threads in [1, 2, 3, 5] {
        with_threads(threads, || {
            for n in [0usize, 1, 2, 3, 7, 64] {
                let seen = Mutex::new(Vec::<(usize, ThreadId)>::new());
                for_each((0..n).collect(), |i| seen.lock().unwrap().push((i, std::thread::current().id())));
                let seen = seen.into_inner().unwrap();
                let mut items: Vec<usize> = seen.iter().map(|&(i, _)| i).collect();
                items.sort_unstable();
                assert_eq!(items, (0..n).collect::<Vec<_>>(), "threads {threads}, n {n}");
                // Within one thread the items came in increasing order (contiguous runs, each in order).
                let mut threads_seen: Vec<ThreadId> = seen.iter().map(|&(_, t)| t).collect();
                threads_seen.dedup();
                for t in &threads_seen {
                    let mine: Vec<usize> = seen.iter().filter(|&&(_, u)| u == *t).map(|&(i, _)| i).collect();
                    assert!(mine.windows(2).all(|w| w[0] < w[1]), "threads {threads}, n {n}: {mine:?}");
                }
                if threads == 1 {
                    assert!(threads_seen.len() <= 1);
                }
            }
        });
    }
}

#[test]
fn cut_is_the_exact_floor_of_len_times_i_over_parts_even_where_that_product_overflows() {
    for len in 0..200usize {
        for parts in 1..12 {
            for i in 0..=parts {
                assert_eq!(cut(len, i, parts), len * i / parts, "{len} {i} {parts}");
            }
        }
    }
    // `usize::MAX * 2` overflows; the cut does not, and the parts still cover everything.
    assert_eq!(cut(usize::MAX, 3, 3), usize::MAX);
    assert_eq!(cut(usize::MAX, 1, 2), usize::MAX / 2);
    assert_eq!(cut(usize::MAX - 1, 2, 4), (usize::MAX - 1) / 2);
}
