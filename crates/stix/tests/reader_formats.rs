//! The reader on each input layout: what it finds, in what order, with what
//! positions and bytes.

use std::convert::Infallible;
use std::io::Write;

use stix::Limits;
use stix::reader::{self, Format, JsonProblem, RawObject, ReadError, ReadSummary};

fn read_str(input: &str) -> (ReadSummary, Vec<RawObject>) {
    read_bytes(input.as_bytes())
}

fn read_bytes(input: &[u8]) -> (ReadSummary, Vec<RawObject>) {
    match reader::read_all(input, &Limits::default()) {
        Ok(read) => read,
        Err(err) => panic!("read failed: {err}"),
    }
}

fn texts(objects: &[RawObject]) -> Vec<&str> {
    objects
        .iter()
        .map(|o| o.text.as_deref().unwrap_or("<problem>"))
        .collect()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let written = encoder.write_all(bytes).and_then(|()| encoder.finish());
    written.unwrap_or_default()
}

const BUNDLE: &str = r#"{
  "type": "bundle",
  "id": "bundle--5d0092c5-5f74-4287-9642-33f4c354e56d",
  "objects": [
    {"type": "identity", "id": "identity--1", "name": "A"},
    {
      "type": "indicator",
      "id": "indicator--2",
      "pattern": "[ipv4-addr:value = '10.0.0.1']"
    }
  ]
}"#;

#[test]
fn bundle_objects_keep_their_exact_bytes_and_lines() {
    let (summary, objects) = read_str(BUNDLE);
    assert_eq!(summary.format, Format::Bundle);
    assert_eq!(summary.objects, 2);
    assert_eq!(
        summary.bundle.as_ref().and_then(|b| b.id.as_deref()),
        Some("bundle--5d0092c5-5f74-4287-9642-33f4c354e56d")
    );
    assert_eq!(
        summary.bundle.as_ref().and_then(|b| b.spec_version.clone()),
        None
    );
    assert_eq!(
        texts(&objects),
        [
            r#"{"type": "identity", "id": "identity--1", "name": "A"}"#,
            "{\n      \"type\": \"indicator\",\n      \"id\": \"indicator--2\",\n      \"pattern\": \"[ipv4-addr:value = '10.0.0.1']\"\n    }",
        ]
    );
    assert_eq!(objects.iter().map(|o| o.index).collect::<Vec<_>>(), [0, 1]);
    assert_eq!(objects.iter().map(|o| o.line).collect::<Vec<_>>(), [5, 6]);
    assert_eq!(summary.bytes, BUNDLE.len() as u64);
}

#[test]
fn bundle_keys_in_any_order() {
    // Sorted keys (as `json.dumps(sort_keys=True)` writes them) put
    // `objects` before `type`.
    let input = r#"{"id":"bundle--x","objects":[{"type":"a","id":"a--1"},{"type":"b","id":"b--2"}],"spec_version":"2.0","type":"bundle"}"#;
    let (summary, objects) = read_str(input);
    assert_eq!(summary.format, Format::Bundle);
    assert_eq!(
        texts(&objects),
        [r#"{"type":"a","id":"a--1"}"#, r#"{"type":"b","id":"b--2"}"#]
    );
    let bundle = summary.bundle.unwrap_or_default();
    assert_eq!(bundle.id.as_deref(), Some("bundle--x"));
    assert_eq!(bundle.spec_version.as_deref(), Some("2.0"));
}

#[test]
fn late_type_bundle_larger_than_one_object_streams() {
    // More than max_object_bytes of elements before `type`: the reader
    // stops holding them back and streams.
    let limits = Limits {
        max_object_bytes: 100,
        ..Limits::default()
    };
    let element = r#"{"type":"x","id":"x--0000000000"}"#;
    let body = vec![element; 20].join(",");
    let input = format!(r#"{{"objects":[{body}],"type":"bundle"}}"#);
    let mut seen = 0;
    let summary = reader::read(input.as_bytes(), &limits, |object| {
        assert_eq!(object.text.as_deref(), Ok(element));
        seen += 1;
        Ok::<(), Infallible>(())
    });
    assert!(matches!(
        summary,
        Ok(ReadSummary {
            format: Format::Bundle,
            objects: 20,
            ..
        })
    ));
    assert_eq!(seen, 20);
}

#[test]
fn late_type_that_is_not_bundle_is_refused_when_too_big_to_hold() {
    let limits = Limits {
        max_object_bytes: 100,
        ..Limits::default()
    };
    let element = r#"{"type":"x","id":"x--0000000000"}"#;
    let body = vec![element; 20].join(",");
    let input = format!(r#"{{"objects":[{body}],"type":"x-custom"}}"#);
    let got = reader::read(input.as_bytes(), &limits, |_| Ok::<(), Infallible>(()));
    assert!(
        matches!(got, Err(ReadError::NotABundle { limit: 100 })),
        "{got:?}"
    );
}

#[test]
fn single_object_with_an_objects_list_is_one_object() {
    let input = r#" {"objects":[{"a":1}],"type":"x-thing","id":"x-thing--1"} "#;
    let (summary, objects) = read_str(input);
    assert_eq!(summary.format, Format::Object);
    assert_eq!(texts(&objects), [input.trim()]);
}

#[test]
fn single_object() {
    let input = "\n\n  {\"type\": \"identity\",\n \"id\": \"identity--1\"}\n";
    let (summary, objects) = read_str(input);
    assert_eq!(summary.format, Format::Object);
    assert!(summary.bundle.is_none());
    assert_eq!(texts(&objects), [input.trim()]);
    assert_eq!(objects.first().map(|o| o.line), Some(3));
}

#[test]
fn array_of_objects() {
    let input = "[{\"type\":\"a\"},\n {\"type\":\"b\"}, 7, \"s\"]";
    let (summary, objects) = read_str(input);
    assert_eq!(summary.format, Format::Array);
    assert_eq!(objects.len(), 4);
    assert_eq!(texts(&objects)[..2], [r#"{"type":"a"}"#, r#"{"type":"b"}"#]);
    assert_eq!(objects.get(1).map(|o| o.line), Some(2));
    assert_eq!(
        objects.get(2).map(|o| o.text.clone()),
        Some(Err(JsonProblem::NotAnObject { found: "a number" }))
    );
    assert_eq!(
        objects.get(3).map(|o| o.text.clone()),
        Some(Err(JsonProblem::NotAnObject { found: "a string" }))
    );
}

#[test]
fn json_lines_with_blank_lines_and_bad_lines() {
    let input = "{\"type\":\"a\"}\n\n{\"type\":\"b\"}\r\n{\"type\":\n[1]\n{\"type\":\"c\"}";
    let (summary, objects) = read_str(input);
    assert_eq!(summary.format, Format::JsonLines);
    assert_eq!(objects.len(), 5);
    assert_eq!(
        objects.iter().map(|o| o.line).collect::<Vec<_>>(),
        [1, 3, 4, 5, 6]
    );
    assert_eq!(
        objects.iter().map(|o| o.index).collect::<Vec<_>>(),
        [0, 1, 2, 3, 4]
    );
    let wanted = [r#"{"type":"a"}"#, r#"{"type":"b"}"#];
    assert_eq!(texts(&objects)[..2], wanted);
    assert!(matches!(
        objects.get(2).map(|o| &o.text),
        Some(Err(JsonProblem::Syntax { .. }))
    ));
    assert_eq!(
        objects.get(3).map(|o| o.text.clone()),
        Some(Err(JsonProblem::NotAnObject { found: "an array" }))
    );
    assert_eq!(
        objects.get(4).map(|o| o.text.clone()),
        Some(Ok(r#"{"type":"c"}"#.to_string()))
    );
}

#[test]
fn gzip_is_detected_by_content() {
    for plain in [BUNDLE, "{\"a\":1}\n{\"b\":2}\n"] {
        let (plain_summary, plain_objects) = read_str(plain);
        let (summary, objects) = read_bytes(&gzip(plain.as_bytes()));
        assert!(summary.gzip);
        assert!(!plain_summary.gzip);
        assert_eq!(summary.format, plain_summary.format);
        assert_eq!(objects, plain_objects);
    }
}

#[test]
fn utf8_byte_order_mark_is_skipped() {
    let input = format!("\u{feff}{BUNDLE}");
    let (summary, objects) = read_str(&input);
    assert_eq!(summary.format, Format::Bundle);
    assert_eq!(objects.len(), 2);
}

#[test]
fn empty_bundle_and_empty_array() {
    let (summary, objects) = read_str(r#"{"type":"bundle","id":"bundle--1"}"#);
    assert_eq!((summary.format, objects.len()), (Format::Bundle, 0));
    let (summary, objects) = read_str(r#"{"type":"bundle","objects":[]}"#);
    assert_eq!((summary.format, objects.len()), (Format::Bundle, 0));
    let (summary, objects) = read_str("[]");
    assert_eq!((summary.format, objects.len()), (Format::Array, 0));
}

#[test]
fn callback_error_stops_the_stream() {
    let mut seen = 0;
    let got = reader::read(BUNDLE.as_bytes(), &Limits::default(), |_| {
        seen += 1;
        Err("enough")
    });
    assert!(matches!(got, Err(ReadError::Callback("enough"))), "{got:?}");
    assert_eq!(seen, 1);
}

#[test]
fn parse_of_a_raw_object() {
    let (_, objects) = read_str(BUNDLE);
    let parsed = objects.first().map(|o| o.parse(&Limits::default()));
    assert_eq!(
        parsed,
        Some(Ok(
            serde_json::json!({"type": "identity", "id": "identity--1", "name": "A"})
        ))
    );
}

#[test]
fn open_decompresses_gzip_files() {
    let dir = tempfile::tempdir();
    let Ok(dir) = dir else { panic!("no temp dir") };
    let path = dir.path().join("bundle.json.data");
    let written = std::fs::write(&path, gzip(BUNDLE.as_bytes()));
    assert!(written.is_ok());
    let mut text = String::new();
    let got =
        reader::open(&path).and_then(|mut r| std::io::Read::read_to_string(&mut r, &mut text));
    assert!(got.is_ok(), "{got:?}");
    assert_eq!(text, BUNDLE);
}
