//! PNG copies of the SVG plots, rasterised by `resvg` with the system's fonts.

use std::path::Path;

use resvg::{tiny_skia, usvg};

use super::ExperimentError;

/// Sans-serif families tried, in order, for the plots' text.
const SANS_FAMILIES: [&str; 5] = [
    "DejaVu Sans",
    "Liberation Sans",
    "Arial",
    "Helvetica",
    "Noto Sans",
];

fn plot_err(path: &Path, reason: impl std::fmt::Display) -> ExperimentError {
    ExperimentError::Plot {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

/// Rasterises the SVG file `svg` into the PNG file `png` at its own size.
///
/// Text uses the first installed font of `SANS_FAMILIES`; on a machine without any of
/// them the lines are still drawn and only the labels are missing.
///
/// # Errors
/// [`ExperimentError::Plot`] when the SVG cannot be read or parsed, or the PNG written.
pub fn svg_to_png(svg: &Path, png: &Path) -> Result<(), ExperimentError> {
    let data = std::fs::read(svg).map_err(|e| plot_err(svg, e))?;
    let mut options = usvg::Options::default();
    let fonts = options.fontdb_mut();
    fonts.load_system_fonts();
    let installed = SANS_FAMILIES.into_iter().find(|family| {
        fonts
            .faces()
            .any(|face| face.families.iter().any(|(name, _)| name == family))
    });
    if let Some(family) = installed {
        fonts.set_sans_serif_family(family);
    }
    let tree = usvg::Tree::from_data(&data, &options).map_err(|e| plot_err(svg, e))?;
    let size = tree.size().to_int_size();
    let mut pixmap = tiny_skia::Pixmap::new(size.width(), size.height())
        .ok_or_else(|| plot_err(png, "empty image"))?;
    pixmap.fill(tiny_skia::Color::WHITE);
    resvg::render(&tree, tiny_skia::Transform::default(), &mut pixmap.as_mut());
    pixmap.save_png(png).map_err(|e| plot_err(png, e))
}
