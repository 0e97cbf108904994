//! The `tensor!` macro.

/// A [`Tensor`](crate::Tensor) from nested array literals of rank 1 to 4, like NumPy's `np.array(...)`:
/// the shape is read from the nesting, the element type from the literals or the context (`f64` when
/// nothing says otherwise). It expands to `Tensor::from([...])` (see the `From` impls for arrays).
///
/// ```
/// use tapegrad::{Tensor, tensor};
/// let m = tensor![[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]];
/// assert_eq!(m.dims(), &[2, 3]);
/// assert_eq!(m.to_vec(), vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
///
/// let v: Tensor<f32> = tensor![0.5, -1.0];
/// assert_eq!(v.dims(), &[2]);
///
/// let x = 2.0;
/// let t = tensor![[[x, x * 2.0]], [[3.0, 4.0]]];
/// assert_eq!(t.dims(), &[2, 1, 2]);
/// assert_eq!(tensor![[[[1.0]], [[2.0]]]].dims(), &[1, 2, 1, 1]);
/// ```
///
/// Rows of different lengths do not compile:
///
/// ```compile_fail
/// let bad = tapegrad::tensor![[1.0, 2.0], [3.0]];
/// ```
#[macro_export]
macro_rules! tensor {
    ($($x:tt)+) => {
        $crate::Tensor::from([$($x)+])
    };
}
