//! The analysis page's charts as script-free SVG: the biggest tags as bars, and the growth of
//! the top tags over a series of snapshots as lines. Everything here is geometry and labels;
//! the template draws it and the stylesheet colours it.

use crate::format::human_bytes;

/// The SVG coordinate width of both charts. They scale to the page width, and a narrow
/// coordinate space keeps their 12-unit text legible on a phone (about 9 px at 360 px).
pub const WIDTH: f64 = 480.0;
/// Room for a bar's label (`Abcd NP`) left of the bar.
const BAR_LABEL_WIDTH: f64 = 70.0;
/// Room for the value right of the longest bar.
const BAR_VALUE_WIDTH: f64 = 80.0;
const BAR_PITCH: f64 = 26.0;

/// One item to draw as a bar.
pub struct BarInput {
    pub label: String,
    pub bytes: u64,
    /// The stylesheet class that colours it (by owner).
    pub class: &'static str,
}

pub struct Bar {
    pub y: String,
    pub text_y: String,
    pub width: String,
    pub label: String,
    pub value: String,
    pub value_x: String,
    pub class: &'static str,
}

pub struct BarChart {
    pub width: String,
    pub label_width: String,
    pub height: String,
    pub bars: Vec<Bar>,
}

/// Bars sorted by size, biggest first, scaled to the biggest.
pub fn bar_chart(mut items: Vec<BarInput>) -> BarChart {
    items.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.label.cmp(&b.label)));
    let max = items.first().map_or(1, |i| i.bytes).max(1) as f64;
    let span = WIDTH - BAR_LABEL_WIDTH - BAR_VALUE_WIDTH;
    let bars = items
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            let width = (item.bytes as f64 / max * span).max(1.0);
            let y = 8.0 + i as f64 * BAR_PITCH;
            Bar {
                y: format!("{y:.0}"),
                text_y: format!("{:.0}", y + 14.0),
                width: format!("{width:.1}"),
                label: item.label,
                value: human_bytes(item.bytes),
                value_x: format!("{:.1}", BAR_LABEL_WIDTH + width + 6.0),
                class: item.class,
            }
        })
        .collect::<Vec<_>>();
    BarChart {
        width: format!("{WIDTH:.0}"),
        label_width: format!("{BAR_LABEL_WIDTH:.0}"),
        height: format!("{:.0}", 16.0 + bars.len() as f64 * BAR_PITCH),
        bars,
    }
}

/// One line of the growth chart.
pub struct SeriesInput {
    pub label: String,
    /// Bytes per snapshot, in snapshot order.
    pub values: Vec<u64>,
    /// The owner kind it stands for (`third-party`, `os`, `unknown`): the same colour as the
    /// tag's bar, so a colour means one thing on the page.
    pub owner: &'static str,
}

pub struct Line {
    pub points: String,
    /// `line-{owner}`: the stylesheet colours the line, its markers and its legend key.
    pub class: String,
    pub label: String,
    /// What tells lines of one colour apart: a marker shape at every point (an SVG path,
    /// one subpath per point) and the same shape in the legend, around (0, 0).
    pub shape: &'static str,
    pub markers: String,
    pub legend_marker: String,
}

/// Marker shapes, one per line in turn.
const SHAPES: [&str; 5] = ["circle", "square", "triangle", "diamond", "cross"];
/// A marker's half-size in chart units.
const MARKER: f64 = 4.5;

/// The SVG path of one marker centred on (x, y).
fn marker_path(shape: &str, x: f64, y: f64) -> String {
    let r = MARKER;
    match shape {
        "circle" => format!(
            "M{:.1},{y:.1}a{r},{r} 0 1,0 {:.1},0a{r},{r} 0 1,0 {:.1},0Z",
            x - r,
            2.0 * r,
            -2.0 * r
        ),
        "square" => format!(
            "M{:.1},{:.1}h{:.1}v{:.1}h{:.1}Z",
            x - r * 0.85,
            y - r * 0.85,
            r * 1.7,
            r * 1.7,
            -r * 1.7
        ),
        "triangle" => format!(
            "M{x:.1},{:.1}L{:.1},{:.1}L{:.1},{:.1}Z",
            y - r,
            x + r,
            y + r * 0.8,
            x - r,
            y + r * 0.8
        ),
        "diamond" => format!(
            "M{x:.1},{:.1}L{:.1},{y:.1}L{x:.1},{:.1}L{:.1},{y:.1}Z",
            y - r,
            x + r,
            y + r,
            x - r
        ),
        _ => format!(
            "M{:.1},{:.1}L{:.1},{:.1}M{:.1},{:.1}L{:.1},{:.1}",
            x - r,
            y - r,
            x + r,
            y + r,
            x - r,
            y + r,
            x + r,
            y - r
        ),
    }
}

/// A labelled mark on an axis.
pub struct Tick {
    /// The mark's position along its axis.
    pub at: String,
    /// Where its label goes (its baseline for the y axis).
    pub label_at: String,
    pub label: String,
    /// `start`, `middle` or `end`: the first and last x labels stay inside the chart.
    pub anchor: &'static str,
}

pub struct LineChart {
    pub width: String,
    pub height: String,
    pub left: String,
    pub right: String,
    pub top: String,
    pub bottom: String,
    /// Where the x axis's tick marks end, below the axis.
    pub tick_bottom: String,
    pub y_ticks: Vec<Tick>,
    pub x_ticks: Vec<Tick>,
    pub lines: Vec<Line>,
}

const LINE_LEFT: f64 = 78.0;
const LINE_RIGHT: f64 = WIDTH - 16.0;
const LINE_TOP: f64 = 12.0;
const LINE_BOTTOM: f64 = 200.0;
const LINE_HEIGHT: f64 = 226.0;
/// An x label is at most this wide in chart units (`2026-11-01 10:00` in 15-unit monospace,
/// the phone size, measured on the phone screenshot of a host page: 180 units, and a gap).
const X_LABEL_WIDTH: f64 = 190.0;

/// Lines over the snapshots. The y axis spans the values' range on round ticks (starting near
/// the lowest value, so a 10% growth is visible), and the x axis names each snapshot by its
/// time (`snapshot_times`, when every snapshot has one) or its number, leaving out labels that
/// would overlap.
pub fn line_chart(series: Vec<SeriesInput>, snapshot_times: Option<Vec<String>>) -> LineChart {
    let points = series
        .iter()
        .map(|s| s.values.len())
        .max()
        .unwrap_or(0)
        .max(2);
    let lo = series
        .iter()
        .flat_map(|s| s.values.iter().copied())
        .min()
        .unwrap_or(0);
    let hi = series
        .iter()
        .flat_map(|s| s.values.iter().copied())
        .max()
        .unwrap_or(1);
    let axis = YAxis::new(lo, hi);
    let x_at = |j: usize| line_x(j, points);
    let y_at = |v: u64| {
        LINE_BOTTOM - (LINE_BOTTOM - LINE_TOP) * (v as f64 - axis.low) / (axis.high - axis.low)
    };
    let lines = series
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            let shape = SHAPES[i % SHAPES.len()];
            let at: Vec<(f64, f64)> = s
                .values
                .iter()
                .enumerate()
                .map(|(j, &v)| (x_at(j), y_at(v)))
                .collect();
            Line {
                points: at
                    .iter()
                    .map(|(x, y)| format!("{x:.1},{y:.1}"))
                    .collect::<Vec<_>>()
                    .join(" "),
                class: format!("line-{}", s.owner),
                label: s.label,
                shape,
                markers: at.iter().map(|&(x, y)| marker_path(shape, x, y)).collect(),
                legend_marker: marker_path(shape, 0.0, 0.0),
            }
        })
        .collect();
    let y_ticks = axis
        .ticks()
        .map(|(value, label)| {
            let y = LINE_BOTTOM
                - (LINE_BOTTOM - LINE_TOP) * (value - axis.low) / (axis.high - axis.low);
            Tick {
                at: format!("{y:.1}"),
                label_at: format!("{:.1}", y + 4.0),
                label,
                anchor: "end",
            }
        })
        .collect();
    let names: Vec<String> = match snapshot_times {
        Some(times) if times.len() == points => shorten_times(times),
        _ => (1..=points).map(|n| format!("snapshot {n}")).collect(),
    };
    // Every k-th label, so that neighbours do not overlap; the last one always.
    let room = (LINE_RIGHT - LINE_LEFT) / (points - 1) as f64;
    let every = ((X_LABEL_WIDTH / room).ceil() as usize).max(1);
    let x_ticks = names
        .into_iter()
        .enumerate()
        .filter(|(j, _)| *j == points - 1 || (j.is_multiple_of(every) && points - 1 - j >= every))
        .map(|(j, label)| Tick {
            at: format!("{:.1}", x_at(j)),
            label_at: format!("{:.1}", x_at(j)),
            label,
            anchor: if j == 0 {
                "start"
            } else if j == points - 1 {
                "end"
            } else {
                "middle"
            },
        })
        .collect();
    LineChart {
        width: format!("{WIDTH:.0}"),
        height: format!("{LINE_HEIGHT:.0}"),
        left: format!("{LINE_LEFT:.0}"),
        right: format!("{LINE_RIGHT:.0}"),
        top: format!("{LINE_TOP:.0}"),
        bottom: format!("{LINE_BOTTOM:.0}"),
        tick_bottom: format!("{:.0}", LINE_BOTTOM + 5.0),
        y_ticks,
        x_ticks,
        lines,
    }
}

/// Where the line chart puts point `j` of `points` along its x axis (a mark between points
/// goes at the same place).
pub fn line_x(j: usize, points: usize) -> f64 {
    LINE_LEFT + (LINE_RIGHT - LINE_LEFT) * j as f64 / (points.max(2) - 1) as f64
}

/// A small line of `values` (a sparkline), as SVG polyline points in a `width` × `height`
/// box: lowest value at the bottom, highest at the top.
pub fn sparkline(values: &[u64], width: f64, height: f64) -> String {
    let (Some(&lo), Some(&hi)) = (values.iter().min(), values.iter().max()) else {
        return String::new();
    };
    let span = (hi - lo).max(1) as f64;
    let n = values.len().max(2) - 1;
    values
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let x = width * i as f64 / n as f64;
            let y = height - 1.0 - (height - 2.0) * (v - lo) as f64 / span;
            format!("{x:.1},{y:.1}")
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether a snapshot label is its time as the analysis writes it (`2026-11-01 10:00`).
pub fn is_snapshot_time(label: &str) -> bool {
    let b = label.as_bytes();
    b.len() == 16
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b' ',
            13 => *c == b':',
            _ => c.is_ascii_digit(),
        })
}

/// `2026-11-01 10:00`, `2026-11-01 11:00` → `2026-11-01 10:00`, `11:00`: the date once per day.
fn shorten_times(times: Vec<String>) -> Vec<String> {
    let mut day = String::new();
    times
        .into_iter()
        .map(|t| match t.split_once(' ') {
            Some((date, clock)) if date == day => clock.to_owned(),
            Some((date, _)) => {
                day = date.to_owned();
                t
            }
            None => t,
        })
        .collect()
}

/// A y axis over round steps that covers the values.
struct YAxis {
    low: f64,
    high: f64,
    step: f64,
    /// The labels' unit: 1024 to this power.
    unit_power: i32,
}

impl YAxis {
    /// About four steps between the lowest and highest value, round in the unit the labels
    /// use, starting at a round value at or below the lowest (zero only when the values come
    /// close to it).
    fn new(lo: u64, hi: u64) -> Self {
        let (lo, hi) = (lo as f64, hi as f64);
        let unit_power = (0..=4).rev().find(|&p| hi >= 1024f64.powi(p)).unwrap_or(0);
        let unit = 1024f64.powi(unit_power);
        let range = if hi > lo { hi - lo } else { hi.max(1.0) };
        let step = nice_step(range / unit / 4.0) * unit;
        let low = ((lo / step).floor() * step).max(0.0);
        let mut high = (hi / step).ceil() * step;
        if high <= low {
            high = low + step;
        }
        Self {
            low,
            high,
            step,
            unit_power,
        }
    }

    /// The ticks and their labels, with the decimals that keep neighbours distinct.
    fn ticks(&self) -> impl Iterator<Item = (f64, String)> + '_ {
        let unit = 1024f64.powi(self.unit_power);
        let name = ["B", "KiB", "MiB", "GiB", "TiB"][self.unit_power as usize];
        let step_in_unit = self.step / unit;
        let decimals = if step_in_unit >= 1.0 {
            0
        } else {
            (-step_in_unit.log10().floor()) as usize
        }
        .min(3);
        let count = ((self.high - self.low) / self.step).round() as usize;
        (0..=count).map(move |i| {
            let value = self.low + self.step * i as f64;
            (value, format!("{:.*} {name}", decimals, value / unit))
        })
    }
}

/// 1, 2 or 5 times a power of ten, at least `raw`.
fn nice_step(raw: f64) -> f64 {
    if raw <= 0.0 {
        return 1.0;
    }
    let power = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * power)
        .find(|&s| s >= raw)
        .unwrap_or(10.0 * power)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_are_sorted_by_size() {
        let chart = bar_chart(vec![
            BarInput {
                label: "Small".into(),
                bytes: 10,
                class: "bar-os",
            },
            BarInput {
                label: "Big".into(),
                bytes: 1000,
                class: "bar-os",
            },
        ]);
        let labels: Vec<&str> = chart.bars.iter().map(|b| b.label.as_str()).collect();
        assert_eq!(labels, ["Big", "Small"]);
    }

    #[test]
    fn a_ten_percent_growth_fills_the_height() {
        let mib = 1024 * 1024;
        let chart = line_chart(
            vec![SeriesInput {
                label: "Leak".into(),
                values: vec![100 * mib, 105 * mib, 110 * mib],
                owner: "third-party",
            }],
            None,
        );
        let first_y: f64 = chart.y_ticks[0].at.parse().unwrap();
        let lowest_label = &chart.y_ticks[0].label;
        assert_eq!(first_y, LINE_BOTTOM);
        assert_ne!(lowest_label, "0 B", "the axis does not start at zero");
        // The line climbs most of the plot's height.
        let ys: Vec<f64> = chart.lines[0]
            .points
            .split(' ')
            .map(|p| p.split_once(',').unwrap().1.parse().unwrap())
            .collect();
        assert!(ys[0] - ys[2] > (LINE_BOTTOM - LINE_TOP) * 0.5, "{ys:?}");
        // Tick labels are distinct.
        let mut labels: Vec<&str> = chart.y_ticks.iter().map(|t| t.label.as_str()).collect();
        let before = labels.len();
        labels.dedup();
        assert_eq!(labels.len(), before, "{labels:?}");
        assert_eq!(
            chart
                .x_ticks
                .iter()
                .map(|t| t.label.as_str())
                .collect::<Vec<_>>(),
            ["snapshot 1", "snapshot 2", "snapshot 3"]
        );
    }

    #[test]
    fn lines_take_their_owners_colour_and_a_shape_of_their_own() {
        let series = |owner| SeriesInput {
            label: "Tag".into(),
            values: vec![1, 2, 3],
            owner,
        };
        let chart = line_chart(
            vec![series("os"), series("os"), series("third-party")],
            None,
        );
        let classes: Vec<&str> = chart.lines.iter().map(|l| l.class.as_str()).collect();
        assert_eq!(classes, ["line-os", "line-os", "line-third-party"]);
        let shapes: Vec<&str> = chart.lines.iter().map(|l| l.shape).collect();
        assert_eq!(shapes, ["circle", "square", "triangle"]);
        // One marker per point.
        assert_eq!(chart.lines[1].markers.matches('M').count(), 3);
    }

    #[test]
    fn time_labels_name_the_day_once_and_do_not_overlap() {
        let times: Vec<String> = (0..24).map(|h| format!("2026-11-01 {h:02}:00")).collect();
        let chart = line_chart(
            vec![SeriesInput {
                label: "Leak".into(),
                values: (0..24).map(|h| 1000 + h * 10).collect(),
                owner: "third-party",
            }],
            Some(times),
        );
        assert_eq!(chart.x_ticks[0].label, "2026-11-01 00:00");
        assert_eq!(chart.x_ticks.last().unwrap().label, "23:00");
        let xs: Vec<f64> = chart
            .x_ticks
            .iter()
            .map(|t| t.at.parse().unwrap())
            .collect();
        for pair in xs.windows(2) {
            assert!(pair[1] - pair[0] >= X_LABEL_WIDTH * 0.5, "{xs:?}");
        }
    }
}
