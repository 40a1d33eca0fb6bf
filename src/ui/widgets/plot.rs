//! A multi-series line chart drawn into a cell grid, with bounds computed from the data
//! (ratatui's `Chart` does not autoscale, and has no ASCII marker).
//!
//! Resolution per cell: braille 2×4 dots, half blocks 1×2, ASCII 1×1 (`*`, the baseline `.`).
//! Series are drawn in order, so later series (the agents) sit on top of earlier ones (the
//! baseline). The left gutter carries the y labels; the last row the x labels.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;

use crate::ui::glyphs::Glyphs;

/// One line on the chart.
#[derive(Debug, Clone)]
pub struct Series<'a> {
    /// (x, y), x ascending.
    pub points: &'a [(f64, f64)],
    pub style: Style,
    /// Drawn with `.` in ASCII mode (the baseline).
    pub faint: bool,
}

/// Axis labels to draw, and their style.
#[derive(Debug, Clone, Default)]
pub struct Labels {
    pub y: Vec<String>,
    pub x_left: String,
    pub x_right: String,
    pub style: Style,
}

/// Data bounds over every series (x from the first to the last point; y padded 5 %).
pub fn bounds(series: &[Series<'_>]) -> Option<([f64; 2], [f64; 2])> {
    let mut x = [f64::MAX, f64::MIN];
    let mut y = [f64::MAX, f64::MIN];
    for s in series {
        for &(px, py) in s.points {
            if px.is_finite() && py.is_finite() {
                x = [x[0].min(px), x[1].max(px)];
                y = [y[0].min(py), y[1].max(py)];
            }
        }
    }
    if x[0] > x[1] {
        return None;
    }
    if x[1] - x[0] < 1.0 {
        x[1] = x[0] + 1.0;
    }
    let pad = ((y[1] - y[0]) * 0.05).max(y[1].abs().max(1.0) * 1e-4);
    Some((x, [y[0] - pad, y[1] + pad]))
}

/// Draws `series` into `area` of `buf`; `gutter` columns on the left hold the y labels.
pub fn draw(
    buf: &mut Buffer,
    area: Rect,
    series: &[Series<'_>],
    xb: [f64; 2],
    yb: [f64; 2],
    labels: &Labels,
    glyphs: Glyphs,
) {
    let label_style = labels.style;
    let gutter = labels.y.iter().map(|l| l.chars().count()).max().unwrap_or(0) as u16 + 1;
    if area.width <= gutter + 2 || area.height < 3 {
        return;
    }
    let plot = Rect { x: area.x + gutter, y: area.y, width: area.width - gutter, height: area.height - 1 };
    // y labels: top, middle, bottom.
    let n = labels.y.len();
    for (i, l) in labels.y.iter().enumerate() {
        let row = if n <= 1 { 0 } else { (i as u16 * (plot.height - 1)) / (n as u16 - 1) };
        buf.set_stringn(
            area.x,
            plot.y + row,
            format!("{l:>w$}", w = gutter as usize - 1),
            gutter as usize,
            label_style,
        );
    }
    let bottom = area.y + area.height - 1;
    buf.set_stringn(plot.x, bottom, &labels.x_left, plot.width as usize, label_style);
    let rw = labels.x_right.chars().count() as u16;
    if rw + labels.x_left.chars().count() as u16 + 1 < plot.width {
        buf.set_stringn(plot.x + plot.width - rw, bottom, &labels.x_right, rw as usize, label_style);
    }

    let (sx, sy): (usize, usize) = if glyphs.ascii {
        (1, 1)
    } else if glyphs.braille {
        (2, 4)
    } else {
        (1, 2)
    };
    let (w, h) = (plot.width as usize, plot.height as usize);
    let (pw, ph) = (w * sx, h * sy);
    let mut bits = vec![0u8; w * h];
    let mut owner: Vec<Option<usize>> = vec![None; w * h];
    let span_x = (xb[1] - xb[0]).max(f64::MIN_POSITIVE);
    let span_y = (yb[1] - yb[0]).max(f64::MIN_POSITIVE);
    let to_px = |(x, y): (f64, f64)| -> (i64, i64) {
        let px = ((x - xb[0]) / span_x * (pw - 1) as f64).round() as i64;
        let py = ((yb[1] - y) / span_y * (ph - 1) as f64).round() as i64;
        (px, py)
    };
    for (si, s) in series.iter().enumerate() {
        let mut prev: Option<(i64, i64)> = None;
        for &p in s.points.iter().filter(|(x, y)| x.is_finite() && y.is_finite()) {
            let cur = to_px(p);
            let from = prev.unwrap_or(cur);
            line(from, cur, |px, py| {
                if px < 0 || py < 0 || px as usize >= pw || py as usize >= ph {
                    return;
                }
                let (cx, cy) = (px as usize / sx, py as usize / sy);
                let (dx, dy) = (px as usize % sx, py as usize % sy);
                let idx = cy * w + cx;
                bits[idx] |= subpixel_bit(dx, dy, sx, sy);
                owner[idx] = Some(si);
            });
            prev = Some(cur);
        }
    }
    for cy in 0..h {
        for cx in 0..w {
            let idx = cy * w + cx;
            let Some(si) = owner[idx] else { continue };
            let ch = cell_char(bits[idx], sx, sy, series[si].faint, glyphs);
            if let Some(cell) = buf.cell_mut((plot.x + cx as u16, plot.y + cy as u16)) {
                cell.set_char(ch).set_style(series[si].style);
            }
        }
    }
}

fn subpixel_bit(dx: usize, dy: usize, sx: usize, sy: usize) -> u8 {
    match (sx, sy) {
        (2, 4) => {
            const MAP: [[u8; 2]; 4] = [[0x01, 0x08], [0x02, 0x10], [0x04, 0x20], [0x40, 0x80]];
            MAP[dy][dx]
        }
        (1, 2) => 1 << dy,
        _ => 1,
    }
}

fn cell_char(bits: u8, sx: usize, sy: usize, faint: bool, glyphs: Glyphs) -> char {
    match (sx, sy) {
        (2, 4) => char::from_u32(0x2800 + u32::from(bits)).unwrap_or(' '),
        (1, 2) => match bits {
            1 => '▀',
            2 => '▄',
            _ => '█',
        },
        _ if glyphs.ascii && faint => '.',
        _ => '*',
    }
}

/// Bresenham from `a` to `b`, inclusive.
fn line((mut x0, mut y0): (i64, i64), (x1, y1): (i64, i64), mut plot: impl FnMut(i64, i64)) {
    let dx = (x1 - x0).abs();
    let dy = -(y1 - y0).abs();
    let (stx, sty) = (if x0 < x1 { 1 } else { -1 }, if y0 < y1 { 1 } else { -1 });
    let mut err = dx + dy;
    loop {
        plot(x0, y0);
        if x0 == x1 && y0 == y1 {
            break;
        }
        let e2 = 2 * err;
        if e2 >= dy {
            err += dy;
            x0 += stx;
        }
        if e2 <= dx {
            err += dx;
            y0 += sty;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(glyphs: Glyphs, pts: &[(f64, f64)]) -> Vec<String> {
        let area = Rect::new(0, 0, 12, 5);
        let mut buf = Buffer::empty(area);
        let s = [Series { points: pts, style: Style::default(), faint: false }];
        let (xb, yb) = bounds(&s).unwrap();
        let labels = Labels {
            y: vec!["hi".into(), "lo".into()],
            x_left: "a".into(),
            x_right: "b".into(),
            style: Style::default(),
        };
        draw(&mut buf, area, &s, xb, yb, &labels, glyphs);
        (0..5).map(|y| (0..12).map(|x| buf[(x, y)].symbol().to_owned()).collect()).collect()
    }

    #[test]
    fn ascii_line_rises_left_to_right() {
        let rows = render(Glyphs::ASCII, &[(0.0, 0.0), (1.0, 1.0)]);
        assert_eq!(rows[0], "hi        **");
        assert!(rows[3].starts_with("lo **"), "{rows:?}");
        assert_eq!(rows[4], "   a       b");
    }

    #[test]
    fn every_marker_draws_something_and_bounds_handle_flat_data() {
        for g in [Glyphs::UNICODE, Glyphs { ascii: false, braille: true }] {
            let rows = render(g, &[(0.0, 5.0), (10.0, 5.0)]);
            assert!(rows[..4].iter().any(|r| r.chars().skip(3).any(|c| c != ' ')), "{rows:?}");
        }
        assert!(bounds(&[Series { points: &[], style: Style::default(), faint: false }]).is_none());
    }
}
