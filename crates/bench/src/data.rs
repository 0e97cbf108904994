//! The workloads' fixed inputs, read from the repository copies in `examples/data/` (resolved at compile
//! time, so the binary runs from any directory).

use std::error::Error;
use std::path::{Path, PathBuf};
use tapegrad::Tensor;
use tapegrad_nn::data::{CsvOptions, Dataset};

/// Rows of the digits data used for training; the rest is the test set.
pub const NTRAIN: usize = 1437;

fn data_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/data").join(name)
}

/// Whitespace-separated numbers of a text file, skipping `#` comment lines, one vector per line.
fn read_rows<T: std::str::FromStr>(path: &Path) -> Result<Vec<Vec<T>>, Box<dyn Error>>
where
    T::Err: Error + 'static,
{
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let mut row = Vec::new();
        for (j, field) in line.split_whitespace().enumerate() {
            row.push(
                field.parse::<T>().map_err(|e| format!("{}:{}:{}: {e}: {field:?}", path.display(), i + 1, j + 1))?,
            );
        }
        rows.push(row);
    }
    Ok(rows)
}

/// The digits split of the reference: pixels / 16, rows permuted by `digits_perm_seed0.txt`, the first
/// [`NTRAIN`] rows for training and the rest for testing.
pub fn digits() -> Result<(Dataset<f32>, Dataset<f32>), Box<dyn Error>> {
    let all = Dataset::<f32>::from_csv(data_path("digits.csv.gz"), &CsvOptions::default())?;
    let all = all.with_features(all.features().map(|x| x / 16.0))?;
    let perm: Vec<usize> = read_rows::<usize>(&data_path("digits_perm_seed0.txt"))?.concat();
    if perm.len() != all.len() || perm.len() <= NTRAIN {
        return Err(format!("digits_perm_seed0.txt: {} indices for {} rows", perm.len(), all.len()).into());
    }
    Ok((all.gather(&perm[..NTRAIN])?, all.gather(&perm[NTRAIN..])?))
}

/// The XOR 2-4-1 initial weights: `W1` `[4, 2]` as `[out][in]`, `b1` `[4]`, `W2` `[1, 4]`, `b2` `[1]`.
pub fn xor_init() -> Result<[Tensor<f32>; 4], Box<dyn Error>> {
    let path = data_path("xor_init.txt");
    let rows = read_rows::<f32>(&path)?;
    let shapes: [&[usize]; 4] = [&[4, 2], &[4], &[1, 4], &[1]];
    if rows.len() != 4 {
        return Err(format!("{}: {} rows, expected 4", path.display(), rows.len()).into());
    }
    let mut out = Vec::new();
    for (row, shape) in rows.into_iter().zip(shapes) {
        out.push(Tensor::from_vec(row, shape).map_err(|e| format!("{}: {e}", path.display()))?);
    }
    Ok([out[0].clone(), out[1].clone(), out[2].clone(), out[3].clone()])
}

/// The h1 parameters and directions, each in the order `W1 b1 W2 b2 W3 b3`.
pub type H1Init = (Vec<Tensor<f32>>, Vec<Tensor<f32>>);

/// The h1 inputs (`h1_init.txt`, a copy of the shared bench's file): the digits-MLP parameters
/// `[W1, b1, W2, b2, W3, b3]` (W as `[in, out]`, b as `[out]`) and the direction `v` for each, in that order.
/// The file holds, per tensor, a line `name d0 [d1]` then one line of values.
pub fn h1_init() -> Result<H1Init, Box<dyn Error>> {
    let path = data_path("h1_init.txt");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let lines: Vec<(usize, &str)> =
        text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty() && !l.starts_with('#')).collect();
    let mut tensors = std::collections::HashMap::new();
    for pair in lines.chunks(2) {
        let [(hl, head), (vl, values)] = pair else {
            return Err(format!("{}: a header without a line of values at the end", path.display()).into());
        };
        let mut fields = head.split_whitespace();
        let name = fields.next().unwrap_or_default().to_string();
        let dims = fields
            .map(|d| d.parse::<usize>().map_err(|e| format!("{}:{}: dimension {d:?}: {e}", path.display(), hl + 1)))
            .collect::<Result<Vec<usize>, String>>()?;
        let data = values
            .split_whitespace()
            .map(|v| v.parse::<f32>().map_err(|e| format!("{}:{}: value {v:?}: {e}", path.display(), vl + 1)))
            .collect::<Result<Vec<f32>, String>>()?;
        let t = Tensor::from_vec(data, dims.as_slice())
            .map_err(|e| format!("{}:{}: {name}: {e}", path.display(), vl + 1))?;
        tensors.insert(name, t);
    }
    let mut take = |name: String| tensors.remove(&name).ok_or_else(|| format!("{}: no tensor {name}", path.display()));
    let names = ["W1", "b1", "W2", "b2", "W3", "b3"];
    let params = names.iter().map(|n| take(n.to_string())).collect::<Result<Vec<_>, _>>()?;
    let dirs = names.iter().map(|n| take(format!("v_{n}"))).collect::<Result<Vec<_>, _>>()?;
    Ok((params, dirs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_split_has_the_reference_sizes_and_scaled_pixels() {
        let (train, test) = digits().unwrap();
        assert_eq!((train.len(), test.len(), train.num_features()), (1437, 360, 64));
        let max = train.features().data().iter().fold(0.0f32, |m, &x| m.max(x));
        assert_eq!(max, 1.0);
        // digits_perm_seed0.txt starts with 360: the first training row is row 360 of the file.
        let all = Dataset::<f32>::from_csv(data_path("digits.csv.gz"), &CsvOptions::default()).unwrap();
        let row360: Vec<f32> = all.features().data()[360 * 64..361 * 64].iter().map(|x| x / 16.0).collect();
        assert_eq!(&train.features().data()[..64], &row360[..]);
        assert_eq!(train.labels().unwrap()[0], all.labels().unwrap()[360]);
    }

    #[test]
    fn xor_init_reads_four_tensors_of_the_benchmark_shapes() {
        let [w1, b1, w2, b2] = xor_init().unwrap();
        assert_eq!((w1.dims(), b1.dims(), w2.dims(), b2.dims()), (&[4, 2][..], &[4][..], &[1, 4][..], &[1][..]));
        assert_eq!(w1.data()[0], "0.27392337".parse::<f32>().unwrap());
        assert_eq!(b2.data()[0], "0.72635784".parse::<f32>().unwrap());
    }

    #[test]
    fn h1_init_reads_the_six_parameters_and_their_directions() {
        let (params, dirs) = h1_init().unwrap();
        let dims: Vec<&[usize]> = params.iter().map(|t| t.dims()).collect();
        assert_eq!(dims, [&[64, 128][..], &[128], &[128, 64], &[64], &[64, 10], &[10]]);
        for (p, v) in params.iter().zip(&dirs) {
            assert_eq!(p.dims(), v.dims());
        }
        assert_eq!(params[0].data()[0], "0.03424042".parse::<f32>().unwrap());
    }
}
