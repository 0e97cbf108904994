//! The element types a tensor can hold: `f32` (the training default) and `f64` (gradient checks).

use crate::kernels::gemm::{Gemm, GemmSerial};
use std::fmt::{Debug, Display};
use std::iter::Sum;
use std::ops::{AddAssign, DivAssign, MulAssign, SubAssign};

/// The data type of a tensor, as saved in model files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DType {
    /// 32-bit IEEE float.
    F32,
    /// 64-bit IEEE float.
    F64,
}

/// A floating-point element type: `f32` or `f64`.
pub trait Float:
    num_traits::Float
    + num_traits::FloatConst
    + Gemm
    + GemmSerial
    + Send
    + Sync
    + 'static
    + Debug
    + Display
    + Default
    + Sum
    + AddAssign
    + SubAssign
    + MulAssign
    + DivAssign
    + num_traits::FromPrimitive
{
    /// The matching [`DType`].
    const DTYPE: DType;
    /// Converts from `f64`, rounding for `f32`.
    fn of(v: f64) -> Self;
    /// Converts to `f64` exactly.
    fn f64(self) -> f64;
    /// The inline buffer of tiny tensors: 16 bytes of elements (four `f32` or two `f64`), so a tensor is
    /// 56 bytes and a tape node 128 for either type.
    type Inline: Copy + Default + AsRef<[Self]> + AsMut<[Self]> + Send + Sync + 'static;
    /// These elements as `f32` when `Self` is `f32` (for the kernels written for `f32` only), else `None`.
    fn as_f32(s: &[Self]) -> Option<&[f32]> {
        let _ = s;
        None
    }
    /// [`Float::as_f32`] for a mutable slice.
    fn as_f32_mut(s: &mut [Self]) -> Option<&mut [f32]> {
        let _ = s;
        None
    }
}

impl Float for f32 {
    const DTYPE: DType = DType::F32;
    type Inline = [f32; 4];
    fn of(v: f64) -> Self {
        v as f32
    }
    fn as_f32(s: &[Self]) -> Option<&[f32]> {
        Some(s)
    }
    fn as_f32_mut(s: &mut [Self]) -> Option<&mut [f32]> {
        Some(s)
    }
    fn f64(self) -> f64 {
        self as f64
    }
}

impl Float for f64 {
    const DTYPE: DType = DType::F64;
    type Inline = [f64; 2];
    fn of(v: f64) -> Self {
        v
    }
    fn f64(self) -> f64 {
        self
    }
}
