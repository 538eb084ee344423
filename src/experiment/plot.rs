//! SVG line plots (plotters' pure-Rust SVG backend: no system fonts or C libraries);
//! [`super::png::svg_to_png`] rasterises them.

use std::collections::BTreeMap;
use std::path::Path;

use fedmoa_core::ClientId;
use plotters::prelude::*;

use super::ExperimentError;

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
    let n = curves
        .iter()
        .map(|(_, v)| v.len())
        .max()
        .unwrap_or(1)
        .max(2);
    let last_round = (n - 1) as f64;
    let (y_lo, y_hi) = fitted_range(curves.iter().flat_map(|(_, v)| v.iter().copied()));
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
    for (i, (label, values)) in curves.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        let points: Vec<(f64, f64)> = values
            .iter()
            .enumerate()
            .filter(|(_, v)| v.is_finite())
            .map(|(r, v)| (r as f64, v.clamp(0.0, 1.0)))
            .collect();
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(2)))
            .map_err(|e| plot_err(path, e))?
            .label(label.clone())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
            });
    }
    chart
        .configure_series_labels()
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
