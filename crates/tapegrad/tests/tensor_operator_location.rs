//! A failing tensor operator panics at the caller's line (`#[track_caller]`), not inside the library.
//! Its own test binary: the panic hook it installs is process-wide.

use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Mutex};
use tapegrad::Tensor;

type Seen = Arc<Mutex<Option<(String, u32, String)>>>;

/// Runs `f`, which must panic, and returns where the panic was reported and its message.
fn panic_site(seen: &Seen, f: impl FnOnce() -> Tensor<f32>) -> (String, u32, String) {
    *seen.lock().unwrap() = None;
    assert!(panic::catch_unwind(AssertUnwindSafe(f)).is_err(), "the operator did not panic");
    seen.lock().unwrap().take().expect("the hook saw the panic")
}

#[test]
fn operator_panics_name_the_callers_file_and_line() {
    let seen: Seen = Arc::new(Mutex::new(None));
    let hook_seen = seen.clone();
    let previous = panic::take_hook();
    panic::set_hook(Box::new(move |info| {
        let at = info.location().map(|l| (l.file().to_string(), l.line())).unwrap_or_default();
        let msg = info.payload().downcast_ref::<String>().cloned().unwrap_or_default();
        *hook_seen.lock().unwrap() = Some((at.0, at.1, msg));
    }));
    let a = Tensor::<f32>::zeros([2, 3]).unwrap();
    let b = Tensor::<f32>::zeros([4]).unwrap();
    let here = |line: u32| (file!().to_string(), line);
    let sites = [
        (panic_site(&seen, || &a + &b), line!(), "add"),
        (panic_site(&seen, || a.clone() - b.clone()), line!(), "sub"),
        (panic_site(&seen, || &a * b.clone()), line!(), "mul"),
        (panic_site(&seen, || a.clone() / &b), line!(), "div"),
    ];
    panic::set_hook(previous);
    for ((file, line, msg), want_line, op) in sites {
        assert_eq!((file, line), here(want_line), "{op}");
        assert_eq!(msg, format!("{op}: shapes cannot be broadcast together ([2, 3] and [4])"));
    }
}
