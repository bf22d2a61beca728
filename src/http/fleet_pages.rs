//! The fleet's browser pages: `/hosts` (every host at a glance) and `/hosts/{host}` (its top
//! tags over time, driver changes marked, and its answer).

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::State;
use axum::routing::get;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::charts::{self, LineChart, SeriesInput};
use super::pages::when;
use super::views::TagView;
use super::{ApiPath, AppState, PageResult};
use crate::fleet::{HostName, HostSummary, StateKind, TagGrowth};
use crate::format::{GrowthRate, human_bytes};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/hosts", get(hosts_page))
        .route("/hosts/{host}", get(host_page))
}

/// The growing tag and who is behind it, as the pages show it.
struct GrowthView {
    tag: TagView,
    pool: &'static str,
    driver: String,
    rate: String,
}

impl GrowthView {
    fn new(g: &TagGrowth) -> Self {
        Self {
            tag: TagView::new(g.tag),
            pool: g.pool.name(),
            driver: match (&g.driver, &g.version) {
                (Some(d), Some(v)) => format!("{d} {v}"),
                (Some(d), None) => d.clone(),
                _ => "no driver named".into(),
            },
            rate: GrowthRate::of(Some(g.bytes_per_hour), None)
                .map_or_else(String::new, |r| r.short()),
        }
    }
}

struct HostRowView {
    name: String,
    href: String,
    state: &'static str,
    growth: Option<GrowthView>,
    /// Pool totals over the host's last day, as polyline points; empty with one sample.
    spark: String,
    spark_label: String,
    last_seen: String,
}

struct CorrelationView {
    tag: TagView,
    driver: String,
    growing: String,
    flat: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "hosts.html")]
struct HostsHtml {
    query: String,
    hosts: Vec<HostRowView>,
    correlations: Vec<CorrelationView>,
    counts: String,
}

const SPARK_WIDTH: f64 = 120.0;
const SPARK_HEIGHT: f64 = 24.0;

fn host_href(name: &HostName) -> String {
    // Host names are letters, digits, `-`, `_` and `.`: nothing to escape in a path.
    format!("/hosts/{name}")
}

async fn hosts_page(State(state): State<AppState>) -> PageResult<HostsHtml> {
    let overview = state.fleet.overview().await?;
    let totals = state.fleet.recent_totals().await?;
    let row = |h: &HostSummary| {
        let values = totals.get(h.name.as_str()).map_or(&[][..], Vec::as_slice);
        HostRowView {
            href: host_href(&h.name),
            name: h.name.to_string(),
            state: h.state.as_str(),
            growth: h.growth.as_ref().map(GrowthView::new),
            spark: if values.len() >= 2 {
                charts::sparkline(values, SPARK_WIDTH, SPARK_HEIGHT)
            } else {
                String::new()
            },
            spark_label: match (values.first(), values.last()) {
                (Some(a), Some(b)) => format!(
                    "Pool totals over the last day: {} to {}",
                    human_bytes(*a),
                    human_bytes(*b)
                ),
                _ => String::new(),
            },
            last_seen: when(Some(h.last_seen)),
        }
    };
    Ok(HostsHtml {
        query: String::new(),
        hosts: overview.hosts.iter().map(row).collect(),
        correlations: overview
            .correlations
            .iter()
            .map(|c| CorrelationView {
                tag: TagView::new(c.tag),
                driver: format!(
                    "{} {}",
                    c.driver,
                    c.version.as_deref().unwrap_or("(version unknown)")
                ),
                growing: c.hosts_growing.join(", "),
                flat: if c.flat_versions.is_empty() {
                    c.hosts_flat.join(", ")
                } else {
                    format!(
                        "{} (running {})",
                        c.hosts_flat.join(", "),
                        c.flat_versions.join(", ")
                    )
                },
            })
            .collect(),
        counts: StateKind::ALL
            .iter()
            .map(|k| format!("{} {}", overview.counts[k.as_str()], k.as_str()))
            .collect::<Vec<_>>()
            .join(" · "),
    })
}

struct EventView {
    at: String,
    text: String,
}

/// A driver change on the chart: a vertical mark where it happened.
struct ChangeMark {
    x: String,
    label: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "host.html")]
struct HostHtml {
    query: String,
    name: String,
    state: &'static str,
    headline: String,
    growth: Option<GrowthView>,
    answer_headline: String,
    answer_action: String,
    /// The answer asks for the host's drivers: how to send them, for the server the browser
    /// reached (the stored answer was written without knowing it).
    upload: Option<crate::driver_upload::DriverUpload>,
    samples: u64,
    first_seen: String,
    last_seen: String,
    chart: Option<LineChart>,
    marks: Vec<ChangeMark>,
    events: Vec<EventView>,
}

/// Samples the chart shows: the last two days at one every 15 minutes.
const CHART_POINTS: usize = 192;

/// `2026-11-01 10:00`: how the line chart labels its points.
fn chart_time(rfc3339: &str) -> String {
    OffsetDateTime::parse(rfc3339, &Rfc3339)
        .ok()
        .and_then(|t| {
            t.format(time::macros::format_description!(
                "[year]-[month]-[day] [hour]:[minute]"
            ))
            .ok()
        })
        .unwrap_or_else(|| rfc3339.to_owned())
}

async fn host_page(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    ApiPath(host): ApiPath<String>,
) -> PageResult<HostHtml> {
    let host = HostName::parse(&host).map_err(super::ApiError::from)?;
    let detail = state.fleet.host(&host).await?;
    let series = &detail.series;
    let start = series.times.len().saturating_sub(CHART_POINTS);
    let times: Vec<String> = series.times[start..]
        .iter()
        .map(|t| chart_time(t))
        .collect();
    // Tags kept in every sample shown (a tag below the kept 200 in some sample has gaps a line
    // would hide).
    let lines: Vec<SeriesInput> = series
        .tags
        .iter()
        .filter_map(|t| {
            let values: Option<Vec<u64>> = t.bytes[start..].iter().copied().collect();
            Some(SeriesInput {
                label: format!("{} {}", TagView::new(t.tag).shown, t.pool.name()),
                values: values?,
                owner: "unknown",
            })
        })
        .collect();
    let points = times.len();
    let chart = (points >= 2 && !lines.is_empty()).then(|| charts::line_chart(lines, Some(times)));
    let first_shown = series.times.get(start).cloned().unwrap_or_default();
    let marks = detail
        .timeline
        .iter()
        .filter_map(|e| {
            let at = e.at.format(&Rfc3339).ok()?;
            if at < first_shown {
                return None;
            }
            // The first sample at or after the change.
            let j = series.times[start..].iter().position(|t| *t >= at)?;
            Some(ChangeMark {
                x: format!("{:.1}", charts::line_x(j, points)),
                label: e.text.replace('`', ""),
            })
        })
        .collect();
    let answer_text = |key: &str| {
        detail
            .answer
            .as_ref()
            .and_then(|a| a[key].as_str())
            .unwrap_or("")
            .replace('`', "")
    };
    let s = &detail.summary;
    Ok(HostHtml {
        query: String::new(),
        name: s.name.to_string(),
        state: s.state.as_str(),
        headline: s.headline.replace('`', ""),
        growth: s.growth.as_ref().map(GrowthView::new),
        answer_headline: answer_text("headline"),
        answer_action: answer_text("action"),
        upload: matches!(
            answer_text("kind").as_str(),
            "unknown-tag" | "known-owner-unclear"
        )
        .then(|| crate::driver_upload::DriverUpload::new(&super::origin::scan_target(&headers))),
        samples: s.samples,
        first_seen: when(Some(s.first_seen)),
        last_seen: when(Some(s.last_seen)),
        chart,
        marks,
        events: detail
            .timeline
            .iter()
            .rev()
            .map(|e| EventView {
                at: when(Some(e.at)),
                text: e.text.replace('`', ""),
            })
            .collect(),
    })
}
