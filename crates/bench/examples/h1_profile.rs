//! The h1 HVP alone, many times, for profilers (`perf record`, `valgrind --tool=callgrind`): `h1_profile
//! [ROUNDS]` (default 2000) loads the inputs once, runs ROUNDS HVPs and prints the median per HVP. The
//! bench binary's `h1` spends most of a short process reading the digits data; this does not.

#[allow(dead_code)]
#[path = "../src/data.rs"]
mod data;
#[allow(dead_code)]
#[path = "../src/hvp.rs"]
mod hvp;
#[allow(dead_code)]
#[path = "../src/report.rs"]
mod report;

use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rounds: usize = std::env::args().nth(1).map_or(Ok(2000), |s| s.parse())?;
    tapegrad::set_num_threads(1);
    let (params, v) = data::h1_init()?;
    let (train, _) = data::digits()?;
    let batch = train.gather(&(0..32).collect::<Vec<_>>())?;
    let labels = batch.labels().ok_or("digits: no class labels")?;
    let mut times = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let t0 = Instant::now();
        let hv = hvp::hvp_once(&params, &v, batch.features(), labels)?;
        times.push(t0.elapsed().as_secs_f64());
        std::hint::black_box(hv);
    }
    let (med, min, _) = report::stats(&times);
    println!("h1_profile: {rounds} HVPs, median {:.1} us, min {:.1} us", med * 1e6, min * 1e6);
    Ok(())
}
