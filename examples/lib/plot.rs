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

/// One chart of named curves `y(x)` over a numeric x axis (for functions, not epochs), for [`xy_panels`].
#[derive(Debug, Clone, Default)]
pub struct XyPanel {
    /// Title above the chart.
    pub title: String,
    /// Label of the x axis.
    pub x_desc: String,
    /// Label of the y axis.
    pub y_desc: String,
    /// `(name, points)`; non-finite points are skipped.
    pub series: Vec<(String, Vec<(f64, f64)>)>,
    /// Draw the x axis on a log10 scale (values must be positive; ticks show `10^k`).
    pub log_x: bool,
    /// Draw the y axis on a log10 scale.
    pub log_y: bool,
}

/// The series colours of every chart (matplotlib's `tab10`), cycled by series index.
pub const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// The colour of series `i` in the function charts ([`PALETTE`], cycled).
fn series_color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// Writes a PNG with `panels` in a grid of `cols` columns: curves over a numeric x axis, optionally with
/// log10 axes (drawn as `log10` of the values, labelled `1e{k}`).
///
/// # Errors
/// [`Error::Plot`] when drawing or writing fails.
pub fn xy_panels(path: &Path, panels: &[XyPanel], cols: usize) -> Result<PathBuf> {
    ensure_font();
    let cols = cols.clamp(1, panels.len().max(1));
    let rows = panels.len().div_ceil(cols).max(1);
    let root = BitMapBackend::new(path, (460 * cols as u32, 360 * rows as u32)).into_drawing_area();
    root.fill(&WHITE).map_err(plot_err(path))?;
    for (panel, area) in panels.iter().zip(root.split_evenly((rows, cols)).iter()) {
        let tx = |v: f64| if panel.log_x { v.log10() } else { v };
        let ty = |v: f64| if panel.log_y { v.log10() } else { v };
        let pts = || panel.series.iter().flat_map(|s| s.1.iter().map(|&(x, y)| (tx(x), ty(y))));
        let ok = |v: &f64| v.is_finite();
        let bounds = |vals: Vec<f64>| {
            let lo = vals.iter().copied().filter(ok).fold(f64::INFINITY, f64::min);
            let hi = vals.iter().copied().filter(ok).fold(f64::NEG_INFINITY, f64::max);
            if lo.is_finite() && hi > lo {
                (lo, hi)
            } else if lo.is_finite() {
                (lo - 1.0, lo + 1.0) // one value: centre it
            } else {
                (0.0, 1.0)
            }
        };
        let (x0, x1) = bounds(pts().map(|p| p.0).collect());
        let (y0, y1) = bounds(pts().map(|p| p.1).collect());
        let pad = 0.05 * (y1 - y0);
        let mut chart = ChartBuilder::on(area)
            .caption(&panel.title, (FONT, 20))
            .margin(10)
            .x_label_area_size(36)
            .y_label_area_size(56)
            .build_cartesian_2d(x0..x1, (y0 - pad)..(y1 + pad))
            .map_err(plot_err(path))?;
        let (lx, ly) = (panel.log_x, panel.log_y);
        let fx = move |v: &f64| if lx { format!("1e{v:.1}") } else { format!("{v:.2}") };
        let fy = move |v: &f64| if ly { format!("1e{v:.1}") } else { format!("{v:.2}") };
        chart
            .configure_mesh()
            .x_desc(panel.x_desc.as_str())
            .y_desc(panel.y_desc.as_str())
            .x_label_formatter(&fx)
            .y_label_formatter(&fy)
            .label_style((FONT, 13))
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(plot_err(path))?;
        for (i, (name, points)) in panel.series.iter().enumerate() {
            let color = series_color(i);
            let line: Vec<(f64, f64)> =
                points.iter().map(|&(x, y)| (tx(x), ty(y))).filter(|p| p.0.is_finite() && p.1.is_finite()).collect();
            chart
                .draw_series(LineSeries::new(line, color.stroke_width(2)))
                .map_err(plot_err(path))?
                .label(name.as_str())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
        }
        if !panel.series.is_empty() {
            chart
                .configure_series_labels()
                .label_font((FONT, 13))
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .position(SeriesLabelPosition::UpperLeft)
                .draw()
                .map_err(plot_err(path))?;
        }
    }
    root.present().map_err(plot_err(path))?;
    Ok(path.to_path_buf())
}

/// One 2-D picture for [`plane_panels`]: a shaded field over a rectangle (a decision region or a loss
/// surface), labelled points and named paths or lines on top.
#[derive(Debug, Clone, Default)]
pub struct PlanePanel {
    /// Title above the picture.
    pub title: String,
    /// The rectangle `(x0, x1, y0, y1)`.
    pub extent: (f64, f64, f64, f64),
    /// `res x res` values in `[0, 1]`, row 0 at the bottom (`y0`), drawn from light blue (0) to light
    /// orange (1); empty for a white background.
    pub field: Vec<f64>,
    /// Side of the field's grid.
    pub res: usize,
    /// Points `(x, y, class)`: class 0 blue circles, 1 orange, others further colours.
    pub points: Vec<(f64, f64, usize)>,
    /// `(name, polyline)`: separating lines, optimizer paths, contour lines (an empty name has no legend).
    pub paths: Vec<(String, Vec<(f64, f64)>)>,
}

/// The contour lines of a sampled function at each of `levels` (marching squares).
///
/// `values` holds `res x res` samples taken at cell centres of the rectangle `extent = (x0, x1, y0, y1)`,
/// row 0 at the bottom, as in [`PlanePanel::field`]. Each returned line is one straight segment
/// `[p, q]` where the linear interpolation between neighbouring samples crosses a level; together they trace
/// the level set `f = level` (ready for [`PlanePanel::paths`] with an empty name). A square whose four
/// corners lie on alternating sides of the level (a saddle) is split by the value at its centre, the mean of
/// the corners. Non-finite samples end the lines that would pass through them.
pub fn contour_lines(values: &[f64], res: usize, extent: (f64, f64, f64, f64), levels: &[f64]) -> Vec<Vec<(f64, f64)>> {
    let mut lines = Vec::new();
    if res < 2 || values.len() != res * res {
        return lines;
    }
    let (x0, x1, y0, y1) = extent;
    let (dx, dy) = ((x1 - x0) / res as f64, (y1 - y0) / res as f64);
    // The sample (i, j) sits at the centre of cell (i, j): row i counts up from y0, column j from x0.
    let at = |i: usize, j: usize| (x0 + (j as f64 + 0.5) * dx, y0 + (i as f64 + 0.5) * dy);
    for &level in levels {
        for i in 0..res - 1 {
            for j in 0..res - 1 {
                // Corners counter-clockwise from the bottom left, and the edges between them.
                let corners = [(i, j), (i, j + 1), (i + 1, j + 1), (i + 1, j)];
                let v = corners.map(|(a, b)| values[a * res + b]);
                if v.iter().any(|x| !x.is_finite()) {
                    continue;
                }
                // Where the level crosses edge k (from corner k to corner k + 1), if it does.
                let cross = |k: usize| {
                    let (a, b) = (v[k], v[(k + 1) % 4]);
                    if (a < level) == (b < level) {
                        return None;
                    }
                    let t = (level - a) / (b - a);
                    let (p, q) = (at(corners[k].0, corners[k].1), at(corners[(k + 1) % 4].0, corners[(k + 1) % 4].1));
                    Some((p.0 + t * (q.0 - p.0), p.1 + t * (q.1 - p.1)))
                };
                let hits: Vec<(usize, (f64, f64))> = (0..4).filter_map(|k| cross(k).map(|p| (k, p))).collect();
                match hits.as_slice() {
                    [(_, p), (_, q)] => lines.push(vec![*p, *q]),
                    [a, b, c, d] => {
                        // Saddle: pair each crossing with the neighbour that keeps the centre's side whole.
                        let centre_below = v.iter().sum::<f64>() / 4.0 < level;
                        if centre_below == (v[0] < level) {
                            lines.push(vec![a.1, b.1]);
                            lines.push(vec![c.1, d.1]);
                        } else {
                            lines.push(vec![a.1, d.1]);
                            lines.push(vec![b.1, c.1]);
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    lines
}

/// Writes a PNG with the 2-D panels in a grid of `cols` columns.
///
/// # Errors
/// [`Error::Plot`] when drawing or writing fails.
pub fn plane_panels(path: &Path, panels: &[PlanePanel], cols: usize) -> Result<PathBuf> {
    ensure_font();
    let cols = cols.clamp(1, panels.len().max(1));
    let rows = panels.len().div_ceil(cols).max(1);
    let root = BitMapBackend::new(path, (420 * cols as u32, 420 * rows as u32)).into_drawing_area();
    root.fill(&WHITE).map_err(plot_err(path))?;
    for (panel, area) in panels.iter().zip(root.split_evenly((rows, cols)).iter()) {
        let (x0, x1, y0, y1) = panel.extent;
        let mut chart = ChartBuilder::on(area)
            .caption(&panel.title, (FONT, 18))
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(40)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(plot_err(path))?;
        chart.configure_mesh().disable_mesh().label_style((FONT, 12)).draw().map_err(plot_err(path))?;
        let r = panel.res;
        if r > 0 && panel.field.len() == r * r {
            let (dx, dy) = ((x1 - x0) / r as f64, (y1 - y0) / r as f64);
            let cells = panel.field.iter().enumerate().map(|(k, &v)| {
                let (i, j) = (k / r, k % r);
                let v = if v.is_finite() { v.clamp(0.0, 1.0) } else { 0.5 };
                let mix = |a: f64, b: f64| (a + (b - a) * v) as u8;
                let c = RGBColor(mix(198.0, 253.0), mix(219.0, 208.0), mix(239.0, 162.0));
                let (cx, cy) = (x0 + j as f64 * dx, y0 + i as f64 * dy);
                Rectangle::new([(cx, cy), (cx + dx, cy + dy)], c.filled())
            });
            chart.draw_series(cells).map_err(plot_err(path))?;
        }
        let class_color = |c: usize| [RGBColor(31, 119, 180), RGBColor(230, 100, 0), RGBColor(44, 160, 44)][c % 3];
        chart
            .draw_series(panel.points.iter().map(|&(x, y, c)| Circle::new((x, y), 3, class_color(c).filled())))
            .map_err(plot_err(path))?;
        let mut legend = false;
        let mut named = 0;
        for (name, line) in &panel.paths {
            let color = if name.is_empty() { RGBColor(90, 90, 90) } else { series_color(named) };
            named += usize::from(!name.is_empty());
            let width = if name.is_empty() { 1 } else { 2 };
            let drawn = chart
                .draw_series(LineSeries::new(line.iter().copied(), color.stroke_width(width)))
                .map_err(plot_err(path))?;
            if !name.is_empty() {
                legend = true;
                drawn
                    .label(name.as_str())
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
            }
        }
        if legend {
            chart
                .configure_series_labels()
                .label_font((FONT, 12))
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .position(SeriesLabelPosition::UpperRight)
                .draw()
                .map_err(plot_err(path))?;
        }
    }
    root.present().map_err(plot_err(path))?;
    Ok(path.to_path_buf())
}
