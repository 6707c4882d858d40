//! The PNG plot of each block's speedup against its available parallelism.

use plotters::{
    prelude::*,
    style::{FontStyle, register_font},
};
use std::{
    path::{Path, PathBuf},
    sync::OnceLock,
};

/// Draws `points` (available parallelism, speedup) with the ceiling min(`threads`, x) into
/// a PNG at `path`.
pub fn plot_speedup(points: &[(f64, f64)], threads: usize, path: &Path) -> Result<(), String> {
    register_a_font()?;
    let ceiling = threads as f64;
    let x_max = points.iter().map(|(x, _)| *x).fold(ceiling * 2.0, f64::max) * 1.2;
    let y_max = points.iter().map(|(_, y)| *y).fold(ceiling, f64::max) * 1.15;

    let root = BitMapBackend::new(path, (900, 600)).into_drawing_area();
    root.fill(&WHITE).map_err(draw_error)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!("Mainnet blocks: speedup over sequential revm, {threads} threads"),
            ("sans-serif", 22),
        )
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(56)
        .build_cartesian_2d((1.0f64..x_max).log_scale(), 0.0f64..y_max)
        .map_err(draw_error)?;
    chart
        .configure_mesh()
        .x_desc("available parallelism (total gas / critical-path gas, log scale)")
        .y_desc("speedup")
        // Label only round values: on a log axis the others crowd into each other.
        .x_label_formatter(&|x| {
            let rounded = x.round();
            let round = (x - rounded).abs() < 1e-6
                && [1.0, 2.0, 3.0, 4.0, 5.0, 7.0, 10.0, 20.0, 30.0, 50.0, 100.0].contains(&rounded);
            if round {
                format!("{rounded:.0}")
            } else {
                String::new()
            }
        })
        .label_style(("sans-serif", 15))
        .draw()
        .map_err(draw_error)?;

    let samples: Vec<f64> = (0..=200)
        .map(|i| x_max.powf(f64::from(i) / 200.0))
        .collect();
    chart
        .draw_series(LineSeries::new(
            samples.iter().map(|&x| (x, x.min(ceiling))),
            BLUE.stroke_width(2),
        ))
        .map_err(draw_error)?
        .label(format!(
            "best possible: min({threads}, available parallelism)"
        ))
        .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], BLUE.stroke_width(2)));
    chart
        .draw_series(LineSeries::new(
            [(1.0, 1.0), (x_max, 1.0)],
            BLACK.mix(0.4).stroke_width(1),
        ))
        .map_err(draw_error)?
        .label("sequential revm")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], BLACK.mix(0.4)));
    chart
        .draw_series(
            points
                .iter()
                .map(|&(x, y)| Circle::new((x.max(1.0), y), 4, RED.mix(0.7).filled())),
        )
        .map_err(draw_error)?
        .label("a block, parallel path forced")
        .legend(|(x, y)| Circle::new((x + 10, y), 4, RED.mix(0.7).filled()));
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK.mix(0.3))
        .label_font(("sans-serif", 15))
        .draw()
        .map_err(draw_error)?;
    root.present().map_err(draw_error)
}

fn draw_error(error: impl std::fmt::Display) -> String {
    format!("drawing the plot failed: {error}")
}

/// Registers a TrueType font from this machine as "sans-serif", once: `PARALLAX_FONT` if
/// set, else a common sans-serif font from the usual font directories.
fn register_a_font() -> Result<(), String> {
    static REGISTERED: OnceLock<Result<(), String>> = OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            let path = find_font().ok_or(
                "no TrueType font found for the plot's labels: set PARALLAX_FONT to a .ttf file",
            )?;
            let bytes = std::fs::read(&path)
                .map_err(|error| format!("cannot read font {}: {error}", path.display()))?;
            register_font(
                "sans-serif",
                FontStyle::Normal,
                Box::leak(bytes.into_boxed_slice()),
            )
            .map_err(|_| format!("{} is not a usable font", path.display()))
        })
        .clone()
}

fn find_font() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("PARALLAX_FONT") {
        return Some(PathBuf::from(path));
    }
    const PREFERRED: [&str; 4] = [
        "DejaVuSans.ttf",
        "LiberationSans-Regular.ttf",
        "Arial.ttf",
        "arial.ttf",
    ];
    const DIRECTORIES: [&str; 4] = [
        "/usr/share/fonts",
        "/usr/local/share/fonts",
        "/Library/Fonts",
        "C:\\Windows\\Fonts",
    ];
    let mut fonts = Vec::new();
    for directory in DIRECTORIES {
        collect_fonts(Path::new(directory), &mut fonts, 0);
    }
    PREFERRED
        .iter()
        .find_map(|name| {
            fonts
                .iter()
                .find(|f| f.file_name().is_some_and(|n| n == *name))
        })
        .or_else(|| fonts.first())
        .cloned()
}

fn collect_fonts(directory: &Path, fonts: &mut Vec<PathBuf>, depth: usize) {
    let Ok(entries) = std::fs::read_dir(directory) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() && depth < 4 {
            collect_fonts(&path, fonts, depth + 1);
        } else if path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("ttf"))
        {
            fonts.push(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_a_png() {
        if find_font().is_none() {
            eprintln!("SKIPPED draws_a_png: no TrueType font on this machine");
            return;
        }
        let path = std::env::temp_dir().join(format!("parallax-plot-{}.png", std::process::id()));
        plot_speedup(&[(1.0, 0.9), (3.5, 1.6), (40.0, 1.8)], 2, &path).expect("plot draws");
        let bytes = std::fs::read(&path).expect("plot written");
        assert_eq!(&bytes[1..4], b"PNG");
        let _ = std::fs::remove_file(path);
    }
}
