//! The results table, and the baseline it is compared with (`xtask/bench-baseline.json`).

use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use super::{load::Stats, wrk};

#[derive(Serialize, Deserialize)]
pub struct Row {
    pub scenario: String,
    pub per_second: f64,
    /// Latencies of the requests measured; `None` for a row that counts items of one long
    /// operation (a sync job) instead.
    pub p50_us: Option<u64>,
    pub p99_us: Option<u64>,
    pub peak_rss_kib: Option<u64>,
    /// Failed requests and the first reason; a run with failures is not saved.
    #[serde(skip)]
    pub failures: Option<(u64, String)>,
}

impl Row {
    pub fn new(scenario: &str, stats: &Stats, peak_rss_kib: Option<u64>) -> Self {
        Self {
            scenario: scenario.to_owned(),
            per_second: stats.per_second(),
            p50_us: Some(stats.latency.value_at_quantile(0.50)),
            p99_us: Some(stats.latency.value_at_quantile(0.99)),
            peak_rss_kib,
            failures: stats.first_error.clone().map(|first| (stats.errors, first)),
        }
    }

    /// A row from wrk's summary.
    pub fn measured(scenario: &str, m: &wrk::Measured, peak_rss_kib: Option<u64>) -> Self {
        Self {
            scenario: scenario.to_owned(),
            per_second: m.per_second,
            p50_us: Some(m.p50_us),
            p99_us: Some(m.p99_us),
            peak_rss_kib,
            failures: (m.failures > 0)
                .then(|| (m.failures, "non-2xx answers or socket errors".to_owned())),
        }
    }
}

/// A run's rows, and remarks printed under the table.
#[derive(Default)]
pub struct Report {
    pub rows: Vec<Row>,
    pub notes: Vec<String>,
}

#[derive(Deserialize)]
struct Baseline {
    rows: Vec<Row>,
}

#[derive(Serialize)]
struct BaselineFile<'a> {
    note: String,
    rows: &'a [Row],
}

/// The saved rows, or none when no baseline was saved yet.
pub fn load_baseline(path: &Path) -> Result<Vec<Row>> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let baseline: Baseline = serde_json::from_str(&text)
                .with_context(|| format!("reading {}", path.display()))?;
            Ok(baseline.rows)
        }
        Err(_) => Ok(Vec::new()),
    }
}

pub fn save_baseline(path: &Path, rows: &[Row], seconds: u64) -> Result<()> {
    if rows.iter().any(|row| row.failures.is_some()) {
        bail!("not saving a baseline from a run with failed requests");
    }
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let baseline = BaselineFile {
        note: format!("cargo xtask bench --save-baseline: {seconds} s per scenario, {cores} cores"),
        rows,
    };
    std::fs::write(path, serde_json::to_string_pretty(&baseline)? + "\n")?;
    Ok(())
}

pub fn print(report: &Report, baseline: &[Row]) {
    let rows = &report.rows;
    let mut table = vec![[
        "scenario".to_owned(),
        "req/s".to_owned(),
        "p50".to_owned(),
        "p99".to_owned(),
        "peak RSS".to_owned(),
    ]];
    for row in rows {
        let old = baseline.iter().find(|b| b.scenario == row.scenario);
        table.push([
            row.scenario.clone(),
            cell(row.per_second, old.map(|o| o.per_second), |v| {
                format!("{v:.0}")
            }),
            optional(row.p50_us, old.and_then(|o| o.p50_us), micros),
            optional(row.p99_us, old.and_then(|o| o.p99_us), micros),
            optional(row.peak_rss_kib, old.and_then(|o| o.peak_rss_kib), mib),
        ]);
    }
    let widths: Vec<usize> = (0..5)
        .map(|c| {
            table
                .iter()
                .map(|r| r[c].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    println!();
    if baseline.is_empty() {
        println!("(no baseline yet: `cargo xtask bench --save-baseline` saves one)");
    } else {
        println!("(in parentheses: the baseline, and the change)");
    }
    for (i, r) in table.iter().enumerate() {
        let cells: Vec<String> = r
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(c, (text, &w))| match c {
                0 => format!("{text:<w$}"),
                _ => format!("{text:>w$}"),
            })
            .collect();
        println!("| {} |", cells.join(" | "));
        if i == 0 {
            let rule: Vec<String> = widths.iter().map(|&w| "-".repeat(w)).collect();
            println!("|-{}-|", rule.join("-|-"));
        }
    }
    for note in &report.notes {
        println!("{note}");
    }
    for row in rows {
        if let Some((count, first)) = &row.failures {
            println!(
                "warning: {}: {count} requests failed, first: {first}",
                row.scenario
            );
        }
    }
}

/// `now`, and beside it the baseline value and the change in percent.
fn cell(now: f64, old: Option<f64>, show: fn(f64) -> String) -> String {
    match old {
        Some(old) if old > 0.0 => {
            let change = (now - old) / old * 100.0;
            format!("{} ({} {change:+.1}%)", show(now), show(old))
        }
        _ => show(now),
    }
}

/// [`cell`] for a figure a row may lack.
fn optional(now: Option<u64>, old: Option<u64>, show: fn(f64) -> String) -> String {
    match now {
        Some(now) => cell(now as f64, old.map(|v| v as f64), show),
        None => "n/a".to_owned(),
    }
}

fn micros(us: f64) -> String {
    match us {
        us if us < 1_000.0 => format!("{us:.0} µs"),
        us if us < 1_000_000.0 => format!("{:.2} ms", us / 1_000.0),
        us => format!("{:.2} s", us / 1_000_000.0),
    }
}

fn mib(kib: f64) -> String {
    format!("{:.1} MiB", kib / 1024.0)
}
