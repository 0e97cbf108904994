//! Pictures the examples write: training curves (PNG and SVG) and grids of digits (PNG). Tiles on a shared
//! colour scale with a colour bar are in [`crate::heatmap`].
//!
//! Text is drawn with a font compiled into the binary (`assets/DejaVuSans.ttf`), so no system font library
//! is needed.

use crate::error::{Error, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::Once;

/// The font family name the bundled font is registered under.
pub const FONT: &str = "sans-serif";

/// Registers the bundled font under `sans-serif` (once per process).
pub fn ensure_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let bytes: &'static [u8] = include_bytes!("../assets/DejaVuSans.ttf");
        plotters::style::register_font(FONT, FontStyle::Normal, bytes)
            .unwrap_or_else(|_| panic!("invariant: the bundled font parses"));
    });
}

/// Turns any drawing error into [`Error::Plot`] for `path`.
pub fn plot_err<E: std::fmt::Display>(path: &Path) -> impl Fn(E) -> Error + '_ {
    move |e| Error::Plot { path: path.display().to_string(), msg: e.to_string() }
}

/// Named series over epochs for one panel.
#[derive(Debug, Clone)]
pub struct Panel<'a> {
    /// Title, e.g. `loss`.
    pub title: &'a str,
    /// `(name, value per epoch)`.
    pub series: Vec<(&'a str, &'a [f64])>,
}

const COLORS: [RGBColor; 4] =
    [RGBColor(31, 119, 180), RGBColor(255, 127, 14), RGBColor(44, 160, 44), RGBColor(214, 39, 40)];

/// Draws panels side by side on one area.
fn draw_panels<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, panels: &[Panel<'_>], path: &Path) -> Result<()> {
    root.fill(&WHITE).map_err(plot_err(path))?;
    let areas = root.split_evenly((1, panels.len().max(1)));
    for (panel, area) in panels.iter().zip(&areas) {
        let n = panel.series.iter().map(|s| s.1.len()).max().unwrap_or(0).max(2);
        let finite = || panel.series.iter().flat_map(|s| s.1.iter().copied()).filter(|v| v.is_finite());
        let lo = finite().fold(f64::INFINITY, f64::min);
        let hi = finite().fold(f64::NEG_INFINITY, f64::max);
        let (lo, hi) = if lo.is_finite() && hi > lo { (lo, hi) } else { (0.0, 1.0) };
        let pad = 0.05 * (hi - lo);
        let mut chart = ChartBuilder::on(area)
            .caption(panel.title, (FONT, 22))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(56)
            .build_cartesian_2d(1f64..n as f64, (lo - pad)..(hi + pad))
            .map_err(plot_err(path))?;
        chart
            .configure_mesh()
            .x_desc("epoch")
            .x_label_formatter(&|x| format!("{x:.0}"))
            .label_style((FONT, 14))
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(plot_err(path))?;
        for (i, (name, values)) in panel.series.iter().enumerate() {
            let color = COLORS[i % COLORS.len()];
            let points = values.iter().enumerate().map(|(e, &v)| ((e + 1) as f64, v));
            chart
                .draw_series(LineSeries::new(points, color.stroke_width(2)))
                .map_err(plot_err(path))?
                .label(*name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
        }
        chart
            .configure_series_labels()
            .label_font((FONT, 14))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .position(SeriesLabelPosition::MiddleRight)
            .draw()
            .map_err(plot_err(path))?;
    }
    root.present().map_err(plot_err(path))
}

/// Writes `stem.png` and `stem.svg` with the panels side by side (e.g. loss and accuracy per epoch).
///
/// # Errors
/// [`Error::Plot`] when drawing or writing fails.
pub fn curves(stem: &Path, panels: &[Panel<'_>]) -> Result<Vec<PathBuf>> {
    ensure_font();
    let size = (560 * panels.len().max(1) as u32, 420);
    let png = stem.with_extension("png");
    draw_panels(&BitMapBackend::new(&png, size).into_drawing_area(), panels, &png)?;
    let svg = stem.with_extension("svg");
    draw_panels(&SVGBackend::new(&svg, size).into_drawing_area(), panels, &svg)?;
    Ok(vec![png, svg])
}

/// Draws each row of `images` (`side x side` values, row-major) as a tile in a grid of `cols` columns, with an
/// optional caption under each tile. `color` maps a value to its pixel colour.
fn tile_grid(
    path: &Path,
    images: &[Vec<f64>],
    side: usize,
    cols: usize,
    captions: Option<&[String]>,
    color: &dyn Fn(&[f64], f64) -> RGBColor,
) -> Result<PathBuf> {
    ensure_font();
    let (px, gap) = (8usize, 6usize);
    let caption_h = if captions.is_some() { 18 } else { 0 };
    let cols = cols.max(1).min(images.len().max(1));
    let rows = images.len().div_ceil(cols).max(1);
    let (tile_w, tile_h) = (side * px + gap, side * px + gap + caption_h);
    let size = ((cols * tile_w + gap) as u32, (rows * tile_h + gap) as u32);
    let root = BitMapBackend::new(path, size).into_drawing_area();
    root.fill(&WHITE).map_err(plot_err(path))?;
    for (k, img) in images.iter().enumerate() {
        let (x0, y0) = (gap + (k % cols) * tile_w, gap + (k / cols) * tile_h);
        for (i, &v) in img.iter().enumerate().take(side * side) {
            let (x, y) = ((x0 + (i % side) * px) as i32, (y0 + (i / side) * px) as i32);
            let rect = Rectangle::new([(x, y), (x + px as i32, y + px as i32)], color(img, v).filled());
            root.draw(&rect).map_err(plot_err(path))?;
        }
        if let Some(text) = captions.and_then(|c| c.get(k)) {
            let pos = (x0 as i32, (y0 + side * px + 3) as i32);
            root.draw(&Text::new(text.as_str(), pos, (FONT, 13).into_font())).map_err(plot_err(path))?;
        }
    }
    root.present().map_err(plot_err(path))?;
    Ok(path.to_path_buf())
}

/// Writes grey-scale images (values in `[0, 1]`, dark ink on white) in a grid with a caption under each.
///
/// # Errors
/// [`Error::Plot`] when drawing or writing fails.
pub fn image_grid(path: &Path, images: &[Vec<f64>], side: usize, cols: usize, captions: &[String]) -> Result<PathBuf> {
    let color = |_: &[f64], v: f64| {
        let g = (255.0 * (1.0 - v.clamp(0.0, 1.0))) as u8;
        RGBColor(g, g, g)
    };
    tile_grid(path, images, side, cols, Some(captions), &color)
}
