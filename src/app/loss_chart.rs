//! The loss chart of the sections that optimise something step by step (style transfer,
//! training): an inline SVG of log10 of each loss series over the steps, downsampled so a
//! long run stays cheap to redraw.

use yew::prelude::*;

/// Most points drawn per series.
const MAX_POINTS: usize = 240;

/// How many series colours the stylesheet has (`.series-0` to `.series-8` in
/// static/style.css, which sets `color`: lines and legends draw in `currentColor`).
const SERIES_COLOURS: usize = 9;

/// The class that gives series `i` its colour, in the chart and in the loss readouts (a
/// class, not a `style` attribute: the page's Content-Security-Policy allows no inline style).
pub fn series_class(i: usize) -> String {
    format!("series-{}", i % SERIES_COLOURS)
}

/// How a chart looks and what tests find it by.
pub struct LossChart<'a> {
    /// `data-testid` of the `<svg>`.
    pub testid: &'static str,
    /// What a screen reader says.
    pub label: &'static str,
    pub width: f64,
    pub height: f64,
    /// The series' names, in the order `value` indexes them.
    pub series: &'a [String],
    /// Names the series under the lines (else the page names them, as the readouts do).
    pub legend: bool,
}

impl LossChart<'_> {
    /// Draws `history`: record `r` is at step `step(r)`, and `value(r, i)` is series `i`'s
    /// value there. Values that are not positive and finite (a switched-off loss term) are
    /// left out. The `<svg>` carries `data-iterations` (records drawn from) and each line
    /// `data-series` and `data-points`, for tests.
    pub fn view<R>(&self, history: &[R], step: impl Fn(&R) -> usize, value: impl Fn(&R, usize) -> f64) -> Html {
        const PAD: f64 = 6.0;
        let (w, h) = (self.width, self.height);
        let stride = history.len().div_ceil(MAX_POINTS).max(1);
        let mut sampled: Vec<&R> = history.iter().step_by(stride).collect();
        if let Some(last) = history.last()
            && sampled.last().map(|s| step(s)) != Some(step(last))
        {
            sampled.push(last);
        }
        let logs: Vec<Vec<(usize, f64)>> = (0..self.series.len())
            .map(|i| {
                sampled
                    .iter()
                    .filter_map(|r| {
                        let v = value(r, i);
                        (v.is_finite() && v > 0.0).then(|| (step(r), v.log10()))
                    })
                    .collect()
            })
            .collect();
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for &(_, v) in logs.iter().flatten() {
            lo = lo.min(v);
            hi = hi.max(v);
        }
        if !lo.is_finite() {
            (lo, hi) = (0.0, 1.0);
        }
        if hi - lo < 1e-6 {
            hi = lo + 1.0;
        }
        let first = sampled.first().map_or(0, |r| step(r)) as f64;
        let last = sampled.last().map_or(1, |r| step(r)) as f64;
        let span = (last - first).max(1.0);
        // The legend takes the bottom line.
        let bottom = if self.legend { 14.0 } else { 0.0 };
        let x = |s: usize| PAD + (s as f64 - first) / span * (w - 2.0 * PAD);
        let y = |v: f64| PAD + (hi - v) / (hi - lo) * (h - bottom - 2.0 * PAD);
        let lines = self.series.iter().zip(&logs).enumerate().map(|(i, (name, pts))| {
            let points = pts.iter().map(|&(s, v)| format!("{:.1},{:.1}", x(s), y(v))).collect::<Vec<_>>().join(" ");
            html! {
                <polyline data-series={name.clone()} data-points={pts.len().to_string()} points={points}
                    class={series_class(i)} fill="none" stroke="currentColor" stroke-width="1.5" />
            }
        });
        let legend = self.series.iter().enumerate().filter(|_| self.legend).map(|(i, name)| {
            html! { <text x={(PAD + 8.0 + i as f64 * 60.0).to_string()} y={(h - 2.0).to_string()} class={series_class(i)} fill="currentColor" font-size="10">{ name }</text> }
        });
        html! {
            <svg class="loss-chart" data-testid={self.testid} data-iterations={history.len().to_string()}
                viewBox={format!("0 0 {w} {h}")} role="img" aria-label={self.label}>
                <rect x="0" y="0" width={w.to_string()} height={h.to_string()} fill="#111" />
                <text x={PAD.to_string()} y="12" fill="#9aa0aa" font-size="10">{ format!("10^{hi:.1}") }</text>
                <text x={PAD.to_string()} y={(h - bottom - 4.0).to_string()} fill="#9aa0aa" font-size="10">{ format!("10^{lo:.1}") }</text>
                { for lines }
                { for legend }
            </svg>
        }
    }
}
