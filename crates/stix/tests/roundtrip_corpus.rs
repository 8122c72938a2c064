//! Every STIX 2.1 file of the shared corpora through the reader: each object
//! keeps its exact bytes, parses to the same JSON as an independent whole-
//! document parse, survives write → parse unchanged, and the object counts
//! match the corpus manifest.
//!
//! The corpora live beside the repository (`../shared/corpora`, or the
//! folder named by `TEARLINE_SHARED`).

use std::io::Read;
use std::path::{Path, PathBuf};

use serde_json::Value;
use stix::Limits;
use stix::reader::{self, Format, RawObject};

fn shared_dir() -> PathBuf {
    match std::env::var_os("TEARLINE_SHARED") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared")).to_path_buf(),
    }
}

/// Files of the manifest that hold STIX 2.1 objects, with the manifest's
/// object count when it gives one.
fn stix21_files(corpora: &Path) -> Vec<(String, Option<usize>)> {
    let manifest = match std::fs::read(corpora.join("manifest.json")) {
        Ok(bytes) => bytes,
        Err(err) => panic!("cannot read the corpus manifest: {err}"),
    };
    let manifest: Value = serde_json::from_slice(&manifest).unwrap_or_default();
    let mut files = Vec::new();
    for entry in manifest.as_array().into_iter().flatten() {
        let Some(file) = entry["file"].as_str() else {
            continue;
        };
        let has_21 = entry["by_spec_version"].get("2.1").is_some();
        // misp-stix test bundles and the python-stix2 array of SCOs are
        // STIX 2.1 files that the manifest does not count.
        let uncounted_21 = file.starts_with("misp-stix/tests/")
            || file == "cti-python-stix2/sco-examples-bundle.json";
        if has_21 {
            let count = entry["objects"].as_u64().map(|n| n as usize);
            files.push((file.to_owned(), count));
        } else if uncounted_21 {
            files.push((file.to_owned(), None));
        }
    }
    files
}

fn decompressed(bytes: Vec<u8>) -> Vec<u8> {
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        let decoded = flate2::read::MultiGzDecoder::new(&bytes[..]).read_to_end(&mut out);
        assert!(decoded.is_ok(), "{decoded:?}");
        out
    } else {
        bytes
    }
}

/// The objects of a document as an independent whole-document parse sees
/// them (serde_json directly, no streaming).
fn reference_objects(text: &str) -> Vec<Value> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Array(items)) => items,
        Ok(Value::Object(map)) if map.get("type").and_then(Value::as_str) == Some("bundle") => {
            match map.get("objects") {
                Some(Value::Array(items)) => items.clone(),
                _ => Vec::new(),
            }
        }
        Ok(object @ Value::Object(_)) => vec![object],
        Ok(other) => panic!("unexpected top level: {other}"),
        // JSON lines.
        Err(_) => text
            .lines()
            .filter(|line| !line.trim().is_empty())
            .map(|line| serde_json::from_str(line).unwrap_or(Value::Null))
            .collect(),
    }
}

#[test]
fn every_stix21_corpus_object_round_trips() {
    let corpora = shared_dir().join("corpora");
    let files = stix21_files(&corpora);
    assert!(files.len() > 150, "too few corpus files: {}", files.len());
    let limits = Limits::default();
    let mut total_objects = 0;
    for (file, manifest_count) in &files {
        let bytes = match std::fs::read(corpora.join(file)) {
            Ok(bytes) => bytes,
            Err(err) => panic!("{file}: {err}"),
        };
        let (summary, objects) = match reader::read_all(&bytes[..], &limits) {
            Ok(read) => read,
            Err(err) => panic!("{file}: {err}"),
        };
        let text = String::from_utf8(decompressed(bytes)).unwrap_or_default();
        let reference = reference_objects(&text);

        assert_eq!(summary.objects, objects.len(), "{file}");
        assert_eq!(objects.len(), reference.len(), "{file}: object count");
        if let Some(count) = manifest_count {
            assert_eq!(objects.len(), *count, "{file}: manifest count");
        }
        check_bytes_preserved(file, &text, summary.format, &objects);
        for (object, expected) in objects.iter().zip(&reference) {
            let parsed = match object.parse(&limits) {
                Ok(value) => value,
                Err(problem) => panic!("{file} object {}: {problem}", object.index),
            };
            assert_eq!(&parsed, expected, "{file} object {}", object.index);
            let written = serde_json::to_string(&parsed).unwrap_or_default();
            let reparsed = reader::parse_object(&written, &limits);
            assert_eq!(
                reparsed.as_ref(),
                Ok(&parsed),
                "{file} object {}",
                object.index
            );
        }
        total_objects += objects.len();
    }
    // The corpus README counts 24,246 distinct STIX 2.1 object versions; with
    // repeats across files there are more objects than that.
    assert!(total_objects > 24_246, "only {total_objects} objects read");
}

/// Each object's text is found verbatim in the document, in order.
fn check_bytes_preserved(file: &str, text: &str, format: Format, objects: &[RawObject]) {
    let mut from = 0;
    let mut line = 1;
    for object in objects {
        let raw = match &object.text {
            Ok(raw) => raw.as_str(),
            Err(problem) => panic!("{file} object {}: {problem}", object.index),
        };
        let Some(found) = text.get(from..).and_then(|rest| rest.find(raw)) else {
            panic!("{file} object {}: bytes not found in order", object.index);
        };
        let start = from + found;
        if format == Format::JsonLines {
            // A line is the object, nothing around it but whitespace.
            let line_start = text
                .get(..start)
                .and_then(|t| t.rfind('\n'))
                .map_or(0, |at| at + 1);
            assert!(
                text.get(line_start..start)
                    .is_some_and(|t| t.trim().is_empty()),
                "{file} object {}",
                object.index
            );
        }
        line += text.get(from..start).map_or(0, |t| t.matches('\n').count());
        assert_eq!(
            object.line, line as u64,
            "{file} object {}: line",
            object.index
        );
        line += raw.matches('\n').count();
        from = start + raw.len();
    }
}
