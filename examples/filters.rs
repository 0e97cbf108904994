//! What a convolution kernel does: the lectures' demonstrations, printed and drawn.
//!
//! `cargo run --release -p tapegrad-examples --example filters` prints each step and writes into
//! `out/filters/`:
//! 1. `simplest.png`: the simplest convolution, step by step on a 5x5 image with a 3x3 kernel;
//! 2. `gaussian.png`: a Gaussian filter blurring a digit;
//! 3. `noise.png`: noise suppression: a noisy digit before and after Gaussian filtering, with the error
//!    against the clean digit;
//! 4. `edges.png`: an edge detector (Sobel kernels and the gradient magnitude);
//! 5. `subsampling.png`: max and average subsampling (pooling);
//! 6. `padding.png`: output sizes for valid/same/full padding and stride 2, checked against the formula
//!    `o = floor((i + p - k) / s) + 1`.
//!
//! Every convolution and pooling here is the engine's op (`Var::conv2d`, `max_pool2d`, `avg_pool2d`) on a
//! `[1, 1, H, W]` image; the step-by-step sums are recomputed by hand and must agree.

use clap::Parser;
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::io::Write;
use std::path::PathBuf;
use tapegrad::{Padding, Tape, Tensor, conv_output_size};
use tapegrad_examples::error::{Error, Result, io_err};
use tapegrad_examples::heatmap::{self, Scale, Section, Tile};
use tapegrad_nn::data::{CsvOptions, Dataset};

/// The command line.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "filters",
    allow_negative_numbers = true,
    about = "Convolution by hand, Gaussian blur, noise suppression, edges, pooling, padding"
)]
pub struct FiltersArgs {
    /// Standard deviation of the noise added to the digit (pixels are in [0, 1]).
    #[arg(long, default_value_t = 0.3)]
    pub noise: f64,
    /// Standard deviation (in pixels) of the Gaussian filter.
    #[arg(long, default_value_t = 1.5)]
    pub sigma: f64,
    /// Seed of the noise.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Folder for the pictures (created if missing).
    #[arg(long, default_value = "out/filters")]
    pub out: PathBuf,
}

/// One row of the worked output-size example.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SizeRow {
    /// `valid`, `same`, `full`, with the stride.
    pub name: String,
    /// Input size `i`, kernel `k`, stride `s`, total padding `p`.
    pub iksp: (usize, usize, usize, usize),
    /// `floor((i + p - k) / s) + 1` by hand.
    pub by_hand: usize,
    /// `tapegrad::conv_output_size(i, k, s, p)`.
    pub formula: usize,
    /// The side of the engine's `conv2d` output.
    pub engine: usize,
}

/// The numbers the demonstrations computed (the tests read them).
#[derive(Debug)]
pub struct FiltersReport {
    /// The simplest convolution's output, row-major.
    pub simplest: Vec<f64>,
    /// Root-mean-square error of the noisy digit against the clean one.
    pub noisy_error: f64,
    /// The same after Gaussian filtering.
    pub filtered_error: f64,
    /// The worked output sizes.
    pub sizes: Vec<SizeRow>,
    /// Files written.
    pub files: Vec<PathBuf>,
}

fn main() -> std::process::ExitCode {
    tapegrad_examples::error::report(run(&FiltersArgs::parse(), &mut std::io::stdout()).map(|_| ()))
}

/// Runs the six demonstrations, printing each and drawing it into `args.out`.
///
/// # Errors
/// Bad flags (before anything runs), an output folder that cannot be written, engine and drawing errors,
/// and [`Error::Check`] when a hand computation disagrees with the engine.
pub fn run(args: &FiltersArgs, out: &mut dyn Write) -> Result<FiltersReport> {
    if !(args.noise.is_finite() && args.noise >= 0.0) {
        return Err(Error::Input { what: "--noise".into(), msg: format!("must be >= 0, got {}", args.noise) });
    }
    if !(args.sigma.is_finite() && args.sigma > 0.0 && args.sigma <= 5.0) {
        return Err(Error::Input { what: "--sigma".into(), msg: format!("must be in (0, 5], got {}", args.sigma) });
    }
    std::fs::create_dir_all(&args.out).map_err(io_err(&args.out))?;
    let probe = args.out.join(".write-check");
    std::fs::write(&probe, b"").map_err(io_err(&probe))?;
    std::fs::remove_file(&probe).map_err(io_err(&probe))?;
    let mut say = |msg: String| writeln!(out, "{msg}").map_err(io_err("stdout"));
    let mut files = Vec::new();

    // 1. The simplest convolution: slide the 3x3 kernel over the 5x5 image; each output is the sum of the
    //    products of the kernel with the window under it (no padding, stride 1: 3x3 outputs).
    let image = grid(
        5,
        5,
        &[1., 1., 1., 0., 0., 0., 1., 1., 1., 0., 0., 0., 1., 1., 1., 0., 0., 1., 1., 0., 0., 1., 1., 0., 0.],
    )?;
    let kernel = grid(3, 3, &[1., 0., 1., 0., 1., 0., 1., 0., 1.])?;
    let y = conv(&image, &kernel, 1, Padding::Valid)?;
    say("1. the simplest convolution: a 5x5 image, a 3x3 kernel, no padding, stride 1".into())?;
    say(format!("image:\n{}kernel:\n{}", show(&image), show(&kernel)))?;
    for (r, c) in (0..3).flat_map(|r| (0..3).map(move |c| (r, c))) {
        let terms: Vec<(f64, f64)> =
            (0..9).map(|t| (at(&image, r + t / 3, c + t % 3), at(&kernel, t / 3, t % 3))).collect();
        let sum: f64 = terms.iter().map(|(x, k)| x * k).sum();
        let text: Vec<String> = terms.iter().map(|(x, k)| format!("{x}*{k}")).collect();
        say(format!("y[{r},{c}] = {} = {sum}", text.join(" + ")))?;
        if sum != at(&y, r, c) {
            return Err(Error::Check(format!("y[{r},{c}]: by hand {sum}, conv2d {}", at(&y, r, c))));
        }
    }
    say(format!("output (conv2d, equal to the sums above):\n{}", show(&y)))?;
    let numbers =
        |title: &str, t: &Tensor<f64>| section(title, vec![tile(t, "")], Scale::grey_over(&[tile(t, "")]), 36, true);
    files.push(heatmap::sections(
        &args.out.join("simplest.png"),
        &[
            numbers("image 5x5", &image),
            numbers("kernel 3x3", &kernel),
            numbers("output 3x3 = sum of (window x kernel)", &y),
        ],
    )?);

    // A digit to filter: the first image of the bundled digits, upsampled 4x (nearest) to 32x32 so the
    // filters have room to work.
    let digits = Dataset::<f64>::from_csv(tapegrad_examples::digits::default_data_path(), &CsvOptions::default())?;
    let small: Vec<f64> = digits.features().data()[..64].iter().map(|v| v / 16.0).collect();
    let clean = grid(32, 32, &(0..32 * 32).map(|i| small[(i / 32 / 4) * 8 + (i % 32) / 4]).collect::<Vec<_>>())?;

    // 2. A Gaussian filter: weights exp(-(u^2 + v^2) / (2 sigma^2)), normalised to sum 1, "same" padding.
    let gauss = gaussian_kernel(args.sigma)?;
    let k = gauss.dims()[0];
    let blurred = conv(&clean, &gauss, 1, Padding::Same)?;
    say(format!(
        "\n2. a Gaussian filter, sigma {} pixels, {k}x{k}, weights sum to 1 (centre row: {:.3?})",
        args.sigma,
        &gauss.data()[k * (k / 2)..k * (k / 2 + 1)]
    ))?;
    say(format!("   blurring the digit: {}x{} -> {}x{} (same padding)", 32, 32, blurred.dims()[0], blurred.dims()[1]))?;
    let pair = vec![tile(&clean, "digit"), tile(&blurred, "Gaussian-filtered")];
    let gk = vec![tile(&gauss, "kernel")];
    files.push(heatmap::sections(
        &args.out.join("gaussian.png"),
        &[
            section(&format!("Gaussian kernel, sigma {}", args.sigma), gk.clone(), Scale::grey_over(&gk), 12, false),
            section("a digit before and after (one grey scale)", pair.clone(), Scale::grey_over(&pair), 6, false),
        ],
    )?);

    // 3. Noise suppression: add Gaussian noise, filter, compare both with the clean digit.
    let mut rng = StdRng::seed_from_u64(args.seed);
    let noise = Tensor::<f64>::randn([32, 32], 0.0, args.noise, &mut rng)?;
    let noisy = grid(32, 32, &clean.data().iter().zip(noise.data()).map(|(c, n)| c + n).collect::<Vec<_>>())?;
    let denoised = conv(&noisy, &gauss, 1, Padding::Same)?;
    let (noisy_error, filtered_error) = (rms_diff(&noisy, &clean), rms_diff(&denoised, &clean));
    say(format!("\n3. noise suppression: noise sigma {}, error (RMS against the clean digit)", args.noise))?;
    say(format!(
        "   noisy {noisy_error:.4}, Gaussian-filtered {filtered_error:.4} (the filter alone costs {:.4} on the clean digit)",
        rms_diff(&blurred, &clean)
    ))?;
    let row = vec![
        tile(&clean, "clean"),
        tile(&noisy, &format!("noisy: error {noisy_error:.3}")),
        tile(&denoised, &format!("filtered: error {filtered_error:.3}")),
    ];
    files.push(heatmap::sections(
        &args.out.join("noise.png"),
        &[section(
            "noise suppression by a Gaussian filter (one grey scale)",
            row.clone(),
            Scale::Grey { lo: 0.0, hi: 1.0 },
            6,
            false,
        )],
    )?);

    // 4. An edge detector: the Sobel kernels respond to horizontal and vertical changes of brightness; the
    //    gradient magnitude sqrt(gx^2 + gy^2) outlines the strokes.
    let sobel_x = grid(3, 3, &[-1., 0., 1., -2., 0., 2., -1., 0., 1.])?;
    let sobel_y = grid(3, 3, &[-1., -2., -1., 0., 0., 0., 1., 2., 1.])?;
    let (gx, gy) = (conv(&clean, &sobel_x, 1, Padding::Same)?, conv(&clean, &sobel_y, 1, Padding::Same)?);
    let magnitude = grid(32, 32, &gx.data().iter().zip(gy.data()).map(|(a, b)| a.hypot(*b)).collect::<Vec<_>>())?;
    say(format!("\n4. edge detection (Sobel):\nkernel x:\n{}kernel y:\n{}", show(&sobel_x), show(&sobel_y)))?;
    say(format!(
        "   |gradient| is {:.2} at most, 0 inside flat regions",
        magnitude.data().iter().fold(0.0f64, |m, v| m.max(*v))
    ))?;
    let signed = vec![tile(&gx, "gx (kernel x)"), tile(&gy, "gy (kernel y)")];
    let kernels = vec![tile(&sobel_x, "x"), tile(&sobel_y, "y")];
    let mag = vec![tile(&magnitude, "sqrt(gx^2 + gy^2)")];
    files.push(heatmap::sections(
        &args.out.join("edges.png"),
        &[
            section("Sobel kernels", kernels.clone(), Scale::diverging_over(&kernels), 16, true),
            section("responses (one diverging scale)", signed.clone(), Scale::diverging_over(&signed), 6, false),
            section("gradient magnitude: the edges", mag.clone(), Scale::grey_over(&mag), 6, false),
        ],
    )?);

    // 5. Subsampling: a convolution-like window with "+" replaced by "max", and the average.
    let block = grid(4, 4, &[1., 3., 2., 0., 5., 2., 1., 1., 0., 1., 7., 2., 4., 2., 3., 8.])?;
    let (bmax, bavg) = (pool(&block, true)?, pool(&block, false)?);
    say(format!(
        "\n5. subsampling, 2x2 windows, stride 2:\ninput:\n{}max:\n{}average:\n{}",
        show(&block),
        show(&bmax),
        show(&bavg)
    ))?;
    let (dmax, davg) = (pool(&clean, true)?, pool(&clean, false)?);
    say(format!("   on the digit: 32x32 -> {}x{}", dmax.dims()[0], dmax.dims()[1]))?;
    let small_tiles = vec![tile(&block, "input 4x4"), tile(&bmax, "max 2x2"), tile(&bavg, "average 2x2")];
    let digit_tiles =
        vec![tile(&clean, "digit 32x32"), tile(&dmax, "max-pooled 16x16"), tile(&davg, "average-pooled 16x16")];
    files.push(heatmap::sections(
        &args.out.join("subsampling.png"),
        &[
            section("2x2 windows, stride 2", small_tiles.clone(), Scale::grey_over(&small_tiles), 30, true),
            section("on the digit (one grey scale)", digit_tiles.clone(), Scale::Grey { lo: 0.0, hi: 1.0 }, 5, false),
        ],
    )?);

    // 6. Output sizes: o = floor((i + p - k) / s) + 1, p the total padding of the axis. A 7x7 image of
    //    ones and a 3x3 kernel of ones: each output counts the image pixels its window covers.
    say("\n6. output sizes for a 7x7 input, o = floor((i + p - k) / s) + 1:".into())?;
    say(format!(
        "{:<22} {:>2} {:>2} {:>2} {:>2} {:>8} {:>18} {:>7}",
        "padding", "i", "k", "s", "p", "by hand", "conv_output_size", "conv2d"
    ))?;
    let ones = Tensor::<f64>::ones([7, 7])?;
    let mut sizes = Vec::new();
    let mut drawn = Vec::new();
    for (name, k, s, padding) in [
        ("valid", 3, 1, Padding::Valid),
        ("same (p = k - 1)", 3, 1, Padding::Same),
        ("full (p = 2(k - 1))", 3, 1, Padding::Full),
        ("valid, stride 2", 3, 2, Padding::Valid),
        ("same, stride 2", 3, 2, Padding::Same),
        ("same, even kernel 4", 4, 1, Padding::Same),
    ] {
        let (top, bottom, _, _) = padding.resolve(k, k);
        let (i, p) = (7, top + bottom);
        let by_hand = (i + p - k) / s + 1;
        let formula = conv_output_size(i, k, s, p)?;
        let y = conv(&ones, &Tensor::ones([k, k])?, s, padding)?;
        let engine = y.dims()[0];
        say(format!("{name:<22} {i:>2} {k:>2} {s:>2} {p:>2} {by_hand:>8} {formula:>18} {engine:>7}"))?;
        if by_hand != formula || formula != engine {
            return Err(Error::Check(format!(
                "{name}: by hand {by_hand}, conv_output_size {formula}, conv2d {engine}"
            )));
        }
        drawn.push(tile(&y, &format!("{name}: {engine}x{engine}")));
        sizes.push(SizeRow { name: name.into(), iksp: (i, k, s, p), by_hand, formula, engine });
    }
    let per_size: Vec<Section> = drawn
        .into_iter()
        .map(|t| section(&t.caption.clone(), vec![t], Scale::Grey { lo: 0.0, hi: 16.0 }, 26, true))
        .collect();
    files.push(heatmap::sections(&args.out.join("padding.png"), &per_size)?);

    for f in &files {
        say(format!("wrote {}", f.display()))?;
    }
    say(format!("noise_error_before={noisy_error:.4} after={filtered_error:.4}"))?;
    Ok(FiltersReport { simplest: y.to_vec(), noisy_error, filtered_error, sizes, files })
}

/// A `rows x cols` tensor from row-major values.
fn grid(rows: usize, cols: usize, values: &[f64]) -> Result<Tensor<f64>> {
    Ok(Tensor::from_slice(values, [rows, cols])?)
}

fn at(t: &Tensor<f64>, r: usize, c: usize) -> f64 {
    t.data()[r * t.dims()[1] + c]
}

/// The engine's `conv2d` of one `H x W` image with one `kh x kw` kernel (a `[1, 1, H, W]` input).
fn conv(image: &Tensor<f64>, kernel: &Tensor<f64>, stride: usize, padding: Padding) -> Result<Tensor<f64>> {
    let tape = Tape::new();
    let (&[h, w], &[kh, kw]) = (image.dims(), kernel.dims()) else {
        return Err(Error::Check("conv: expected 2-D image and kernel".into()));
    };
    let x = tape.input(image.reshape([1, 1, h, w])?);
    let k = tape.input(kernel.reshape([1, 1, kh, kw])?);
    let y = x.conv2d(k, None, (stride, stride), padding)?.value();
    let (oh, ow) = (y.dims()[2], y.dims()[3]);
    Ok(y.reshape([oh, ow])?)
}

/// 2x2 max (or average) pooling at stride 2 of one image, by the engine's pooling ops.
fn pool(image: &Tensor<f64>, max: bool) -> Result<Tensor<f64>> {
    let tape = Tape::new();
    let (h, w) = (image.dims()[0], image.dims()[1]);
    let x = tape.input(image.reshape([1, 1, h, w])?);
    let y =
        if max { x.max_pool2d((2, 2), (2, 2), Padding::Valid)? } else { x.avg_pool2d((2, 2), (2, 2), Padding::Valid)? };
    Ok(y.value().reshape([h / 2, w / 2])?)
}

/// The normalised Gaussian kernel of side `2 ceil(2 sigma) + 1`.
fn gaussian_kernel(sigma: f64) -> Result<Tensor<f64>> {
    let r = (2.0 * sigma).ceil() as i64;
    let side = (2 * r + 1) as usize;
    let w: Vec<f64> = (-r..=r)
        .flat_map(|u| (-r..=r).map(move |v| (-((u * u + v * v) as f64) / (2.0 * sigma * sigma)).exp()))
        .collect();
    let total: f64 = w.iter().sum();
    grid(side, side, &w.iter().map(|v| v / total).collect::<Vec<_>>())
}

fn rms_diff(a: &Tensor<f64>, b: &Tensor<f64>) -> f64 {
    let n = a.numel().max(1) as f64;
    (a.data().iter().zip(b.data()).map(|(x, y)| (x - y).powi(2)).sum::<f64>() / n).sqrt()
}

/// The tensor as rows of numbers.
fn show(t: &Tensor<f64>) -> String {
    let cols = t.dims()[1];
    t.data().chunks(cols).map(|r| r.iter().map(|v| format!("{v:6.2}")).collect::<String>() + "\n").collect()
}

fn tile(t: &Tensor<f64>, caption: &str) -> Tile {
    Tile::new(t.data(), t.dims()[0], t.dims()[1], caption)
}

fn section(title: &str, tiles: Vec<Tile>, scale: Scale, cell: usize, numbers: bool) -> Section {
    Section { title: title.into(), per_row: tiles.len(), tiles, scale, cell, numbers }
}
