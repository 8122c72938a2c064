//! Parse-only vs read vs read+parse vs read+parse+validate, in process, on
//! the same bytes: how close the STIX pipeline comes to plain serde_json.
//!
//!     cargo bench -p stix --bench read_validate -- [FILE...]
//!
//! Without files it uses two corpus bundles (`../shared/corpora`, or the
//! folder in `TEARLINE_SHARED`). Prints the median of several runs per stage
//! and each stage's time relative to serde_json parsing the whole document
//! into a `Value`. A bench binary, not criterion: the figures feed
//! `scripts/bench-validate`, which prints them next to process timings.

use std::convert::Infallible;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use stix::Limits;
use stix::reader;
use stix::validate::{Options, Validator};

const DEFAULT_FILES: [&str; 2] = [
    "corpora/attack-stix-data/ics-attack-18.1.json",
    "corpora/mbc-stix2.1/mbc.json",
];

fn shared_dir() -> PathBuf {
    match std::env::var_os("TEARLINE_SHARED") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared")).to_path_buf(),
    }
}

fn median(mut runs: Vec<Duration>) -> Duration {
    runs.sort();
    runs.get(runs.len() / 2).copied().unwrap_or_default()
}

/// Median time of `stage`, repeated until about a second has passed (at
/// least five runs).
fn time(mut stage: impl FnMut()) -> Duration {
    stage();
    let mut runs = Vec::new();
    let started = Instant::now();
    while runs.len() < 5 || (started.elapsed() < Duration::from_secs(1) && runs.len() < 200) {
        let run = Instant::now();
        stage();
        runs.push(run.elapsed());
    }
    median(runs)
}

fn main() {
    // `cargo bench` passes `--bench`; anything else is a file.
    let mut files: Vec<PathBuf> = std::env::args()
        .skip(1)
        .filter(|arg| !arg.starts_with("--"))
        .map(PathBuf::from)
        .collect();
    if files.is_empty() {
        let shared = shared_dir();
        files = DEFAULT_FILES.iter().map(|f| shared.join(f)).collect();
    }
    let limits = Limits::default();
    let validator = Validator::new(Options::default());
    for file in files {
        let bytes = match std::fs::read(&file) {
            Ok(bytes) => bytes,
            Err(err) => {
                eprintln!("skipping {}: {err}", file.display());
                continue;
            }
        };
        let mut objects = 0;
        let mut findings = 0;
        let serde_value = time(|| {
            let value: Result<serde_json::Value, _> = serde_json::from_slice(&bytes);
            black_box(value.is_ok());
        });
        let read_only = time(|| {
            let mut n = 0;
            let _ = reader::read(&bytes[..], &limits, |object| {
                black_box(&object);
                n += 1;
                Ok::<(), Infallible>(())
            });
            objects = n;
        });
        let read_parse = time(|| {
            let _ = reader::read(&bytes[..], &limits, |object| {
                black_box(object.parse(&limits).is_ok());
                Ok::<(), Infallible>(())
            });
        });
        let read_parse_validate = time(|| {
            let mut n = 0;
            let _ = reader::read(&bytes[..], &limits, |object| {
                if let Ok(value) = object.parse(&limits) {
                    n += validator.validate(&value).len();
                }
                Ok::<(), Infallible>(())
            });
            findings = n;
        });
        let mb = bytes.len() as f64 / 1e6;
        println!(
            "{} ({:.1} MB, {objects} objects, {findings} findings)",
            file.display(),
            mb
        );
        let base = serde_value.as_secs_f64();
        for (stage, took) in [
            ("serde_json whole document -> Value", serde_value),
            ("stix reader: framing only", read_only),
            ("stix reader + parse_object", read_parse),
            ("stix reader + parse_object + validate", read_parse_validate),
        ] {
            let secs = took.as_secs_f64();
            println!(
                "  {stage:<40} {:>9.2} ms {:>8.1} MB/s {:>6.2}x serde_json",
                secs * 1e3,
                mb / secs,
                secs / base
            );
        }
    }
}
