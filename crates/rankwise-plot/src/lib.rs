//! PNG charts of training curves, score distributions and study results, drawn with `plotters`
//! (its bitmap backend) and a bundled font (DejaVu Sans, through the `dejavu` crate): no system
//! fonts and no native libraries. Axes whose values are all whole numbers (steps, epochs) get
//! whole-number ticks; long labels are kept inside the image.

use std::path::Path;
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// A chart that could not be drawn or written.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// Drawing or writing the file failed.
    #[error("{}: {detail}", path.display())]
    Write {
        /// The file.
        path: std::path::PathBuf,
        /// What happened.
        detail: String,
    },
}

/// Series colours (colour-blind friendly).
pub const PALETTE: [[u8; 3]; 8] = [
    [0, 114, 178],
    [213, 94, 0],
    [0, 158, 115],
    [204, 121, 167],
    [230, 159, 0],
    [86, 180, 233],
    [140, 140, 140],
    [240, 228, 66],
];

/// Size of line charts and histograms.
const SIZE: (u32, u32) = (900, 560);
/// Bar charts are taller: their category names and legend sit under the axis.
const BAR_SIZE: (u32, u32) = (900, 600);
/// The font family every text is drawn in (registered once from the bundled bytes).
const FONT: &str = "sans-serif";

fn colour(i: usize) -> RGBColor {
    let [r, g, b] = PALETTE[i % PALETTE.len()];
    RGBColor(r, g, b)
}

/// Registers the bundled font under [`FONT`] (once per process).
fn font() -> Result<(), String> {
    static REGISTERED: OnceLock<Result<(), String>> = OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular())
                .map_err(|_| "the bundled font could not be read".to_string())
        })
        .clone()
}

/// Draws on an RGB canvas of `size` with `draw`, then writes it as a PNG atomically.
fn render(
    path: &Path,
    size: (u32, u32),
    draw: impl FnOnce(&DrawingArea<BitMapBackend<'_>, Shift>) -> Result<(), String>,
) -> Result<(), PlotError> {
    let err = |detail: String| PlotError::Write {
        path: path.to_path_buf(),
        detail,
    };
    font().map_err(err)?;
    let mut px = vec![255u8; size.0 as usize * size.1 as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut px, size).into_drawing_area();
        draw(&root).map_err(err)?;
        root.present().map_err(|e| err(e.to_string()))?;
    }
    rankwise_files::write_atomic_with(path, |out| {
        let mut enc = png::Encoder::new(out, size.0, size.1);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut writer = enc.write_header().map_err(std::io::Error::other)?;
        writer
            .write_image_data(&px)
            .map_err(std::io::Error::other)?;
        writer.finish().map_err(std::io::Error::other)
    })
    .map_err(|e| err(e.to_string()))
}

/// The finite range of `values`, widened when it is a single value (`(0, 1)` when empty).
fn range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    if hi - lo < 1e-12 {
        return (lo - 0.5, hi + 0.5);
    }
    (lo, hi)
}

/// `(lo, hi)` widened by 4 % on each side, so a line at the extremes is not cut by the frame.
fn padded((lo, hi): (f64, f64)) -> (f64, f64) {
    let pad = (hi - lo) * 0.04;
    (lo - pad, hi + pad)
}

/// How many x ticks, and whether they are whole numbers: at most one per whole number when
/// every value is one (so a run of 5 steps reads 1, 2, 3, 4, 5, never 1.5), else 8.
fn x_ticks(xs: impl Iterator<Item = f64>, (lo, hi): (f64, f64)) -> (usize, bool) {
    let mut xs = xs.filter(|x| x.is_finite()).peekable();
    let whole = xs.peek().is_some() && xs.all(|x| x.fract() == 0.0);
    if whole {
        (((hi - lo).round() as usize + 1).clamp(2, 10), true)
    } else {
        (8, false)
    }
}

/// A tick value as text: whole numbers as such, others with three decimals at most, very large
/// or small ones in scientific form; a value within a millionth of the axis' `span` of 0 is 0
/// (the rounding error of a tick computed as `start + i·step`).
fn tick(v: f64, whole: bool, span: f64) -> String {
    let a = v.abs();
    if a <= span.abs() * 1e-6 {
        "0".into()
    } else if whole || (100.0..1e5).contains(&a) {
        format!("{v:.0}")
    } else if a != 0.0 && !(1e-3..1e5).contains(&a) {
        format!("{v:.1e}")
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

fn text_style(size: u32) -> TextStyle<'static> {
    (FONT, size).into_font().color(&BLACK)
}

/// A line chart of `(name, points)` series.
pub fn line_chart(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[(&str, Vec<(f64, f64)>)],
) -> Result<(), PlotError> {
    let points = || series.iter().flat_map(|s| s.1.iter().copied());
    let xr = range(points().map(|p| p.0));
    let yr = padded(range(points().map(|p| p.1)));
    let (x_count, whole) = x_ticks(points().map(|p| p.0), xr);
    render(path, SIZE, |root| {
        let e = |e: &dyn std::fmt::Display| e.to_string();
        let x = Some((x_label, x_count, whole));
        let mut chart = axes(root, title, xr, x, yr, y_label)?;
        for (i, (name, pts)) in series.iter().enumerate() {
            let c = colour(i);
            let pts: Vec<(f64, f64)> = pts
                .iter()
                .copied()
                .filter(|p| p.0.is_finite() && p.1.is_finite())
                .collect();
            let drawn = if pts.len() == 1 {
                chart.draw_series(pts.iter().map(|&p| Circle::new(p, 4, c.filled())))
            } else {
                chart.draw_series(LineSeries::new(pts, c.stroke_width(2)))
            };
            drawn
                .map_err(|x| e(&x))?
                .label(*name)
                .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 18, y + 6)], c.filled()));
        }
        legend(&mut chart)
    })
}

/// The x axis of a chart: its name, how many ticks, and whether they are whole numbers (`None`:
/// no ticks; the bar chart names its categories itself).
type XAxis<'s> = Option<(&'s str, usize, bool)>;

/// A white canvas with the title, the axes over `x_range` × `y_range`, their ticks and names.
fn axes<'a, 'b>(
    root: &'a DrawingArea<BitMapBackend<'b>, Shift>,
    title: &str,
    x_range: (f64, f64),
    x: XAxis<'_>,
    y_range: (f64, f64),
    y_label: &str,
) -> Result<ChartContext<'a, BitMapBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>, String>
{
    let e = |e: &dyn std::fmt::Display| e.to_string();
    root.fill(&WHITE).map_err(|x| e(&x))?;
    let mut chart = ChartBuilder::on(root)
        .caption(title, text_style(22))
        .margin(16)
        .x_label_area_size(if x.is_some() { 48 } else { 40 })
        .y_label_area_size(80)
        .build_cartesian_2d(x_range.0..x_range.1, y_range.0..y_range.1)
        .map_err(|x| e(&x))?;
    let (x_label, x_count, whole) = x.unwrap_or(("", 0, false));
    let mut mesh = chart.configure_mesh();
    if x.is_none() {
        mesh.disable_x_mesh();
    }
    mesh.x_desc(x_label)
        .y_desc(y_label)
        .x_labels(x_count)
        .y_labels(6)
        .x_label_formatter(&|x| tick(*x, whole, x_range.1 - x_range.0))
        .y_label_formatter(&|y| tick(*y, false, y_range.1 - y_range.0))
        .label_style(text_style(15))
        .axis_desc_style(text_style(16))
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(|x| e(&x))?;
    Ok(chart)
}

/// The series' legend, in the upper right corner on a white box.
fn legend<'a, DB: DrawingBackend + 'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
) -> Result<(), String> {
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .label_font(text_style(15))
        .draw()
        .map_err(|e| e.to_string())
}

/// Overlaid histograms (as outlined step curves, normalised to fractions) of `(name, values)`.
pub fn histogram(
    path: &Path,
    title: &str,
    x_label: &str,
    groups: &[(&str, Vec<f64>)],
    bins: usize,
) -> Result<(), PlotError> {
    let bins = bins.max(1);
    let xr = range(groups.iter().flat_map(|g| g.1.iter().copied()));
    let width = (xr.1 - xr.0) / bins as f64;
    let steps: Vec<Vec<(f64, f64)>> = groups
        .iter()
        .map(|(_, v)| {
            let mut h = vec![0.0; bins];
            for x in v.iter().filter(|x| x.is_finite()) {
                h[(((x - xr.0) / width) as usize).min(bins - 1)] += 1.0;
            }
            let n = v.len().max(1) as f64;
            let mut pts = vec![(xr.0, 0.0)];
            for (b, c) in h.iter().enumerate() {
                let (a, z) = (xr.0 + b as f64 * width, xr.0 + (b + 1) as f64 * width);
                pts.extend([(a, c / n), (z, c / n)]);
            }
            pts.push((xr.1, 0.0));
            pts
        })
        .collect();
    let ymax = steps
        .iter()
        .flatten()
        .map(|p| p.1)
        .fold(0.0, f64::max)
        .max(1e-9)
        * 1.08;
    render(path, SIZE, |root| {
        let e = |e: &dyn std::fmt::Display| e.to_string();
        let x = Some((x_label, 8, false));
        let mut chart = axes(root, title, xr, x, (0.0, ymax), "fraction")?;
        for (i, ((name, _), pts)) in groups.iter().zip(steps).enumerate() {
            let c = colour(i);
            chart
                .draw_series(LineSeries::new(pts, c.stroke_width(2)))
                .map_err(|x| e(&x))?
                .label(*name)
                .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 18, y + 6)], c.filled()));
        }
        legend(&mut chart)
    })
}

/// One bar of a [`bar_chart`]: a value and the half-width of its error bar (0: none).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bar {
    /// Height.
    pub value: f64,
    /// Error-bar half-width (e.g. one standard deviation).
    pub error: f64,
}

/// Grouped bars: one group per category (named under the axis, shortened with "…" when it
/// would not fit its slot), one coloured bar per series in each group, with error bars. The
/// value axis starts at `floor` (e.g. a little under the smallest bar, so that small differences
/// are visible; the axis labels say where it starts).
pub fn bar_chart(
    path: &Path,
    title: &str,
    y_label: &str,
    categories: &[&str],
    series: &[(&str, Vec<Bar>)],
    floor: f64,
) -> Result<(), PlotError> {
    let tops = series
        .iter()
        .flat_map(|s| s.1.iter().map(|b| b.value + b.error.max(0.0)));
    let (_, hi) = range(tops.chain(std::iter::once(floor + 1e-6)));
    let yr = (floor, hi + (hi - floor) * 0.12);
    let groups = categories.len().max(1);
    let width = 0.8 / series.len().max(1) as f64;
    render(path, BAR_SIZE, |root| {
        let e = |e: &dyn std::fmt::Display| e.to_string();
        let mut chart = axes(root, title, (0.0, groups as f64), None, yr, y_label)?;
        for (s, (name, bars)) in series.iter().enumerate() {
            let c = colour(s);
            let at = |g: usize| g as f64 + 0.1 + s as f64 * width;
            let drawn = bars
                .iter()
                .enumerate()
                .take(groups)
                .filter(|(_, b)| b.value.is_finite());
            chart
                .draw_series(drawn.clone().map(|(g, b)| {
                    Rectangle::new(
                        [(at(g), yr.0), (at(g) + width * 0.92, b.value.max(yr.0))],
                        c.filled(),
                    )
                }))
                .map_err(|x| e(&x))?
                .label(*name)
                .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 18, y + 6)], c.filled()));
            chart
                .draw_series(drawn.filter(|(_, b)| b.error > 0.0).map(|(g, b)| {
                    let mid = at(g) + width * 0.46;
                    ErrorBar::new_vertical(
                        mid,
                        (b.value - b.error).max(yr.0),
                        b.value,
                        b.value + b.error,
                        BLACK.stroke_width(1),
                        8,
                    )
                }))
                .map_err(|x| e(&x))?;
        }
        // Category names under their groups, cut to the slot's width.
        let slot_px = {
            let (a, _) = chart.backend_coord(&(0.0, yr.0));
            let (b, _) = chart.backend_coord(&(1.0, yr.0));
            (b - a).max(1) as usize
        };
        for (g, name) in categories.iter().enumerate() {
            let (x, y) = chart.backend_coord(&(g as f64 + 0.5, yr.0));
            let style = text_style(15).pos(Pos::new(HPos::Center, VPos::Top));
            let label = fit(name, slot_px, |t| {
                root.estimate_text_size(t, &style)
                    .map_or(0, |s| s.0 as usize)
            });
            root.draw(&Text::new(label, (x, y + 8), style))
                .map_err(|x| e(&x))?;
        }
        legend(&mut chart)
    })
}

/// `text`, or its longest prefix with "…" that `measure` says fits in `width` pixels.
fn fit(text: &str, width: usize, measure: impl Fn(&str) -> usize) -> String {
    if measure(text) <= width {
        return text.to_string();
    }
    let chars: Vec<char> = text.chars().collect();
    (0..chars.len())
        .rev()
        .map(|n| chars[..n].iter().collect::<String>() + "…")
        .find(|t| measure(t) <= width)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::{fit, tick, x_ticks};

    #[test]
    fn whole_steps_get_whole_ticks() {
        let steps = [1.0, 2.0, 3.0, 4.0, 5.0];
        assert_eq!(x_ticks(steps.into_iter(), (1.0, 5.0)), (5, true));
        assert_eq!(tick(2.0, true, 4.0), "2");
        assert_eq!(x_ticks([0.5, 1.0].into_iter(), (0.5, 1.0)), (8, false));
        assert_eq!(tick(2.5, false, 4.0), "2.5");
        assert_eq!(tick(1000.0, false, 4.0), "1000");
        assert_eq!(tick(1e-5, false, 2e-5), "1.0e-5");
        assert_eq!(tick(-5.6e-17, false, 1.0), "0");
    }

    #[test]
    fn long_labels_are_cut_to_fit() {
        let measure = |t: &str| t.chars().count() * 10;
        assert_eq!(fit("scifact", 100, measure), "scifact");
        assert_eq!(fit("a-very-long-name", 60, measure), "a-ver…");
    }
}
