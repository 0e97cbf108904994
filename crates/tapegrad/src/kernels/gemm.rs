//! The one place that calls the GEMM kernel (`matrixmultiply`), and the one `unsafe` block it needs.
//!
//! Matrices are described by a pointer-free [`MatRef`]: a slice, an offset, row and column strides. The
//! transposes that backward needs are expressed as swapped strides, never as copies.

/// A strided matrix view inside a slice.
#[derive(Clone, Copy, Debug)]
pub struct MatRef {
    /// Rows.
    pub rows: usize,
    /// Columns.
    pub cols: usize,
    /// Element offset of `[0, 0]` in the slice.
    pub offset: usize,
    /// Stride between rows, in elements.
    pub rs: usize,
    /// Stride between columns, in elements.
    pub cs: usize,
}

impl MatRef {
    /// A row-major `rows x cols` matrix at `offset`, optionally read transposed.
    pub fn row_major(rows: usize, cols: usize, offset: usize, transposed: bool) -> Self {
        if transposed {
            MatRef { rows: cols, cols: rows, offset, rs: 1, cs: cols }
        } else {
            MatRef { rows, cols, offset, rs: cols, cs: 1 }
        }
    }

    /// Index one past the last element this view touches (0 for an empty view).
    fn end(&self) -> usize {
        if self.rows == 0 || self.cols == 0 {
            return self.offset;
        }
        self.offset + (self.rows - 1) * self.rs + (self.cols - 1) * self.cs + 1
    }
}

/// Element types with a GEMM kernel: `c = alpha * a b + beta * c`.
pub trait Gemm: Copy {
    /// Computes `c = alpha * a * b + beta * c` on strided views; `c` is row-major contiguous at `c_off`.
    ///
    /// # Panics
    /// When a view reaches outside its slice or the inner dimensions differ (a broken engine invariant:
    /// callers check shapes first).
    #[allow(clippy::too_many_arguments)]
    fn gemm(alpha: Self, a: &[Self], av: MatRef, b: &[Self], bv: MatRef, beta: Self, c: &mut [Self], c_off: usize);
}

macro_rules! impl_gemm {
    ($t:ty, $f:ident) => {
        impl Gemm for $t {
            fn gemm(alpha: $t, a: &[$t], av: MatRef, b: &[$t], bv: MatRef, beta: $t, c: &mut [$t], c_off: usize) {
                let (m, k, n) = (av.rows, av.cols, bv.cols);
                assert_eq!(k, bv.rows, "invariant: gemm inner dimensions agree");
                assert!(av.end() <= a.len() && bv.end() <= b.len(), "invariant: gemm views inside their slices");
                assert!(c_off + m * n <= c.len(), "invariant: gemm output inside its slice");
                if m == 0 || n == 0 {
                    return;
                }
                // SAFETY: the asserts above keep every element the kernel reads (a, b) or writes (c) inside
                // the slices; strides are non-negative and fit in isize for any slice that fits in memory; `c`
                // is borrowed mutably, so nothing else aliases it.
                unsafe {
                    matrixmultiply::$f(
                        m,
                        k,
                        n,
                        alpha,
                        a.as_ptr().add(av.offset),
                        av.rs as isize,
                        av.cs as isize,
                        b.as_ptr().add(bv.offset),
                        bv.rs as isize,
                        bv.cs as isize,
                        beta,
                        c.as_mut_ptr().add(c_off),
                        n as isize,
                        1,
                    );
                }
            }
        }
    };
}

impl_gemm!(f32, sgemm);
impl_gemm!(f64, dgemm);
