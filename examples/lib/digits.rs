//! The digits data (1797 images of 8x8 pixels, bundled as `data/digits.csv.gz`) and the split that the
//! `digits`, `cnn` and `filters` examples share, so their test sets are the same images.

use crate::error::{Error, Result};
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::path::{Path, PathBuf};
use tapegrad_nn::data::{CsvOptions, Dataset};

/// Number of pixels per image (8 x 8).
pub const PIXELS: usize = 64;
/// Number of classes.
pub const CLASSES: usize = 10;

/// The bundled data file, resolved at compile time so the examples and tests run from any directory.
pub fn default_data_path() -> PathBuf {
    crate::data_file("digits.csv.gz")
}

/// Loads the digits, scales pixels from `0..16` to `[0, 1]` and splits 80/20, stratified, with `seed`.
///
/// # Errors
/// File and parse errors naming the path, line and column; a file whose rows do not hold 64 pixels.
pub fn load_split(path: &Path, seed: u64) -> Result<(Dataset<f32>, Dataset<f32>)> {
    let all = Dataset::<f32>::from_csv(path, &CsvOptions::default())?;
    if all.num_features() != PIXELS {
        return Err(Error::Input {
            what: path.display().to_string(),
            msg: format!("{} features per row, expected {PIXELS}", all.num_features()),
        });
    }
    let scaled = all.with_features(all.features().map(|v| v / 16.0))?;
    let mut rng = StdRng::seed_from_u64(seed);
    Ok(scaled.stratified_split(0.2, &mut rng)?)
}
