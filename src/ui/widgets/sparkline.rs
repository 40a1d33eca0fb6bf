//! Text sparklines that accept any `f64` series (negative P&L included): the series is scaled
//! between its own minimum and maximum. Blocks by default, braille (two samples a cell) as an
//! option, and an ASCII ramp for `--ascii`. ratatui's `Sparkline` takes only `u64`, which is
//! why this exists.

use crate::ui::glyphs::Glyphs;

const BLOCKS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
const ASCII: [char; 5] = ['_', '.', '-', '~', '^'];
/// Smallest range drawn, relative to the level.
const MIN_RANGE: f64 = 0.002;

/// Resamples `values` to `n` points (last value of each bucket), keeping the newest.
fn resample(values: &[f64], n: usize) -> Vec<f64> {
    let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if finite.len() <= n {
        return finite;
    }
    (0..n)
        .map(|i| {
            let end = ((i + 1) * finite.len()) / n;
            finite[end.saturating_sub(1).min(finite.len() - 1)]
        })
        .collect()
}

fn level(v: f64, min: f64, max: f64, levels: usize) -> usize {
    if max - min <= f64::EPSILON * max.abs().max(1.0) {
        return levels / 2;
    }
    let x = ((v - min) / (max - min) * (levels - 1) as f64).round();
    (x.max(0.0) as usize).min(levels - 1)
}

/// A sparkline of at most `width` cells.
pub fn sparkline(values: &[f64], width: usize, glyphs: Glyphs) -> String {
    if width == 0 {
        return String::new();
    }
    let per_cell = if glyphs.braille && !glyphs.ascii { 2 } else { 1 };
    let pts = resample(values, width * per_cell);
    if pts.is_empty() {
        return String::new();
    }
    let (lo, hi) = pts.iter().fold((f64::MAX, f64::MIN), |(a, b), &v| (a.min(v), b.max(v)));
    // A floor on the range (0.2 % of the level) keeps a flat line with one tiny move from
    // being drawn as a cliff.
    let floor = (lo.abs().max(hi.abs()) * MIN_RANGE).max(f64::MIN_POSITIVE);
    let pad = ((floor - (hi - lo)) / 2.0).max(0.0);
    let (min, max) = (lo - pad, hi + pad);
    if glyphs.ascii {
        return pts.iter().map(|&v| ASCII[level(v, min, max, ASCII.len())]).collect();
    }
    if per_cell == 1 {
        return pts.iter().map(|&v| BLOCKS[level(v, min, max, BLOCKS.len())]).collect();
    }
    // Braille: left column dots 1,2,3,7 (bottom = 7), right column 4,5,6,8 (bottom = 8).
    const LEFT: [u32; 4] = [0x40, 0x04, 0x02, 0x01];
    const RIGHT: [u32; 4] = [0x80, 0x20, 0x10, 0x08];
    pts.chunks(2)
        .map(|c| {
            let mut bits = 0u32;
            // Fill from the bottom up to the level, like a bar, so small screens read it.
            for (col, &v) in c.iter().enumerate() {
                let l = level(v, min, max, 4);
                let dots = if col == 0 { LEFT } else { RIGHT };
                for d in dots.iter().take(l + 1) {
                    bits |= d;
                }
            }
            char::from_u32(0x2800 + bits).unwrap_or(' ')
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_scale_between_min_and_max_including_negatives() {
        let s = sparkline(&[-5.0, 0.0, 5.0], 3, Glyphs::UNICODE);
        assert_eq!(s, "▁▅█");
        // 10,000 then 9,999: a 0.01 % move is drawn small, not as a cliff.
        let s = sparkline(&[10_000.0, 10_000.0, 9_999.0], 3, Glyphs::UNICODE);
        assert_eq!(s, "▅▅▄");
        assert_eq!(sparkline(&[1.0, 1.0], 5, Glyphs::UNICODE), "▅▅");
        assert_eq!(sparkline(&[], 5, Glyphs::UNICODE), "");
        assert_eq!(sparkline(&[0.0, f64::NAN, 1.0], 5, Glyphs::UNICODE), "▁█");
    }

    #[test]
    fn width_is_respected_and_newest_kept() {
        let v: Vec<f64> = (0..100).map(f64::from).collect();
        let s = sparkline(&v, 10, Glyphs::UNICODE);
        assert_eq!(s.chars().count(), 10);
        assert!(s.ends_with('█'));
        let a = sparkline(&v, 10, Glyphs::ASCII);
        assert!(a.is_ascii() && a.len() == 10 && a.ends_with('^'));
        let b = sparkline(&v, 10, Glyphs { ascii: false, braille: true });
        assert_eq!(b.chars().count(), 10);
        assert!(b.chars().all(|c| ('\u{2800}'..='\u{28ff}').contains(&c)));
    }
}
