//! Fuzzing the file loaders (issue 11): raw bytes and mutations of valid files (bit flips, inserted and
//! deleted bytes, truncation, numbers in the header JSON replaced by huge values) through the CSV and
//! CSV.gz loader, the safetensors loaders and `Mlp::load`. Every outcome must be a value or a typed error:
//! no panic (proptest reports one as a failure), no abort, and no allocation bomb.
//!
//! The bomb check: this test binary installs a counting global allocator that refuses any single request
//! over 1 GiB (it returns null, so the process would abort and the test fail), and every case asserts that
//! the peak of live heap bytes during the case stayed under 64 MiB above where it started. The inputs are
//! at most a few kilobytes.
//!
//! `TAPEGRAD_FUZZ_CASES=N` sets the cases per property (default 1,000: about two seconds in a release
//! build); use a large N for long runs.

use proptest::prelude::*;
use rand::SeedableRng;
use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use tapegrad::Tensor;
use tapegrad_nn::data::{Column, CsvOptions, Dataset, Delimiter, Label, read_matrix_reader};
use tapegrad_nn::layers::{Mlp, MlpConfig};
use tapegrad_nn::{Error, Module, io};

/// The largest single allocation the loaders may request.
const CAP: usize = 1 << 30;
/// The most live heap bytes one case may add.
const CASE_PEAK: usize = 64 << 20;

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every method forwards to the system allocator with the caller's layout (and pointer), which
// upholds GlobalAlloc's contract; the counters are plain atomics. Refusing a request by returning null is
// allowed by the contract.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.size() > CAP {
            return std::ptr::null_mut();
        }
        // SAFETY: forwarded with the caller's layout, as GlobalAlloc::alloc requires.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if layout.size() > CAP {
            return std::ptr::null_mut();
        }
        // SAFETY: as in alloc.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            let now = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: ptr was returned by this allocator (hence by System) with this layout.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > CAP {
            return std::ptr::null_mut();
        }
        // SAFETY: ptr was returned by this allocator with `layout`; new_size is non-zero per the contract.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            let now = LIVE.fetch_add(new_size, Ordering::Relaxed) + new_size;
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// One case at a time, so the peak belongs to the case that made it.
static ONE_CASE: Mutex<()> = Mutex::new(());

/// Runs `f` alone and returns its result with the peak live bytes it added.
fn measured<R>(f: impl FnOnce() -> R) -> (R, usize) {
    let _guard = ONE_CASE.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let start = LIVE.load(Ordering::Relaxed);
    PEAK.store(start, Ordering::Relaxed);
    let r = f();
    (r, PEAK.load(Ordering::Relaxed).saturating_sub(start))
}

fn cases() -> u32 {
    std::env::var("TAPEGRAD_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(1000)
}

fn config() -> ProptestConfig {
    ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() }
}

/// A change to a file's bytes; positions are taken modulo the length.
#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Insert(usize, u8),
    Delete(usize),
    Truncate(usize),
    /// Replace the n-th run of ASCII digits with one of the huge values.
    HugeNumber(usize, usize),
}

const HUGE: [&str; 6] =
    ["18446744073709551615", "18446744073709551616", "4294967296", "1000000000000", "9999999999999999999999", "0"];

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 0u8..8).prop_map(|(i, b)| Mutation::Flip(i, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<usize>().prop_map(Mutation::Delete),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), 0..HUGE.len()).prop_map(|(n, v)| Mutation::HugeNumber(n, v)),
    ]
}

/// Applies `ms` to `bytes`; `header` says where a safetensors header lies, so that a number replaced inside
/// it keeps the 8-byte length prefix right (the file then reaches the header's validation, not just the
/// length check).
fn mutate(mut bytes: Vec<u8>, ms: &[Mutation], safetensors: bool) -> Vec<u8> {
    for m in ms {
        let n = bytes.len().max(1);
        match *m {
            Mutation::Flip(i, b) if !bytes.is_empty() => bytes[i % n] ^= 1 << b,
            Mutation::Insert(i, b) => bytes.insert(i % (bytes.len() + 1), b),
            Mutation::Delete(i) if !bytes.is_empty() => {
                bytes.remove(i % n);
            }
            Mutation::Truncate(i) => bytes.truncate(i % n),
            Mutation::HugeNumber(k, v) => replace_number(&mut bytes, k, HUGE[v], safetensors),
            _ => {}
        }
    }
    bytes
}

fn replace_number(bytes: &mut Vec<u8>, k: usize, value: &str, safetensors: bool) {
    let (lo, hi) = if safetensors {
        let Some(len) = bytes.get(..8).map(|b| u64::from_le_bytes(b.try_into().unwrap()) as usize) else { return };
        if len.checked_add(8).is_none_or(|end| end > bytes.len()) {
            return;
        }
        (8, 8 + len)
    } else {
        (0, bytes.len())
    };
    let mut runs = Vec::new();
    let mut i = lo;
    while i < hi {
        if bytes[i].is_ascii_digit() {
            let start = i;
            while i < hi && bytes[i].is_ascii_digit() {
                i += 1;
            }
            runs.push((start, i));
        } else {
            i += 1;
        }
    }
    if runs.is_empty() {
        return;
    }
    let (s, e) = runs[k % runs.len()];
    bytes.splice(s..e, value.bytes());
    if safetensors {
        let new_len = (hi - lo + value.len() - (e - s)) as u64;
        bytes[..8].copy_from_slice(&new_len.to_le_bytes());
    }
}

fn valid_csv() -> Vec<u8> {
    let mut s = String::from("a,b,c,label\n");
    for i in 0..12 {
        s += &format!("{}.5,{},{}e-1,{}\n", i, 2 * i, i % 3, i % 4);
    }
    s.into_bytes()
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// A small MLP with every kind of layer, and the bytes `Mlp::save` writes for it.
fn valid_model() -> (Mlp<f32>, Vec<u8>) {
    static BYTES: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    let cfg = MlpConfig { sizes: vec![4, 3, 2], batch_norm: true, dropout: 0.1, ..Default::default() };
    let mlp = Mlp::<f32>::from_config(cfg, &mut rand::rngs::StdRng::seed_from_u64(0)).unwrap();
    let bytes = BYTES.get_or_init(|| {
        let path = std::env::temp_dir().join(format!("tapegrad-fuzz-base-{}.safetensors", std::process::id()));
        mlp.save(&path).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        bytes
    });
    (mlp, bytes.clone())
}

/// Every CSV entry point on `bytes`: a dataset with class or value labels, or a matrix.
fn load_csv(bytes: &[u8]) -> Vec<Result<usize, Error>> {
    let iris = CsvOptions { skip_lines: 1, ..Default::default() };
    let ws = CsvOptions { delimiter: Delimiter::Whitespace, label: Label::Value(Column::Index(0)), ..iris };
    vec![
        Dataset::<f32>::from_csv_reader(bytes, "f.csv", &iris).map(|d| d.len()),
        Dataset::<f64>::from_csv_reader(bytes, "f.csv", &ws).map(|d| d.len()),
        read_matrix_reader::<f32>(bytes, "f.csv", &iris).map(|m| m.numel()),
    ]
}

fn csv_ok(r: &Result<usize, Error>) -> bool {
    matches!(r, Ok(_) | Err(Error::Parse { .. } | Error::Io { .. } | Error::Config { .. }))
}

fn model_ok<T>(r: &Result<T, Error>) -> bool {
    matches!(r, Ok(_) | Err(Error::ModelFile { .. } | Error::Io { .. }))
}

/// Every safetensors entry point on `bytes`: into an existing module, as a rebuilt MLP, as raw tensors.
fn load_model(bytes: &[u8], into: &mut Mlp<f32>) -> Vec<bool> {
    let tmp = std::env::temp_dir().join(format!(
        "tapegrad-fuzz-{}-{:?}.safetensors",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::write(&tmp, bytes).unwrap();
    let out = vec![
        model_ok(&io::from_bytes(into, bytes)),
        model_ok(&Mlp::<f32>::from_bytes(bytes)),
        model_ok(&Mlp::<f64>::from_bytes(bytes)),
        model_ok(&Mlp::<f32>::load(&tmp)),
        model_ok(&io::read_tensors::<f32>(&tmp)),
        model_ok(&io::read_metadata(&tmp)),
    ];
    std::fs::remove_file(&tmp).unwrap();
    out
}

#[test]
fn the_allocator_cap_is_installed() {
    let mut v: Vec<u8> = Vec::new();
    assert!(v.try_reserve_exact(CAP + 1).is_err(), "a request over 1 GiB must be refused");
    let (_, peak) = measured(|| vec![0u8; 1 << 20]);
    assert!(peak >= 1 << 20, "the peak counter must see a 1 MiB allocation (saw {peak})");
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn csv_loaders_take_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let (rs, peak) = measured(|| load_csv(&bytes));
        prop_assert!(rs.iter().all(csv_ok), "{:?}", rs);
        prop_assert!(peak < CASE_PEAK, "peak {}", peak);
    }

    #[test]
    fn csv_loaders_take_mutated_valid_files(ms in proptest::collection::vec(mutation(), 1..6)) {
        let bytes = mutate(valid_csv(), &ms, false);
        let (rs, peak) = measured(|| load_csv(&bytes));
        prop_assert!(rs.iter().all(csv_ok), "{:?}", rs);
        prop_assert!(peak < CASE_PEAK, "peak {}", peak);
    }

    #[test]
    fn the_gzip_csv_loader_takes_mutated_compressed_and_mutated_plain_files(
        ms in proptest::collection::vec(mutation(), 1..4),
        compress_after: bool,
    ) {
        let bytes = if compress_after { gz(&mutate(valid_csv(), &ms, false)) } else { mutate(gz(&valid_csv()), &ms, false) };
        let path = std::env::temp_dir().join(format!("tapegrad-fuzz-{}-{:?}.csv.gz", std::process::id(), std::thread::current().id()));
        std::fs::write(&path, &bytes).unwrap();
        let (r, peak) = measured(|| Dataset::<f32>::from_csv(&path, &CsvOptions { skip_lines: 1, ..Default::default() }).map(|d| d.len()));
        std::fs::remove_file(&path).unwrap();
        prop_assert!(csv_ok(&r), "{:?}", r);
        prop_assert!(peak < CASE_PEAK, "peak {}", peak);
    }

    #[test]
    fn safetensors_loaders_take_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let (mut into, _) = valid_model();
        let (oks, peak) = measured(|| load_model(&bytes, &mut into));
        prop_assert!(oks.iter().all(|&ok| ok), "{:?}", oks);
        prop_assert!(peak < CASE_PEAK, "peak {}", peak);
    }

    #[test]
    fn safetensors_loaders_and_mlp_load_take_mutated_valid_files(ms in proptest::collection::vec(mutation(), 1..5)) {
        let (mut into, base) = valid_model();
        let bytes = mutate(base, &ms, true);
        let (oks, peak) = measured(|| load_model(&bytes, &mut into));
        prop_assert!(oks.iter().all(|&ok| ok), "{:?}", oks);
        prop_assert!(peak < CASE_PEAK, "peak {}", peak);
        // A file that is refused leaves the module exactly as it was.
        let (mut fresh, _) = valid_model();
        let values = |m: &Mlp<f32>| -> Vec<Tensor<f32>> {
            let mut v: Vec<Tensor<f32>> = m.params().into_iter().map(|(_, p)| p.value().clone()).collect();
            v.extend(m.buffers().into_iter().map(|(_, b)| b));
            v
        };
        let before = values(&fresh);
        if io::from_bytes(&mut fresh, &bytes).is_err() {
            prop_assert_eq!(values(&fresh), before);
        }
    }

    #[test]
    fn mlp_load_takes_huge_numbers_in_the_header(k in 0usize..200, v in 0..HUGE.len(), k2 in 0usize..200, v2 in 0..HUGE.len()) {
        let (_, base) = valid_model();
        let ms = [Mutation::HugeNumber(k, v), Mutation::HugeNumber(k2, v2)];
        let bytes = mutate(base, &ms, true);
        let (r, peak) = measured(|| Mlp::<f32>::from_bytes(&bytes).map(|m| m.num_params()));
        prop_assert!(model_ok(&r), "{:?}", r);
        if let Err(e) = &r {
            prop_assert!(e.to_string().len() < 1_000, "{} bytes", e.to_string().len());
        }
        prop_assert!(peak < CASE_PEAK, "peak {}", peak);
    }
}
