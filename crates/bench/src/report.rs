//! Timing statistics and the one JSON line the comparison script reads.

use std::fmt::Write;

/// Median, minimum and maximum of a non-empty sample (the median of an even count is the mean of the two
/// middle values, as Python's `statistics.median`).
pub fn stats(xs: &[f64]) -> (f64, f64, f64) {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let med = if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 };
    (med, v[0], v[n - 1])
}

/// A JSON value of the output line.
pub enum J {
    /// A string.
    S(String),
    /// A number (non-finite numbers print as `null`).
    F(f64),
    /// An integer.
    I(i64),
}

/// One JSON object on one line, keys in the given order.
pub fn json_line(fields: &[(&str, J)]) -> String {
    let mut s = String::from("{");
    for (i, (k, v)) in fields.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        let _ = write!(s, "\"{k}\": ");
        match v {
            J::S(x) => {
                let _ = write!(s, "\"{}\"", x.replace('\\', "\\\\").replace('"', "\\\""));
            }
            J::F(x) if x.is_finite() => {
                let _ = write!(s, "{x:e}");
            }
            J::F(_) => s.push_str("null"),
            J::I(x) => {
                let _ = write!(s, "{x}");
            }
        }
    }
    s.push('}');
    s
}

/// The fields every line starts with: workload, system, threads, version.
pub fn base(workload: &str, threads: usize) -> Vec<(&'static str, J)> {
    vec![
        ("workload", J::S(workload.to_uppercase())),
        ("system", J::S("tapegrad".into())),
        ("threads", J::I(threads as i64)),
        ("version", J::S(env!("CARGO_PKG_VERSION").into())),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_even_count_is_mean_of_middle_values() {
        assert_eq!(stats(&[4.0, 1.0, 3.0, 2.0]), (2.5, 1.0, 4.0));
        assert_eq!(stats(&[5.0, 1.0, 3.0]), (3.0, 1.0, 5.0));
    }

    #[test]
    fn json_line_escapes_strings_and_nulls_non_finite_numbers() {
        let s = json_line(&[("a", J::S("x\"y".into())), ("b", J::F(f64::NAN)), ("c", J::I(2)), ("d", J::F(0.5))]);
        assert_eq!(s, r#"{"a": "x\"y", "b": null, "c": 2, "d": 5e-1}"#);
    }
}
