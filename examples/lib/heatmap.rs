//! Pictures of small grids of numbers for the convolution examples: kernels, images and feature maps drawn
//! as tiles, in sections that each share one colour scale shown by a colour bar (so tiles of a section
//! compare directly), optionally with each cell's value written in it.

use crate::error::Result;
use crate::plot::{FONT, ensure_font, plot_err};
use plotters::prelude::*;
use std::path::{Path, PathBuf};

/// How values map to colours.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scale {
    /// Blue below zero, white at zero, red above; `max` is the magnitude of full colour.
    Diverging {
        /// The magnitude drawn in full colour.
        max: f64,
    },
    /// Grey levels: `lo` white, `hi` black (dark ink on paper, as the digits are drawn).
    Grey {
        /// The value drawn white.
        lo: f64,
        /// The value drawn black.
        hi: f64,
    },
}

impl Scale {
    /// A diverging scale whose full colour is the largest magnitude among `tiles` (one scale for all).
    pub fn diverging_over(tiles: &[Tile]) -> Scale {
        let max = tiles.iter().flat_map(|t| &t.values).fold(0.0f64, |m, v| m.max(v.abs()));
        Scale::Diverging { max: if max > 0.0 { max } else { 1.0 } }
    }

    /// A grey scale from the smallest to the largest value among `tiles` (one scale for all).
    pub fn grey_over(tiles: &[Tile]) -> Scale {
        let all = || tiles.iter().flat_map(|t| t.values.iter().copied());
        let lo = all().fold(f64::INFINITY, f64::min);
        let hi = all().fold(f64::NEG_INFINITY, f64::max);
        if lo.is_finite() && hi > lo { Scale::Grey { lo, hi } } else { Scale::Grey { lo: 0.0, hi: 1.0 } }
    }

    fn range(self) -> (f64, f64) {
        match self {
            Scale::Diverging { max } => (-max, max),
            Scale::Grey { lo, hi } => (lo, hi),
        }
    }

    fn color(self, v: f64) -> RGBColor {
        match self {
            Scale::Diverging { max } => {
                let v = (v / max).clamp(-1.0, 1.0);
                let fade = |c: f64| (255.0 * (1.0 - v.abs()) + c * v.abs()) as u8;
                if v >= 0.0 {
                    RGBColor(fade(178.0), fade(24.0), fade(43.0))
                } else {
                    RGBColor(fade(33.0), fade(102.0), fade(172.0))
                }
            }
            Scale::Grey { lo, hi } => {
                let g = (255.0 * (1.0 - ((v - lo) / (hi - lo)).clamp(0.0, 1.0))) as u8;
                RGBColor(g, g, g)
            }
        }
    }
}

/// One grid of `rows x cols` values (row-major) with a caption under it.
#[derive(Debug, Clone)]
pub struct Tile {
    /// The values, row-major.
    pub values: Vec<f64>,
    /// Rows.
    pub rows: usize,
    /// Columns.
    pub cols: usize,
    /// Text under the tile.
    pub caption: String,
}

impl Tile {
    /// A tile of `rows x cols` values from any float slice.
    pub fn new<T: Copy + Into<f64>>(values: &[T], rows: usize, cols: usize, caption: impl Into<String>) -> Tile {
        Tile { values: values.iter().map(|&v| v.into()).collect(), rows, cols, caption: caption.into() }
    }
}

/// A titled group of tiles drawn on one [`Scale`], with its colour bar on the right.
#[derive(Debug, Clone)]
pub struct Section {
    /// Title above the tiles.
    pub title: String,
    /// The tiles, left to right then top to bottom.
    pub tiles: Vec<Tile>,
    /// Tiles per row.
    pub per_row: usize,
    /// The colour scale shared by all tiles of the section.
    pub scale: Scale,
    /// Side of one cell in pixels.
    pub cell: usize,
    /// Write each cell's value in it (for small worked examples).
    pub numbers: bool,
}

const GAP: usize = 10;
const TITLE_H: usize = 28;
const CAPTION_H: usize = 18;
const BAR_W: usize = 110;

fn label(v: f64) -> String {
    let a = v.abs();
    if a == 0.0 || (0.01..1000.0).contains(&a) { format!("{v:.2}") } else { format!("{v:.1e}") }
}

impl Section {
    fn tile_size(&self) -> (usize, usize) {
        let rows = self.tiles.iter().map(|t| t.rows).max().unwrap_or(1);
        let cols = self.tiles.iter().map(|t| t.cols).max().unwrap_or(1);
        (cols * self.cell + GAP, rows * self.cell + GAP + CAPTION_H)
    }

    fn size(&self) -> (usize, usize) {
        let (tw, th) = self.tile_size();
        let per_row = self.per_row.clamp(1, self.tiles.len().max(1));
        let grid_rows = self.tiles.len().div_ceil(per_row).max(1);
        (per_row * tw + BAR_W, TITLE_H + (grid_rows * th).max(120))
    }
}

/// Draws `sections` one under another into a PNG at `path`.
///
/// # Errors
/// [`crate::Error::Plot`] when drawing or writing fails.
pub fn sections(path: &Path, sections: &[Section]) -> Result<PathBuf> {
    ensure_font();
    let width = sections.iter().map(|s| s.size().0).max().unwrap_or(200) + 2 * GAP;
    let height: usize = sections.iter().map(|s| s.size().1 + GAP).sum::<usize>() + GAP;
    let root = BitMapBackend::new(path, (width as u32, height as u32)).into_drawing_area();
    root.fill(&WHITE).map_err(plot_err(path))?;
    let err = plot_err(path);
    let mut y0 = GAP;
    for s in sections {
        let (tw, th) = s.tile_size();
        let per_row = s.per_row.clamp(1, s.tiles.len().max(1));
        root.draw(&Text::new(s.title.as_str(), (GAP as i32, y0 as i32 + 4), (FONT, 17).into_font())).map_err(&err)?;
        let top = y0 + TITLE_H;
        for (k, t) in s.tiles.iter().enumerate() {
            let (x0, ty) = (GAP + (k % per_row) * tw, top + (k / per_row) * th);
            for (i, &v) in t.values.iter().enumerate().take(t.rows * t.cols) {
                let (x, y) = ((x0 + (i % t.cols) * s.cell) as i32, (ty + (i / t.cols) * s.cell) as i32);
                let c = s.cell as i32;
                root.draw(&Rectangle::new([(x, y), (x + c, y + c)], s.scale.color(v).filled())).map_err(&err)?;
                if s.numbers {
                    let dark = s.scale.color(v).0 < 110 || s.scale.color(v).1 < 110;
                    let style = (FONT, 12).into_font().color(if dark { &WHITE } else { &BLACK });
                    let text = if v.fract() == 0.0 { format!("{v:.0}") } else { format!("{v:.2}") };
                    root.draw(&Text::new(text, (x + 3, y + c / 2 - 6), style)).map_err(&err)?;
                }
            }
            let frame = [(x0 as i32, ty as i32), ((x0 + t.cols * s.cell) as i32, (ty + t.rows * s.cell) as i32)];
            root.draw(&Rectangle::new(frame, BLACK.mix(0.3))).map_err(&err)?;
            let caption = (x0 as i32, (ty + t.rows * s.cell + 3) as i32);
            root.draw(&Text::new(t.caption.as_str(), caption, (FONT, 13).into_font())).map_err(&err)?;
        }
        // The colour bar: high values at the top, labelled at both ends and the middle.
        let bx = (GAP + per_row * tw + 10) as i32;
        let bar_h = (s.size().1 - TITLE_H - CAPTION_H).clamp(60, 400) as i32;
        let (lo, hi) = s.scale.range();
        for step in 0..bar_h {
            let v = hi - (hi - lo) * f64::from(step) / f64::from(bar_h - 1);
            let y = top as i32 + step;
            root.draw(&Rectangle::new([(bx, y), (bx + 18, y + 1)], s.scale.color(v).filled())).map_err(&err)?;
        }
        root.draw(&Rectangle::new([(bx, top as i32), (bx + 18, top as i32 + bar_h)], BLACK)).map_err(&err)?;
        for (frac, v) in [(0.0, hi), (0.5, (hi + lo) / 2.0), (1.0, lo)] {
            let y = top as i32 + (frac * f64::from(bar_h - 1)) as i32 - 6;
            root.draw(&Text::new(label(v), (bx + 24, y), (FONT, 13).into_font())).map_err(&err)?;
        }
        y0 += s.size().1 + GAP;
    }
    root.present().map_err(plot_err(path))?;
    Ok(path.to_path_buf())
}
