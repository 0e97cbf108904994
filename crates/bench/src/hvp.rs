//! h1: the Hessian-vector product of the digits-MLP loss, the workload of second-order methods.

use crate::data;
use crate::report::{J, base, stats};
use std::error::Error;
use std::time::Instant;
use tapegrad::{Tape, Tensor};

type R<T> = Result<T, Box<dyn Error>>;

/// One full HVP on a fresh tape: the loss `mean softmax CE(relu(relu(x W1 + b1) W2 + b2) W3 + b3)` of the
/// batch, its gradient graph, and the gradient of `<gradient, v>` ([`Tape::hvp`]).
pub fn hvp_once(params: &[Tensor<f32>], v: &[Tensor<f32>], x: &Tensor<f32>, labels: &[usize]) -> R<Vec<Tensor<f32>>> {
    let tape = Tape::new();
    let ps: Vec<_> = params.iter().map(|p| tape.leaf(p.clone())).collect();
    let mut h = tape.input(x.clone());
    for layer in 0..3 {
        h = h.matmul(ps[2 * layer])?.add(ps[2 * layer + 1])?;
        if layer < 2 {
            h = h.relu();
        }
    }
    let loss = h.softmax_cross_entropy(labels)?;
    Ok(tape.hvp(loss, &ps, v)?)
}

/// h1: the HVP with respect to all six parameter tensors at the parameters and direction of `h1_init.txt`,
/// on the first 32 training rows of the w1 split. 60 rounds, the first 10 are warm-up; `hv_norm` is
/// `||H v||` summed in f64.
pub fn h1(threads: usize) -> R<Vec<(&'static str, J)>> {
    let (params, v) = data::h1_init()?;
    let (train, _) = data::digits()?;
    let batch = train.gather(&(0..32).collect::<Vec<_>>())?;
    let labels = batch.labels().ok_or("digits: no class labels")?;
    let mut times = Vec::new();
    let mut hv = Vec::new();
    for round in 0..60 {
        let t0 = Instant::now();
        hv = hvp_once(&params, &v, batch.features(), labels)?;
        if round >= 10 {
            times.push(t0.elapsed().as_secs_f64());
        }
    }
    let norm = hv.iter().flat_map(|t| t.data()).map(|&x| f64::from(x).powi(2)).sum::<f64>().sqrt();
    let (med, min, max) = stats(&times);
    let mut out = base("h1", threads);
    out.extend([("median_s", J::F(med)), ("min_s", J::F(min)), ("max_s", J::F(max)), ("hv_norm", J::F(norm))]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn hv_norm_matches_pytorch_to_the_printed_precision() {
        let out = super::h1(1).unwrap();
        let norm = out.iter().find_map(|(k, v)| match (k, v) {
            (&"hv_norm", crate::report::J::F(x)) => Some(*x),
            _ => None,
        });
        let norm = norm.unwrap();
        // PyTorch float32: 7.717982174143241 (h1_init.txt's header); printed precision 7.717982.
        assert!((norm - 7.717982).abs() < 5e-7, "||Hv|| = {norm}");
    }
}
