//! Threshold networks for Boolean functions (lecture 001): two layers of threshold neurons compute any
//! Boolean function of n inputs, and XOR in the slides' form `[(x1 or x2) - (x1 and x2) - 1/2 > 0]`.
//!
//! The construction of [`boolean_network`] is the disjunctive normal form: one hidden neuron per input
//! pattern where the function is 1 (it fires for that pattern only), and an output neuron that is their
//! OR. Every pre-activation is an odd multiple of 1/2, never 0, so the result is the same whether the
//! threshold fires at `t > 0` ([`crate::layers::Activation::Step`]) or at `t >= 0` (the slides).

use crate::error::{Error, Result};
use crate::layers::{Activation, Linear, Sequential};
use tapegrad::{Float, Tensor};

/// The input pattern of row `row` of a truth table with `n` inputs: `x1` is the most significant bit, so
/// rows run `00, 01, 10, 11` for two inputs.
pub fn truth_table_row(n: usize, row: usize) -> Vec<bool> {
    (0..n).map(|j| (row >> (n - 1 - j)) & 1 == 1).collect()
}

/// A two-layer threshold network computing the Boolean function with truth table `table` (entry `i` is
/// the value at [`truth_table_row`]`(n, i)`), on inputs 0/1 of shape `[batch, n]`, with outputs 0/1 of
/// shape `[batch, 1]`.
///
/// Hidden neuron for a pattern `p` with `k` ones: weight `+1` where `p_j = 1`, `-1` where `p_j = 0`, bias
/// `1/2 - k`: its pre-activation is `+1/2` on `p` and at most `-1/2` elsewhere. Output: weights 1, bias
/// `-1/2` (OR). A function that is never 1 gets one hidden neuron that never fires.
///
/// ```
/// use tapegrad::Tensor;
/// use tapegrad_nn::{logic::boolean_network, Module};
/// // Majority of three inputs: rows 011, 101, 110, 111.
/// let table = [false, false, false, true, false, true, true, true];
/// let net = boolean_network::<f64>(3, &table).unwrap();
/// let x = Tensor::from_vec(vec![1.0, 1.0, 0.0, 1.0, 0.0, 0.0], [2, 3]).unwrap();
/// assert_eq!(net.predict(&x).unwrap().to_vec(), vec![1.0, 0.0]);
/// ```
///
/// # Errors
/// [`Error::Config`] when `n` is 0 or above 16, or `table` does not have `2^n` entries.
pub fn boolean_network<T: Float>(n: usize, table: &[bool]) -> Result<Sequential<T>> {
    if n == 0 || n > 16 || table.len() != 1 << n {
        return Err(Error::Config {
            what: "boolean_network",
            msg: format!("a truth table of n = {n} inputs needs 2^n entries (1 <= n <= 16), got {}", table.len()),
        });
    }
    let ones: Vec<usize> = (0..table.len()).filter(|&i| table[i]).collect();
    let (mut w, mut b) = (Vec::new(), Vec::new());
    for &row in &ones {
        let p = truth_table_row(n, row);
        let k = p.iter().filter(|&&v| v).count();
        w.extend(p.iter().map(|&v| T::of(if v { 1.0 } else { -1.0 })));
        b.push(T::of(0.5 - k as f64));
    }
    if ones.is_empty() {
        w.extend(std::iter::repeat_n(T::zero(), n));
        b.push(T::of(-0.5));
    }
    let h = b.len();
    let out_w = if ones.is_empty() { T::zero() } else { T::one() };
    let hidden = Linear::from_tensors(Tensor::from_vec(w, [h, n])?, Some(Tensor::from_vec(b, [h])?))?;
    let output = Linear::from_tensors(Tensor::full([1, h], out_w)?, Some(Tensor::full([1], T::of(-0.5))?))?;
    Ok(Sequential::new().with(hidden).with(Activation::Step).with(output).with(Activation::Step))
}

/// XOR exactly as on the slide: hidden neurons OR `[x1 + x2 - 1/2 > 0]` and AND `[x1 + x2 - 3/2 > 0]`,
/// output `[(x1 or x2) - (x1 and x2) - 1/2 > 0]`.
///
/// ```
/// use tapegrad::Tensor;
/// use tapegrad_nn::{logic::xor_network, Module};
/// let x = Tensor::from_vec(vec![0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0], [4, 2]).unwrap();
/// assert_eq!(xor_network::<f64>().predict(&x).unwrap().to_vec(), vec![0.0, 1.0, 1.0, 0.0]);
/// ```
pub fn xor_network<T: Float>() -> Sequential<T> {
    let t = |v: &[f64], dims: &[usize]| {
        Tensor::from_vec(v.iter().map(|&x| T::of(x)).collect(), dims).expect("invariant: sizes match")
    };
    let hidden = Linear::from_tensors(t(&[1.0, 1.0, 1.0, 1.0], &[2, 2]), Some(t(&[-0.5, -1.5], &[2])))
        .expect("invariant: valid layer");
    let output =
        Linear::from_tensors(t(&[1.0, -1.0], &[1, 2]), Some(t(&[-0.5], &[1]))).expect("invariant: valid layer");
    Sequential::new().with(hidden).with(Activation::Step).with(output).with(Activation::Step)
}

#[cfg(test)]
mod tests {
    use super::{boolean_network, truth_table_row};
    use crate::{Error, Module};
    use tapegrad::Tensor;

    #[test]
    fn every_boolean_function_of_three_inputs_is_computed_exactly() {
        let rows: Vec<f64> = (0..8).flat_map(|r| truth_table_row(3, r)).map(|b| if b { 1.0 } else { 0.0 }).collect();
        let x = Tensor::from_vec(rows, [8, 3]).unwrap();
        for f in 0u32..256 {
            let table: Vec<bool> = (0..8).map(|i| (f >> i) & 1 == 1).collect();
            let net = boolean_network::<f64>(3, &table).unwrap();
            let y = net.predict(&x).unwrap().to_vec();
            let want: Vec<f64> = table.iter().map(|&b| if b { 1.0 } else { 0.0 }).collect();
            assert_eq!(y, want, "function {f:08b}");
        }
    }

    #[test]
    fn boolean_network_rejects_a_table_of_the_wrong_length() {
        let err = boolean_network::<f64>(2, &[true; 3]).unwrap_err();
        assert!(matches!(err, Error::Config { what: "boolean_network", .. }), "{err}");
        assert!(boolean_network::<f64>(0, &[true]).is_err());
    }
}
