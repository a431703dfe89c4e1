//! `timeline.svg`: a cell's timeline drawn as one swimlane per pod.
//!
//! `timeline.txt` lists every change the watches saw, often hundreds of
//! lines. What a person debugging a cell needs first is the order of
//! things: which pod was Pending while the old one still held the volume,
//! whether the Multi-Attach began before or after the disruption, whether
//! anything came back and when. The picture shows exactly that: each pod's
//! Pending, Running and Ready spans on its own lane, the classified
//! findings (Multi-Attach, FailedMount, a held Prometheus lock,
//! ProgressDeadlineExceeded...) as labelled marks on their object's lane,
//! and the disruption and each recovery as vertical lines.
//!
//! Everything is derived from what the timeline recorded: pod states from
//! its Pod entries, marks from [`findings`](crate::timeline::findings),
//! lines from its [`Record::Mark`] entries. A finding read from a log has
//! no time of its own; it is drawn where its pod first showed a failed
//! container, which is when that log was written.
//!
//! Drawn with plotters' SVG backend, compiled without font support: the SVG
//! names the generic `sans-serif` family and the viewer supplies the glyphs,
//! so no font file and no system font library is needed to make it.
//!
//! Over 600 lines because its tier-0 tests (which parse the SVG it draws)
//! sit beside the drawing code; the code itself is under 600.

use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::error::{Error, Result};
use crate::timeline::{Finding, Mark, PodRecord, Record, Timeline};
use crate::vocab::Reason;

/// The picture's file name in the cell's folder.
pub const TIMELINE_SVG: &str = "timeline.svg";

/// The shortest time axis, in seconds, so a timeline of one instant still
/// has a readable axis.
const MIN_END_S: f64 = 1.0;
/// Picture width in pixels.
const WIDTH: u32 = 1200;
/// Height of one lane in pixels.
const LANE_PX: u32 = 60;
/// Lane units above the lanes kept free for the labels of the vertical lines.
const HEADER: f64 = 0.7;
/// Space for the title, the x axis and the legend, in pixels.
const CAPTION_PX: u32 = 40;
const X_AXIS_PX: u32 = 45;
const LEGEND_PX: u32 = 34;
const MARGIN_PX: u32 = 12;
/// Lane titles longer than this are shortened in the middle (pod names
/// differ at their end).
const MAX_TITLE_CHARS: usize = 48;
/// Rough width of one character of the 12 px labels, for layout.
const CHAR_PX: u32 = 7;
/// Past this fraction of the axis, labels are put left of their mark.
const FLIP_AT: f64 = 0.75;
const FONT: &str = "sans-serif";
const X_DESC: &str = "seconds since the timeline watch started";

const MARK_COLOUR: RGBColor = RGBColor(139, 0, 0);
const DISRUPTION_COLOUR: RGBColor = RGBColor(228, 87, 46);
const RECOVERY_COLOUR: RGBColor = RGBColor(123, 63, 192);
const STEP_COLOUR: RGBColor = RGBColor(90, 90, 90);
const LANE_SHADE: RGBColor = RGBColor(240, 240, 240);
const GRID_COLOUR: RGBColor = RGBColor(215, 215, 215);
const TEXT_COLOUR: RGBColor = RGBColor(33, 33, 33);

/// What a pod was doing during one span of its lane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PodState {
    Pending,
    Running,
    Ready,
    Terminating,
    Ended,
}

impl PodState {
    /// In legend order.
    const ALL: [Self; 5] = [
        Self::Pending,
        Self::Running,
        Self::Ready,
        Self::Terminating,
        Self::Ended,
    ];

    /// The state a recorded pod is in; `None` once it is deleted.
    fn of(p: &PodRecord) -> Option<Self> {
        if p.deleted {
            return None;
        }
        Some(if p.terminating {
            Self::Terminating
        } else {
            match p.phase.as_str() {
                "Running" | "Unknown" if p.ready => Self::Ready,
                "Running" | "Unknown" => Self::Running,
                "Succeeded" | "Failed" => Self::Ended,
                // Pending, or no status yet.
                _ => Self::Pending,
            }
        })
    }

    fn label(self) -> &'static str {
        match self {
            Self::Pending => "Pending",
            Self::Running => "Running, not Ready",
            Self::Ready => "Ready",
            Self::Terminating => "Terminating",
            Self::Ended => "Succeeded / Failed",
        }
    }

    fn colour(self) -> RGBColor {
        match self {
            Self::Pending => RGBColor(240, 173, 78),
            Self::Running => RGBColor(118, 183, 229),
            Self::Ready => RGBColor(76, 175, 80),
            Self::Terminating => RGBColor(158, 158, 158),
            Self::Ended => RGBColor(97, 97, 97),
        }
    }
}

/// A stretch of time a pod spent in one state, in seconds.
#[derive(Debug, Clone, PartialEq)]
struct Span {
    from: f64,
    to: f64,
    state: PodState,
}

/// A classified finding on its object's lane.
#[derive(Debug, Clone, PartialEq)]
struct EventMark {
    at: f64,
    reason: Reason,
    /// Read from a log: its place is derived from the pod's state.
    from_log: bool,
}

impl EventMark {
    fn label(&self) -> String {
        if self.from_log {
            format!("{} (log)", self.reason.id())
        } else {
            self.reason.id().to_owned()
        }
    }
}

/// One swimlane: a pod, or another object (a Deployment) with findings.
#[derive(Debug, Clone, PartialEq)]
struct Lane {
    /// `Kind/name`, as findings name it.
    object: String,
    spans: Vec<Span>,
    marks: Vec<EventMark>,
}

impl Lane {
    fn new(object: String) -> Self {
        Self {
            object,
            spans: Vec::new(),
            marks: Vec::new(),
        }
    }

    /// A pod lane is titled by the pod's name, others by `Kind/name`.
    fn title(&self) -> String {
        let t = self.object.strip_prefix("Pod/").unwrap_or(&self.object);
        shorten(t, MAX_TITLE_CHARS)
    }
}

/// A vertical line: the disruption or a recovery.
#[derive(Debug, Clone, PartialEq)]
struct Line {
    at: f64,
    mark: Mark,
    text: String,
}

impl Line {
    fn label(&self) -> String {
        format!("{}: {}", self.mark, self.text)
    }

    fn colour(&self) -> RGBColor {
        match self.mark {
            Mark::Disruption => DISRUPTION_COLOUR,
            Mark::Recovery => RECOVERY_COLOUR,
            Mark::Step => STEP_COLOUR,
        }
    }
}

/// Everything the picture shows, in seconds on one axis from 0 to `end`.
#[derive(Debug, Clone, PartialEq)]
struct Picture {
    lanes: Vec<Lane>,
    lines: Vec<Line>,
    end: f64,
}

impl Picture {
    fn of(timeline: &Timeline, findings: &[Finding]) -> Self {
        let end = timeline
            .entries
            .iter()
            .map(|e| secs(e.at_ms))
            .fold(MIN_END_S, f64::max);
        let mut lanes = pod_lanes(timeline, end);
        for f in findings {
            add_mark(&mut lanes, timeline, f);
        }
        for lane in &mut lanes {
            lane.marks.sort_by(|a, b| a.at.total_cmp(&b.at));
        }
        Self {
            lanes,
            lines: lines(timeline),
            end,
        }
    }
}

fn secs(ms: u64) -> f64 {
    // Exact for any timeline shorter than 285 000 years.
    ms as f64 / 1000.0
}

/// Keep the start and the end of `s` when it is longer than `max` chars.
fn shorten(s: &str, max: usize) -> String {
    let n = s.chars().count();
    if n <= max {
        return s.to_owned();
    }
    let head: String = s.chars().take(max / 2 - 1).collect();
    let tail: String = s.chars().skip(n - (max - max / 2)).collect();
    format!("{head}…{tail}")
}

/// A pod's recorded states in time order, in seconds; `None`: deleted.
type Changes = Vec<(f64, Option<PodState>)>;

/// One lane per pod, in the order the watch first saw them.
fn pod_lanes(timeline: &Timeline, end: f64) -> Vec<Lane> {
    let mut states: Vec<(String, Changes)> = Vec::new();
    for e in &timeline.entries {
        let Record::Pod(p) = &e.record else { continue };
        let change = (secs(e.at_ms), PodState::of(p));
        match states.iter_mut().find(|(name, _)| *name == p.name) {
            Some((_, seen)) => seen.push(change),
            None => states.push((p.name.clone(), vec![change])),
        }
    }
    states
        .into_iter()
        .map(|(name, seen)| Lane {
            spans: spans(&seen, end),
            ..Lane::new(format!("Pod/{name}"))
        })
        .collect()
}

/// A pod's recorded states as spans: each lasts until the next change, the
/// last one until `end` unless the pod was deleted (`None`). Repeats of a
/// state (a restart count that changed) extend the span.
fn spans(states: &[(f64, Option<PodState>)], end: f64) -> Vec<Span> {
    let mut out: Vec<Span> = Vec::new();
    let mut prev = None;
    for (i, &(from, state)) in states.iter().enumerate() {
        let to = states.get(i + 1).map_or(end, |&(t, _)| t);
        match (state, out.last_mut()) {
            (Some(s), Some(last)) if prev == Some(s) => last.to = to,
            (Some(s), _) => out.push(Span { from, to, state: s }),
            (None, _) => {}
        }
        prev = state;
    }
    out
}

/// Put a finding on its object's lane, adding a lane for an object that
/// has none yet (a Deployment, a pod seen only in events).
fn add_mark(lanes: &mut Vec<Lane>, timeline: &Timeline, f: &Finding) {
    let mark = EventMark {
        at: finding_at(f, timeline),
        reason: f.reason,
        from_log: f.is_from_log(),
    };
    match lanes.iter_mut().find(|l| l.object == f.object) {
        Some(lane) => lane.marks.push(mark),
        None => {
            let mut lane = Lane::new(f.object.clone());
            lane.marks.push(mark);
            lanes.push(lane);
        }
    }
}

/// Where a finding goes on the time axis. A log line has no time on the
/// timeline: it goes where its pod first showed a failed container (when
/// that log was written), else where the pod was first seen, else at 0.
fn finding_at(f: &Finding, timeline: &Timeline) -> f64 {
    if !f.is_from_log() {
        return secs(f.at_ms);
    }
    let pod = f.object.strip_prefix("Pod/").unwrap_or(&f.object);
    let of_pod = || {
        timeline
            .entries
            .iter()
            .filter_map(move |e| match &e.record {
                Record::Pod(p) if p.name == pod => Some((e.at_ms, p)),
                _ => None,
            })
    };
    of_pod()
        .find(|(_, p)| failed_container(p))
        .or_else(|| of_pod().next())
        .map_or(0.0, |(at, _)| secs(at))
}

/// Whether a container of the pod has failed at least once (an init
/// container that completed with exit 0 has not).
fn failed_container(p: &PodRecord) -> bool {
    p.containers.iter().any(|c| {
        c.restarts > 0
            || c.last_terminated.is_some()
            || c.terminated
                .as_deref()
                .is_some_and(|t| !t.ends_with("(exit 0)"))
    })
}

fn lines(timeline: &Timeline) -> Vec<Line> {
    timeline
        .entries
        .iter()
        .filter_map(|e| match &e.record {
            Record::Mark { mark, text } => Some(Line {
                at: secs(e.at_ms),
                mark: *mark,
                text: text.clone(),
            }),
            _ => None,
        })
        .collect()
}

type Chart<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;
type Area<'b> = DrawingArea<SVGBackend<'b>, Shift>;
type Drawn = std::result::Result<(), DrawingAreaErrorKind<std::io::Error>>;

fn style(size: u32, colour: RGBColor, h: HPos) -> TextStyle<'static> {
    TextStyle {
        font: (FONT, size).into_font(),
        color: colour.to_backend_color(),
        pos: Pos::new(h, VPos::Center),
    }
}

/// Labels near the right end go left of their point, so they stay inside.
fn anchor(at: f64, end: f64) -> (HPos, i32) {
    if at > end * FLIP_AT {
        (HPos::Right, -6)
    } else {
        (HPos::Left, 6)
    }
}

/// The picture as an SVG document. The drawing only fails on a plotters
/// bug (the backend writes into a string), but that is reported, not hidden.
fn draw(p: &Picture, title: &str) -> std::result::Result<String, String> {
    let n = p.lanes.len().max(1);
    let plot_px = (n as f64 + HEADER) * f64::from(LANE_PX);
    let height = CAPTION_PX + X_AXIS_PX + LEGEND_PX + 2 * MARGIN_PX + plot_px.ceil() as u32;
    let mut svg = String::new();
    draw_into(&mut svg, (WIDTH, height), p, title).map_err(|e| e.to_string())?;
    Ok(svg)
}

fn draw_into(svg: &mut String, size: (u32, u32), p: &Picture, title: &str) -> Drawn {
    let root = SVGBackend::with_string(svg, size).into_drawing_area();
    root.fill(&WHITE)?;
    let (upper, legend) = root.split_vertically(size.1 - LEGEND_PX);
    let n = p.lanes.len().max(1) as f64;
    let label_px = p
        .lanes
        .iter()
        .map(|l| l.title().chars().count() as u32 * CHAR_PX + 16)
        .max()
        .unwrap_or(0)
        .clamp(90, 360);
    let mut chart = ChartBuilder::on(&upper)
        .caption(
            format!("{title}: pods and events"),
            (FONT, 18).into_font().color(&TEXT_COLOUR),
        )
        .margin(MARGIN_PX)
        .margin_right(3 * MARGIN_PX)
        .x_label_area_size(X_AXIS_PX)
        .y_label_area_size(label_px)
        .build_cartesian_2d(0.0..p.end, 0.0..n + HEADER)?;
    let decimals = usize::from(p.end < 10.0);
    let seconds = |x: &f64| format!("{x:.decimals$}");
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(0)
        .x_labels(12)
        .x_label_formatter(&seconds)
        .light_line_style(TRANSPARENT)
        .bold_line_style(GRID_COLOUR)
        .x_desc(X_DESC)
        .label_style((FONT, 12))
        .draw()?;
    for (i, lane) in p.lanes.iter().enumerate() {
        // Lane 0 at the top.
        let y0 = n - 1.0 - i as f64;
        draw_lane(&mut chart, lane, i, y0, p.end)?;
        draw_lane_title(&root, &chart, &lane.title(), y0)?;
    }
    if p.lanes.is_empty() {
        chart.draw_series(std::iter::once(Text::new(
            "no pod or classified event was recorded",
            (p.end / 2.0, 0.5),
            style(14, TEXT_COLOUR, HPos::Center),
        )))?;
    }
    draw_lines(&mut chart, &p.lines, n, p.end)?;
    draw_legend(&legend, label_px + MARGIN_PX)?;
    root.present()
}

/// A lane: its shading, its state spans, its marks with the first of each
/// reason labelled (later ones repeat it: event updates, restarts).
fn draw_lane(chart: &mut Chart<'_, '_>, lane: &Lane, i: usize, y0: f64, end: f64) -> Drawn {
    if i.is_multiple_of(2) {
        chart.draw_series(std::iter::once(Rectangle::new(
            [(0.0, y0), (end, y0 + 1.0)],
            // See-through, so the grid shows on shaded lanes too.
            LANE_SHADE.mix(0.7).filled(),
        )))?;
    }
    chart.draw_series(lane.spans.iter().map(|s| {
        Rectangle::new(
            [(s.from, y0 + 0.12), (s.to, y0 + 0.45)],
            s.state.colour().filled(),
        )
    }))?;
    chart.draw_series(
        lane.marks
            .iter()
            .map(|m| TriangleMarker::new((m.at, y0 + 0.55), 5, MARK_COLOUR.filled())),
    )?;
    let mut labelled: Vec<Reason> = Vec::new();
    for m in &lane.marks {
        if labelled.contains(&m.reason) {
            continue;
        }
        let row = if labelled.len().is_multiple_of(2) {
            0.72
        } else {
            0.9
        };
        labelled.push(m.reason);
        let (h, dx) = anchor(m.at, end);
        chart.draw_series(std::iter::once(
            EmptyElement::at((m.at, y0 + row))
                + Text::new(m.label(), (dx, 0), style(11, MARK_COLOUR, h)),
        ))?;
    }
    Ok(())
}

/// A lane's title, right-aligned in the label area left of the plot.
fn draw_lane_title(root: &Area<'_>, chart: &Chart<'_, '_>, title: &str, y0: f64) -> Drawn {
    let (x, y) = chart.backend_coord(&(0.0, y0 + 0.5));
    root.draw(&Text::new(
        title.to_owned(),
        (x - 8, y),
        style(12, TEXT_COLOUR, HPos::Right),
    ))
}

/// The disruption and recovery lines across all lanes, labelled in the
/// free band above them (alternating rows, as they can be seconds apart).
fn draw_lines(chart: &mut Chart<'_, '_>, lines: &[Line], n: f64, end: f64) -> Drawn {
    for (i, line) in lines.iter().enumerate() {
        let colour = line.colour();
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(line.at, 0.0), (line.at, n + HEADER)],
            colour.stroke_width(2),
        )))?;
        let row = if i.is_multiple_of(2) { 0.5 } else { 0.2 };
        let (h, dx) = anchor(line.at, end);
        chart.draw_series(std::iter::once(
            EmptyElement::at((line.at, n + HEADER * row))
                + Text::new(line.label(), (dx, 0), style(12, colour, h)),
        ))?;
    }
    Ok(())
}

/// The legend strip under the axis: state colours, the event mark, the
/// lines. It starts under the plot, or further left if it would not fit.
fn draw_legend(area: &Area<'_>, x0: u32) -> Drawn {
    const EVENT: &str = "classified event";
    let y = LEGEND_PX as i32 / 2;
    let text = |s: &str, x: i32| {
        Text::new(
            s.to_owned(),
            (x + 20, y),
            style(12, TEXT_COLOUR, HPos::Left),
        )
    };
    let advance = |s: &str| 20 + 24 + (s.chars().count() as u32 * CHAR_PX) as i32;
    let lines = [
        (Mark::Disruption.to_string(), DISRUPTION_COLOUR),
        (Mark::Recovery.to_string(), RECOVERY_COLOUR),
        (Mark::Step.to_string(), STEP_COLOUR),
    ];
    let width: i32 = PodState::ALL
        .iter()
        .map(|s| advance(s.label()))
        .sum::<i32>()
        + advance(EVENT)
        + lines.iter().map(|(l, _)| advance(l)).sum::<i32>();
    let mut x = (x0 as i32).min((WIDTH - MARGIN_PX) as i32 - width).max(0);
    for state in PodState::ALL {
        area.draw(&Rectangle::new(
            [(x, y - 6), (x + 14, y + 6)],
            state.colour().filled(),
        ))?;
        area.draw(&text(state.label(), x))?;
        x += advance(state.label());
    }
    area.draw(&TriangleMarker::new((x + 7, y), 5, MARK_COLOUR.filled()))?;
    area.draw(&text(EVENT, x))?;
    x += advance(EVENT);
    for (label, colour) in lines {
        area.draw(&PathElement::new(
            vec![(x + 7, y - 8), (x + 7, y + 8)],
            colour.stroke_width(2),
        ))?;
        area.draw(&text(&label, x))?;
        x += advance(&label);
    }
    Ok(())
}

/// The timeline of a cell as an SVG picture (see the module docs), titled
/// with the cell. `findings` are the cell's
/// `timeline::findings`, logs included.
///
/// # Errors
/// [`Error::Io`] if plotters fails to draw (it writes into a string, so
/// only a bug of its own can make it fail).
pub fn render_timeline_svg(
    timeline: &Timeline,
    findings: &[Finding],
    title: &str,
) -> Result<String> {
    draw(&Picture::of(timeline, findings), title).map_err(|e| {
        Error::io(
            "drawing the timeline picture",
            TIMELINE_SVG,
            std::io::Error::other(e),
        )
    })
}

/// Write [`render_timeline_svg`] into `dir` (created if missing) as
/// [`TIMELINE_SVG`]; returns the file's path.
///
/// # Errors
/// As [`render_timeline_svg`], and [`Error::Io`] when the file cannot be
/// written.
pub fn write_timeline_svg(
    dir: &Path,
    timeline: &Timeline,
    findings: &[Finding],
    title: &str,
) -> Result<PathBuf> {
    let svg = render_timeline_svg(timeline, findings, title)?;
    std::fs::create_dir_all(dir).map_err(|e| Error::io("creating the cell's folder", dir, e))?;
    let path = dir.join(TIMELINE_SVG);
    std::fs::write(&path, svg).map_err(|e| Error::io("writing the timeline picture", &path, e))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    //! Tier 0 on timelines in the exact format the harness writes as
    //! `timeline.json` (harness/tests/data/timeline/timeline-*.json; the
    //! README there says what each is built from), drawn and read back as XML.

    use super::*;

    const STUCK: &str = include_str!("../../tests/data/timeline/timeline-rollout-stuck.json");
    const MULTI_ATTACH: &str = include_str!("../../tests/data/timeline/timeline-multi-attach.json");
    const FAILED_MOUNT: &str = include_str!("../../tests/data/timeline/timeline-failed-mount.json");
    const LOCK_LOG: &str = include_str!("../../tests/data/timeline/prometheus-lock.log");

    /// A recorded timeline; re-serialized it must be the same document, so
    /// the fixture is exactly what the artifact writer produces.
    fn recorded(json: &str) -> Timeline {
        let t: Timeline = serde_json::from_str(json).expect("a timeline.json");
        let again = serde_json::to_value(&t).expect("serializes");
        let file: serde_json::Value = serde_json::from_str(json).expect("JSON");
        assert_eq!(again, file, "the fixture is not in the harness's format");
        t
    }

    /// The findings as the cell computes them (Prometheus's log classifier).
    fn findings_of(t: &Timeline, logs: &[crate::timeline::PodLog]) -> Vec<Finding> {
        crate::timeline::findings(t, logs, &crate::prometheus::classify_log)
    }

    /// The parts of a drawn picture the tests look at.
    struct Drawn {
        texts: Vec<String>,
        /// x of every vertical polyline, by stroke colour.
        verticals: Vec<(String, i64)>,
        /// Fill colour of every triangle.
        triangles: Vec<String>,
    }

    fn hex(c: RGBColor) -> String {
        format!("#{:02X}{:02X}{:02X}", c.0, c.1, c.2)
    }

    fn drawn(svg: &str) -> Drawn {
        let doc = roxmltree::Document::parse(svg).expect("timeline.svg is XML");
        assert_eq!(doc.root_element().tag_name().name(), "svg");
        let nodes = || doc.descendants().filter(roxmltree::Node::is_element);
        let texts = nodes()
            .filter(|n| n.has_tag_name("text"))
            .map(|n| n.text().unwrap_or_default().trim().to_owned())
            .collect();
        let verticals = nodes()
            .filter(|n| n.has_tag_name("polyline"))
            .filter_map(|n| {
                let xs: Vec<i64> = n
                    .attribute("points")?
                    .split_whitespace()
                    .filter_map(|p| p.split(',').next()?.parse().ok())
                    .collect();
                let x = *xs.first()?;
                (xs.len() == 2 && xs.iter().all(|v| *v == x))
                    .then(|| (n.attribute("stroke").unwrap_or_default().to_owned(), x))
            })
            .collect();
        let triangles = nodes()
            .filter(|n| n.has_tag_name("polygon"))
            .map(|n| n.attribute("fill").unwrap_or_default().to_owned())
            .collect();
        Drawn {
            texts,
            verticals,
            triangles,
        }
    }

    fn count(d: &Drawn, text: &str) -> usize {
        d.texts.iter().filter(|t| *t == text).count()
    }

    fn lines_of(d: &Drawn, colour: RGBColor) -> usize {
        d.verticals
            .iter()
            .filter(|(c, _)| *c == hex(colour))
            .count()
    }

    fn titles(p: &Picture) -> Vec<String> {
        p.lanes.iter().map(Lane::title).collect()
    }

    fn states(lane: &Lane) -> Vec<PodState> {
        lane.spans.iter().map(|s| s.state).collect()
    }

    #[test]
    fn a_stuck_rollout_shows_both_pods_the_lock_the_deadline_and_no_recovery() {
        let t = recorded(STUCK);
        let new = "prometheus-54888dd6b5-76b24";
        let logs = vec![crate::timeline::PodLog::current(
            new,
            "prometheus",
            LOCK_LOG,
        )];
        let f = findings_of(&t, &logs);
        let p = Picture::of(&t, &f);
        assert_eq!(
            titles(&p),
            ["prometheus-659648c996-gp57z", new, "Deployment/prometheus"]
        );
        // The old pod serves throughout; the new one never gets Ready.
        assert_eq!(states(&p.lanes[0]), [PodState::Ready]);
        assert_eq!(states(&p.lanes[1]), [PodState::Pending, PodState::Running]);
        // The lock is drawn where the new pod's container first failed.
        let lock = p.lanes[1]
            .marks
            .iter()
            .find(|m| m.reason == Reason::PrometheusLockHeld)
            .expect("lock mark");
        assert!((lock.at - 1.795).abs() < 1e-9, "{lock:?}");

        let d =
            drawn(&render_timeline_svg(&t, &f, "default-class/rollout-restart on kind").unwrap());
        for pod in t.pods() {
            assert_eq!(
                count(&d, &pod.name),
                1,
                "one lane title per pod: {:?}",
                d.texts
            );
        }
        assert_eq!(count(&d, "prometheus-lock-held (log)"), 1, "{:?}", d.texts);
        assert_eq!(count(&d, "progress-deadline-exceeded"), 1, "{:?}", d.texts);
        // The crash loop is explained by the lock: not a mark of its own.
        assert_eq!(count(&d, "crash-loop"), 0, "{:?}", d.texts);
        assert_eq!(count(&d, "disruption: rollout-restart"), 1, "{:?}", d.texts);
        assert!(
            !d.texts.iter().any(|t| t.starts_with("recovery:")),
            "{:?}",
            d.texts
        );
        // The plot's and the legend's; recovery: the legend's only.
        assert_eq!(lines_of(&d, DISRUPTION_COLOUR), 2, "{:?}", d.verticals);
        assert_eq!(lines_of(&d, RECOVERY_COLOUR), 1, "{:?}", d.verticals);
        assert_eq!(
            count(&d, "default-class/rollout-restart on kind: pods and events"),
            1
        );
        assert_eq!(count(&d, X_DESC), 1);
        for state in PodState::ALL {
            assert_eq!(count(&d, state.label()), 1, "legend {state:?}");
        }
    }

    #[test]
    fn a_multi_attach_wait_is_marked_between_the_disruption_and_the_recovery() {
        let t = recorded(MULTI_ATTACH);
        let f = findings_of(&t, &[]);
        let p = Picture::of(&t, &f);
        assert_eq!(
            titles(&p),
            ["prometheus-6d5f7c8b9-x7k2p", "prometheus-6d5f7c8b9-m4n8w"]
        );
        // The old pod: Ready, Terminating, gone at its deletion.
        assert_eq!(
            states(&p.lanes[0]),
            [PodState::Ready, PodState::Terminating]
        );
        assert!(
            p.lanes[0]
                .spans
                .last()
                .is_some_and(|s| (s.to - 3.102).abs() < 1e-9)
        );
        assert_eq!(
            states(&p.lanes[1]),
            [PodState::Pending, PodState::Running, PodState::Ready]
        );
        let waits = &p.lanes[1].marks;
        assert_eq!(
            waits.len(),
            5,
            "every recorded update of the event: {waits:?}"
        );
        assert!(waits.iter().all(|m| m.reason == Reason::MultiAttach));

        let d = drawn(
            &render_timeline_svg(&t, &f, "custom-class/reschedule-other-node on existing").unwrap(),
        );
        // Marked at every update, labelled once.
        assert_eq!(count(&d, "multi-attach"), 1, "{:?}", d.texts);
        let marks = d
            .triangles
            .iter()
            .filter(|c| **c == hex(MARK_COLOUR))
            .count();
        assert_eq!(marks, 5 + 1, "5 marks and the legend's");
        assert_eq!(
            count(&d, "disruption: reschedule-other-node"),
            1,
            "{:?}",
            d.texts
        );
        assert_eq!(count(&d, "recovery: prometheus"), 1, "{:?}", d.texts);
        assert_eq!(lines_of(&d, DISRUPTION_COLOUR), 2, "plot and legend");
        assert_eq!(lines_of(&d, RECOVERY_COLOUR), 2, "plot and legend");
        // Recovery is drawn right of the disruption.
        let x = |c: RGBColor| {
            d.verticals
                .iter()
                .find(|(s, _)| *s == hex(c))
                .map(|(_, x)| *x)
        };
        assert!(
            x(DISRUPTION_COLOUR) < x(RECOVERY_COLOUR),
            "{:?}",
            d.verticals
        );
    }

    #[test]
    fn a_replacement_that_never_mounts_has_no_ready_span() {
        let t = recorded(FAILED_MOUNT);
        let f = findings_of(&t, &[]);
        let p = Picture::of(&t, &f);
        assert_eq!(states(&p.lanes[1]), [PodState::Pending]);
        assert!((p.lanes[1].spans[0].to - p.end).abs() < 1e-9);
        let d = drawn(&render_timeline_svg(&t, &f, "nfs-static/node-stop on kind").unwrap());
        assert_eq!(count(&d, "failed-mount"), 1, "{:?}", d.texts);
        assert_eq!(count(&d, "node-not-ready"), 1, "{:?}", d.texts);
        assert_eq!(count(&d, "disruption: node-stop"), 1, "{:?}", d.texts);
        assert!(!d.texts.iter().any(|t| t.starts_with("recovery:")));
    }

    fn pod(name: &str, phase: &str, ready: bool, deleted: bool) -> Record {
        Record::Pod(PodRecord {
            name: name.into(),
            uid: String::new(),
            node: None,
            phase: phase.into(),
            ready,
            terminating: false,
            deleted,
            unschedulable: None,
            containers: vec![],
        })
    }

    fn at(ms: u64, record: Record) -> crate::timeline::Entry {
        crate::timeline::Entry { at_ms: ms, record }
    }

    #[test]
    fn odd_timelines_still_draw() {
        let finding = |object: &str, evidence: &str| Finding {
            reason: Reason::CrashLoop,
            object: object.into(),
            evidence: evidence.into(),
            at_ms: 0,
        };
        let recovery_only = Record::Mark {
            mark: Mark::Recovery,
            text: "grafana".into(),
        };
        let cases: Vec<(Timeline, Vec<Finding>)> = vec![
            (Timeline::default(), vec![]),
            (
                Timeline::from_records([pod("p", "Running", true, false)]),
                vec![],
            ),
            (
                Timeline::from_records([pod("gone", "", false, true)]),
                vec![],
            ),
            (Timeline::from_records([recovery_only]), vec![]),
            (
                Timeline::default(),
                vec![
                    finding("Pod/never-seen", "log: boom"),
                    finding("Node/n1", "x"),
                ],
            ),
            (
                Timeline {
                    entries: vec![at(u64::MAX, pod(&"x".repeat(300), "Weird", false, false))],
                },
                vec![],
            ),
        ];
        for (t, f) in cases {
            let svg = render_timeline_svg(&t, &f, "<odd> & \"quoted\"").unwrap();
            let d = drawn(&svg);
            assert_eq!(count(&d, "<odd> & \"quoted\": pods and events"), 1, "{svg}");
        }
        let d = drawn(&render_timeline_svg(&Timeline::default(), &[], "empty").unwrap());
        assert_eq!(count(&d, "no pod or classified event was recorded"), 1);
    }

    #[test]
    fn the_steps_of_a_long_disruption_are_lines_with_their_labels() {
        let mark = |ms, mark, text: &str| {
            at(
                ms,
                Record::Mark {
                    mark,
                    text: text.into(),
                },
            )
        };
        let t = Timeline {
            entries: vec![
                at(0, pod("p", "Running", true, false)),
                mark(1_000, Mark::Disruption, "volume-full"),
                mark(6_000, Mark::Step, "volume full"),
                mark(66_000, Mark::Step, "space freed"),
                mark(75_000, Mark::Recovery, "prometheus"),
            ],
        };
        let d = drawn(&render_timeline_svg(&t, &[], "csi-rwo/volume-full").unwrap());
        assert_eq!(count(&d, "step: volume full"), 1);
        assert_eq!(count(&d, "step: space freed"), 1);
        assert_eq!(count(&d, "step"), 1, "the legend names the step line once");
    }

    #[test]
    fn spans_extend_over_repeats_and_end_at_deletion() {
        let t = Timeline {
            entries: vec![
                at(0, pod("a", "Pending", false, false)),
                at(1_000, pod("a", "Running", true, false)),
                at(2_000, pod("a", "Running", true, false)),
                at(3_000, pod("a", "Running", true, true)),
                // A StatefulSet's replacement keeps the name.
                at(4_000, pod("a", "Pending", false, false)),
                at(
                    9_000,
                    Record::Note {
                        text: "stopped".into(),
                    },
                ),
            ],
        };
        let p = Picture::of(&t, &[]);
        let spans: Vec<(f64, f64, PodState)> = p.lanes[0]
            .spans
            .iter()
            .map(|s| (s.from, s.to, s.state))
            .collect();
        assert_eq!(
            spans,
            [
                (0.0, 1.0, PodState::Pending),
                (1.0, 3.0, PodState::Ready),
                (4.0, 9.0, PodState::Pending),
            ]
        );
    }

    #[test]
    fn a_completed_init_container_is_not_a_failure() {
        let mut p = PodRecord {
            name: "p".into(),
            uid: String::new(),
            node: None,
            phase: "Running".into(),
            ready: false,
            terminating: false,
            deleted: false,
            unschedulable: None,
            containers: vec![crate::timeline::ContainerRecord {
                name: "seed".into(),
                init: true,
                restarts: 0,
                ready: false,
                waiting: None,
                terminated: Some("Completed (exit 0)".into()),
                last_terminated: None,
            }],
        };
        assert!(!failed_container(&p));
        p.containers[0].terminated = Some("Error (exit 1)".into());
        assert!(failed_container(&p));
    }

    #[test]
    fn the_picture_is_written_into_the_cells_folder() {
        let dir = tempfile::tempdir().unwrap();
        let cell = dir.path().join("failures/x");
        let t = recorded(MULTI_ATTACH);
        let path = write_timeline_svg(&cell, &t, &[], "x").unwrap();
        assert_eq!(path, cell.join(TIMELINE_SVG));
        let svg = std::fs::read_to_string(&path).unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..80]);
        drawn(&svg);
    }

    #[test]
    fn long_titles_keep_both_ends() {
        let long = format!("prometheus-{}-tail9", "x".repeat(60));
        let s = shorten(&long, MAX_TITLE_CHARS);
        assert_eq!(s.chars().count(), MAX_TITLE_CHARS);
        assert!(s.starts_with("prometheus-") && s.ends_with("-tail9"), "{s}");
        assert_eq!(shorten("short", MAX_TITLE_CHARS), "short");
    }
}
