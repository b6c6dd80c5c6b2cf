//! PNG line charts and histograms for training curves and score distributions, drawn on an
//! RGB canvas with a built-in bitmap font (no system fonts, no native libraries).

mod font;

use std::path::Path;

/// A chart that could not be written.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// Writing the file failed.
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

struct Canvas {
    w: usize,
    h: usize,
    px: Vec<u8>,
}

impl Canvas {
    fn new(w: usize, h: usize) -> Self {
        Self {
            w,
            h,
            px: vec![255; w * h * 3],
        }
    }

    fn set(&mut self, x: i64, y: i64, c: [u8; 3]) {
        if x >= 0 && y >= 0 && (x as usize) < self.w && (y as usize) < self.h {
            let i = (y as usize * self.w + x as usize) * 3;
            self.px[i..i + 3].copy_from_slice(&c);
        }
    }

    fn rect(&mut self, x0: i64, y0: i64, x1: i64, y1: i64, c: [u8; 3]) {
        for y in y0.min(y1)..=y0.max(y1) {
            for x in x0.min(x1)..=x0.max(x1) {
                self.set(x, y, c);
            }
        }
    }

    fn line(&mut self, (x0, y0): (f64, f64), (x1, y1): (f64, f64), c: [u8; 3]) {
        let n = ((x1 - x0).abs().max((y1 - y0).abs()).ceil() as usize).max(1);
        for i in 0..=n {
            let t = i as f64 / n as f64;
            let (x, y) = (x0 + t * (x1 - x0), y0 + t * (y1 - y0));
            self.rect(x as i64, y as i64, x as i64 + 1, y as i64 + 1, c);
        }
    }

    /// Text at (x, y) top-left, scale 2 (10×14 px per glyph, 12 px advance).
    fn text(&mut self, x: i64, y: i64, s: &str, c: [u8; 3]) {
        for (k, ch) in s.chars().enumerate() {
            let g = font::glyph(ch);
            for (row, bits) in g.iter().enumerate() {
                for col in 0..5 {
                    if bits & (1 << (4 - col)) != 0 {
                        let (px, py) = (x + k as i64 * 12 + col * 2, y + row as i64 * 2);
                        self.rect(px, py, px + 1, py + 1, c);
                    }
                }
            }
        }
    }

    fn save(&self, path: &Path) -> Result<(), PlotError> {
        let err = |e: &dyn std::fmt::Display| PlotError::Write {
            path: path.to_path_buf(),
            detail: e.to_string(),
        };
        rankwise_files::write_atomic_with(path, |out| {
            let mut enc = png::Encoder::new(out, self.w as u32, self.h as u32);
            enc.set_color(png::ColorType::Rgb);
            enc.set_depth(png::BitDepth::Eight);
            let mut writer = enc.write_header().map_err(std::io::Error::other)?;
            writer
                .write_image_data(&self.px)
                .map_err(std::io::Error::other)?;
            writer.finish().map_err(std::io::Error::other)
        })
        .map_err(|e| err(&e))
    }
}

fn tick(v: f64) -> String {
    let a = v.abs();
    if a != 0.0 && !(1e-2..1e4).contains(&a) {
        format!("{v:.1e}")
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.3}")
    }
}

const W: usize = 900;
const H: usize = 560;
const LEFT: f64 = 110.0;
const RIGHT: f64 = 880.0;
const TOP: f64 = 60.0;
const BOTTOM: f64 = 480.0;

/// Title, y label, both axis lines and the five value ticks of `(y0, y1)` — what every chart
/// shares.
fn y_axis(c: &mut Canvas, title: &str, y_label: &str, (y0, y1): (f64, f64)) {
    let grey = [90, 90, 90];
    c.text(LEFT as i64, 16, title, [0, 0, 0]);
    c.text(LEFT as i64, 38, y_label, [0, 0, 0]);
    c.rect(LEFT as i64, TOP as i64, LEFT as i64, BOTTOM as i64, grey);
    c.rect(
        LEFT as i64,
        BOTTOM as i64,
        RIGHT as i64,
        BOTTOM as i64,
        grey,
    );
    for i in 0..=4 {
        let t = i as f64 / 4.0;
        let y = BOTTOM - t * (BOTTOM - TOP);
        c.rect(LEFT as i64 - 6, y as i64, LEFT as i64, y as i64, grey);
        c.text(4, y as i64 - 7, &tick(y0 + t * (y1 - y0)), grey);
    }
}

fn frame(
    c: &mut Canvas,
    title: &str,
    x_label: &str,
    y_label: &str,
    (x0, x1): (f64, f64),
    yr: (f64, f64),
) {
    let grey = [90, 90, 90];
    y_axis(c, title, y_label, yr);
    for i in 0..=4 {
        let t = i as f64 / 4.0;
        let x = LEFT + t * (RIGHT - LEFT);
        c.rect(x as i64, BOTTOM as i64, x as i64, BOTTOM as i64 + 6, grey);
        let label = tick(x0 + t * (x1 - x0));
        c.text(
            x as i64 - 6 * label.len() as i64,
            BOTTOM as i64 + 12,
            &label,
            grey,
        );
    }
    c.text(
        ((LEFT + RIGHT) / 2.0) as i64 - 6 * x_label.len() as i64,
        BOTTOM as i64 + 40,
        x_label,
        [0, 0, 0],
    );
}

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

fn legend(c: &mut Canvas, names: &[&str]) {
    let mut x = RIGHT as i64 - 12 * names.iter().map(|n| n.len() + 4).sum::<usize>() as i64;
    for (i, n) in names.iter().enumerate() {
        c.rect(x, 40, x + 18, 52, PALETTE[i % PALETTE.len()]);
        c.text(x + 24, 40, n, [0, 0, 0]);
        x += 12 * (n.len() as i64 + 4);
    }
}

/// A line chart of `(name, points)` series.
pub fn line_chart(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[(&str, Vec<(f64, f64)>)],
) -> Result<(), PlotError> {
    let mut c = Canvas::new(W, H);
    let xr = range(series.iter().flat_map(|s| s.1.iter().map(|p| p.0)));
    let yr = range(series.iter().flat_map(|s| s.1.iter().map(|p| p.1)));
    frame(&mut c, title, x_label, y_label, xr, yr);
    let map = |(x, y): (f64, f64)| {
        (
            LEFT + (x - xr.0) / (xr.1 - xr.0) * (RIGHT - LEFT),
            BOTTOM - (y - yr.0) / (yr.1 - yr.0) * (BOTTOM - TOP),
        )
    };
    for (i, (_, pts)) in series.iter().enumerate() {
        let colour = PALETTE[i % PALETTE.len()];
        let pts: Vec<(f64, f64)> = pts
            .iter()
            .copied()
            .filter(|p| p.0.is_finite() && p.1.is_finite())
            .collect();
        for w in pts.windows(2) {
            c.line(map(w[0]), map(w[1]), colour);
        }
        if pts.len() == 1 {
            let (x, y) = map(pts[0]);
            c.rect(
                x as i64 - 2,
                y as i64 - 2,
                x as i64 + 2,
                y as i64 + 2,
                colour,
            );
        }
    }
    legend(&mut c, &series.iter().map(|s| s.0).collect::<Vec<_>>());
    c.save(path)
}

/// A legend in rows from `y` down, wrapped within the plot's width (many or long names).
fn wrapped_legend(c: &mut Canvas, names: &[&str], y: i64) {
    let (mut x, mut y) = (LEFT as i64, y);
    for (i, n) in names.iter().enumerate() {
        let width = 12 * (n.chars().count() as i64 + 4);
        if x + width > RIGHT as i64 && x > LEFT as i64 {
            x = LEFT as i64;
            y += 20;
        }
        c.rect(x, y, x + 18, y + 12, PALETTE[i % PALETTE.len()]);
        c.text(x + 24, y, n, [0, 0, 0]);
        x += width;
    }
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
    let counts: Vec<Vec<f64>> = groups
        .iter()
        .map(|(_, v)| {
            let mut h = vec![0.0; bins];
            for x in v.iter().filter(|x| x.is_finite()) {
                let b = (((x - xr.0) / width) as usize).min(bins - 1);
                h[b] += 1.0;
            }
            let n = v.len().max(1) as f64;
            h.iter().map(|c| c / n).collect()
        })
        .collect();
    let ymax = counts
        .iter()
        .flatten()
        .copied()
        .fold(0.0, f64::max)
        .max(1e-9);
    let mut c = Canvas::new(W, H);
    frame(&mut c, title, x_label, "fraction", xr, (0.0, ymax));
    let sx = |x: f64| LEFT + (x - xr.0) / (xr.1 - xr.0) * (RIGHT - LEFT);
    let sy = |y: f64| BOTTOM - y / ymax * (BOTTOM - TOP);
    for (i, h) in counts.iter().enumerate() {
        let colour = PALETTE[i % PALETTE.len()];
        let mut prev = (sx(xr.0), sy(0.0));
        for (b, &v) in h.iter().enumerate() {
            let (a, z) = (
                sx(xr.0 + b as f64 * width),
                sx(xr.0 + (b + 1) as f64 * width),
            );
            c.line(prev, (a, sy(v)), colour);
            c.line((a, sy(v)), (z, sy(v)), colour);
            prev = (z, sy(v));
        }
        c.line(prev, (sx(xr.1), sy(0.0)), colour);
    }
    legend(&mut c, &groups.iter().map(|g| g.0).collect::<Vec<_>>());
    c.save(path)
}

/// One bar of a [`bar_chart`]: a value and the half-width of its error bar (0: none).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bar {
    /// Height.
    pub value: f64,
    /// Error-bar half-width (e.g. one standard deviation).
    pub error: f64,
}

/// Grouped bars: one group per category (labelled under the axis), one coloured bar per series
/// in each group, with error bars. The value axis starts at `floor` (e.g. a little under the
/// smallest bar, so that small differences are visible; the axis labels say where it starts).
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
    let yr = (floor, hi + (hi - floor) * 0.05);
    let mut c = Canvas::new(W, H + 40);
    y_axis(&mut c, title, y_label, yr);
    let sy = |v: f64| BOTTOM - (v - yr.0) / (yr.1 - yr.0) * (BOTTOM - TOP);
    let groups = categories.len().max(1) as f64;
    let slot = (RIGHT - LEFT) / groups;
    let width = slot * 0.8 / series.len().max(1) as f64;
    for (g, name) in categories.iter().enumerate() {
        let x0 = LEFT + g as f64 * slot + slot * 0.1;
        for (s, (_, bars)) in series.iter().enumerate() {
            let Some(bar) = bars.get(g) else { continue };
            if !bar.value.is_finite() {
                continue;
            }
            let colour = PALETTE[s % PALETTE.len()];
            let (a, z) = (x0 + s as f64 * width, x0 + (s as f64 + 1.0) * width - 2.0);
            let top = sy(bar.value.max(yr.0));
            c.rect(a as i64, top as i64, z as i64, BOTTOM as i64 - 1, colour);
            if bar.error > 0.0 {
                let mid = (a + z) / 2.0;
                let (lo, up) = (
                    sy((bar.value - bar.error).max(yr.0)),
                    sy(bar.value + bar.error),
                );
                c.line((mid, lo), (mid, up), [0, 0, 0]);
                c.line((mid - 3.0, up), (mid + 3.0, up), [0, 0, 0]);
                c.line((mid - 3.0, lo), (mid + 3.0, lo), [0, 0, 0]);
            }
        }
        let label: String = name.chars().take((slot / 12.0) as usize).collect();
        let mid = LEFT + (g as f64 + 0.5) * slot;
        c.text(
            mid as i64 - 6 * label.len() as i64,
            BOTTOM as i64 + 12,
            &label,
            [0, 0, 0],
        );
    }
    wrapped_legend(
        &mut c,
        &series.iter().map(|s| s.0).collect::<Vec<_>>(),
        BOTTOM as i64 + 36,
    );
    c.save(path)
}
