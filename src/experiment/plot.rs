//! SVG line plots (plotters' pure-Rust SVG backend: no system fonts or C libraries);
//! [`super::png::svg_to_png`] rasterises them.

use std::collections::BTreeMap;
use std::path::Path;

use fedmoa_core::ClientId;
use plotters::prelude::*;

use super::ExperimentError;
use super::summary::MeanStd;

fn plot_err(path: &Path, e: impl std::fmt::Display) -> ExperimentError {
    ExperimentError::Plot {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

/// The y-range of accuracy curves: the finite values' span padded by a tenth of itself
/// (at least 0.02 on each side), clipped to `[0, 1]`; `[0, 1]` when there is no value.
pub fn fitted_range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .map(|v| v.clamp(0.0, 1.0))
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if lo > hi {
        return (0.0, 1.0);
    }
    let pad = ((hi - lo) / 10.0).max(0.02);
    ((lo - pad).max(0.0), (hi + pad).min(1.0))
}

/// One curve per `(label, values)`: `values[r]` is the value after round `r` (`r = 0` is
/// the initial model), the y-axis fitted to the data ([`fitted_range`]).
///
/// # Errors
/// [`ExperimentError::Plot`] when the file cannot be drawn.
pub fn plot_curves(
    path: &Path,
    title: &str,
    curves: &[(String, Vec<f64>)],
) -> Result<(), ExperimentError> {
    let lines: Vec<Line<'_>> = curves
        .iter()
        .enumerate()
        .map(|(i, (label, values))| Line {
            label: Some(label),
            values,
            color: Palette99::pick(i).to_rgba(),
            width: 2,
        })
        .collect();
    draw_lines(path, title, &lines)
}

/// Each arm's mean curve over its seeds (`arms[a] = (label, one curve per seed)`), with
/// every seed's own curve as a thin line of the same colour behind it: one legend entry per
/// arm however many seeds ran. Curves as in [`plot_curves`].
///
/// # Errors
/// [`ExperimentError::Plot`] when the file cannot be drawn.
pub fn plot_arm_curves(
    path: &Path,
    title: &str,
    arms: &[(String, Vec<Vec<f64>>)],
) -> Result<(), ExperimentError> {
    let means: Vec<(String, Vec<f64>)> = arms
        .iter()
        .map(|(label, seeds)| {
            let label = match seeds.len() {
                1 => label.clone(),
                n => format!("{label} (mean of {n} seeds)"),
            };
            (label, mean_curve(seeds))
        })
        .collect();
    let mut lines = Vec::new();
    for (i, ((_, seeds), (label, mean))) in arms.iter().zip(&means).enumerate() {
        let color = Palette99::pick(i).to_rgba();
        if seeds.len() > 1 {
            lines.extend(seeds.iter().map(|values| Line {
                label: None,
                values,
                color: color.mix(0.3),
                width: 1,
            }));
        }
        lines.push(Line {
            label: Some(label),
            values: mean,
            color,
            width: 3,
        });
    }
    draw_lines(path, title, &lines)
}

/// The mean of `curves` per round over the curves that have a finite value there (NaN
/// where none has).
pub fn mean_curve(curves: &[Vec<f64>]) -> Vec<f64> {
    let n = curves.iter().map(Vec::len).max().unwrap_or(0);
    (0..n)
        .map(|r| {
            let values: Vec<f64> = curves
                .iter()
                .filter_map(|c| c.get(r).copied())
                .filter(|v| v.is_finite())
                .collect();
            if values.is_empty() {
                f64::NAN
            } else {
                MeanStd::of(&values).mean
            }
        })
        .collect()
}

/// One line of a plot: its legend entry (none for a background line) and style.
struct Line<'a> {
    label: Option<&'a str>,
    values: &'a [f64],
    color: RGBAColor,
    width: u32,
}

/// Draws `lines` over rounds `0..` with the y-axis fitted to their values.
fn draw_lines(path: &Path, title: &str, lines: &[Line<'_>]) -> Result<(), ExperimentError> {
    let n = lines
        .iter()
        .map(|l| l.values.len())
        .max()
        .unwrap_or(1)
        .max(2);
    let last_round = (n - 1) as f64;
    let (y_lo, y_hi) = fitted_range(lines.iter().flat_map(|l| l.values.iter().copied()));
    let root = SVGBackend::new(path, (800, 480)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| plot_err(path, e))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(48)
        .build_cartesian_2d(0f64..last_round, y_lo..y_hi)
        .map_err(|e| plot_err(path, e))?;
    chart
        .configure_mesh()
        .x_labels(n.min(11))
        .x_label_formatter(&|x| format!("{x:.0}"))
        .x_desc("round (0 = warm start)")
        .y_desc("share of test prompts")
        .draw()
        .map_err(|e| plot_err(path, e))?;
    for line in lines {
        let points: Vec<(f64, f64)> = line
            .values
            .iter()
            .enumerate()
            .filter(|(_, v)| v.is_finite())
            .map(|(r, v)| (r as f64, v.clamp(0.0, 1.0)))
            .collect();
        let style = line.color.stroke_width(line.width);
        let series = chart
            .draw_series(LineSeries::new(points, style))
            .map_err(|e| plot_err(path, e))?;
        if let Some(label) = line.label {
            series
                .label(label)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], style));
        }
    }
    // Accuracy and satisfaction curves rise: the lower right is where they are not.
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|e| plot_err(path, e))?;
    root.present().map_err(|e| plot_err(path, e))
}

/// A grid of small panels, one per client, each with one line per objective weight after
/// each round; `names[client]` labels the lines (objective ids), else `w0`, `w1`, ….
///
/// # Errors
/// [`ExperimentError::Plot`] when the file cannot be drawn.
pub fn plot_weights(
    path: &Path,
    title: &str,
    weights: &BTreeMap<ClientId, Vec<Vec<f32>>>,
    names: &BTreeMap<ClientId, Vec<String>>,
) -> Result<(), ExperimentError> {
    let n = weights.len().max(1);
    let cols = n.min(4);
    let rows = n.div_ceil(cols);
    let root =
        SVGBackend::new(path, (300 * cols as u32, 40 + 220 * rows as u32)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| plot_err(path, e))?;
    let root = root
        .titled(title, ("sans-serif", 22))
        .map_err(|e| plot_err(path, e))?;
    let panels = root.split_evenly((rows, cols));
    for (panel, (id, traj)) in panels.iter().zip(weights) {
        let last = (traj.len().max(2) - 1) as f64;
        let mut chart = ChartBuilder::on(panel)
            .caption(id.as_str(), ("sans-serif", 16))
            .margin(8)
            .x_label_area_size(24)
            .y_label_area_size(32)
            .build_cartesian_2d(0f64..last, 0f64..1f64)
            .map_err(|e| plot_err(path, e))?;
        chart
            .configure_mesh()
            .x_labels(traj.len().clamp(2, 6))
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_labels(5)
            .draw()
            .map_err(|e| plot_err(path, e))?;
        let k = traj.first().map_or(0, Vec::len);
        let labels = names.get(id);
        for obj in 0..k {
            let color = Palette99::pick(obj).to_rgba();
            let points: Vec<(f64, f64)> = traj
                .iter()
                .enumerate()
                .filter_map(|(r, w)| w.get(obj).map(|&v| (r as f64, f64::from(v))))
                .collect();
            chart
                .draw_series(LineSeries::new(points, color.stroke_width(2)))
                .map_err(|e| plot_err(path, e))?
                .label(
                    labels
                        .and_then(|l| l.get(obj))
                        .cloned()
                        .unwrap_or_else(|| format!("w{obj}")),
                )
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 14, y)], color.stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .draw()
            .map_err(|e| plot_err(path, e))?;
    }
    root.present().map_err(|e| plot_err(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mean_curve_skips_missing_values() {
        let mean = mean_curve(&[vec![0.2, 0.4, f64::NAN], vec![0.4, 0.6]]);
        assert!((mean[0] - 0.3).abs() < 1e-12 && (mean[1] - 0.5).abs() < 1e-12);
        assert!(mean[2].is_nan());
        assert!(mean_curve(&[]).is_empty());
    }

    #[test]
    fn the_y_range_fits_the_data() {
        // 0.25..0.40: span 0.15, pad 0.015 → raised to 0.02.
        let (lo, hi) = fitted_range([0.25, 0.40, f64::NAN, 0.3].into_iter());
        assert!(
            (lo - 0.23).abs() < 1e-12 && (hi - 0.42).abs() < 1e-12,
            "{lo} {hi}"
        );
        // 0.0..0.9: span 0.9, pad 0.09, clipped below at 0.
        let (lo, hi) = fitted_range([0.0, 0.9].into_iter());
        assert!(lo == 0.0 && (hi - 0.99).abs() < 1e-12, "{lo} {hi}");
        assert_eq!(fitted_range(std::iter::empty()), (0.0, 1.0));
        assert_eq!(fitted_range([f64::NAN].into_iter()), (0.0, 1.0));
    }
}
