//! Hostile and broken input: each case gets a clear error (the stream ends)
//! or a problem of one object (the stream goes on), never a panic.

use std::convert::Infallible;
use std::io::Write;

use stix::Limits;
use stix::reader::{self, Format, JsonProblem, Position, RawObject, ReadError, ReadSummary};

type Outcome = (Result<ReadSummary, ReadError>, Vec<RawObject>);

fn read_with(input: &[u8], limits: &Limits) -> Outcome {
    let mut objects = Vec::new();
    let summary = reader::read(input, limits, |object| {
        objects.push(object);
        Ok::<(), Infallible>(())
    });
    (summary, objects)
}

fn read(input: &[u8]) -> Outcome {
    read_with(input, &Limits::default())
}

/// The stream error of `input`, which must end the stream.
fn stream_error(input: &[u8]) -> ReadError {
    match read(input).0 {
        Ok(summary) => panic!("expected an error, read {summary:?}"),
        Err(err) => err,
    }
}

/// The problems of the objects of `input`, which must read to the end.
fn problems(input: &[u8], limits: &Limits) -> Vec<Result<(), JsonProblem>> {
    let (summary, objects) = read_with(input, limits);
    assert!(summary.is_ok(), "{summary:?}");
    objects
        .iter()
        .map(|o| o.parse(limits).map(|_| ()))
        .collect()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let written = encoder.write_all(bytes).and_then(|()| encoder.finish());
    written.unwrap_or_default()
}

const BUNDLE: &str = "{\"type\":\"bundle\",\"id\":\"bundle--1\",\"objects\":[\n{\"type\":\"a\",\"id\":\"a--1\"},\n{\"type\":\"b\",\"id\":\"b--2\"}\n]}";

#[test]
fn empty_and_blank_input() {
    assert!(matches!(stream_error(b""), ReadError::Empty));
    assert!(matches!(stream_error(b" \n\t\r\n"), ReadError::Empty));
    let message = stream_error(b"").to_string();
    assert!(message.contains("empty"), "{message}");
}

#[test]
fn binary_input() {
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
    assert!(matches!(
        stream_error(png),
        ReadError::Binary {
            offset: 0,
            byte: 0x89
        }
    ));
    assert!(matches!(
        stream_error(b"\x00\x01\x02\x03"),
        ReadError::Utf16 | ReadError::Binary { .. }
    ));
    let elf = b"\x7fELF\x02\x01\x01";
    assert!(matches!(
        stream_error(elf),
        ReadError::Binary { byte: 0x7f, .. }
    ));
}

#[test]
fn utf16_input() {
    let text: Vec<u8> = "{\"type\":\"bundle\"}"
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    let with_bom: Vec<u8> = [0xff, 0xfe]
        .iter()
        .copied()
        .chain(text.iter().copied())
        .collect();
    assert!(matches!(stream_error(&with_bom), ReadError::Utf16));
    assert!(matches!(stream_error(&text), ReadError::Utf16));
}

#[test]
fn text_that_is_not_stix_json() {
    let err = stream_error(b"\n  hello");
    assert!(
        matches!(
            err,
            ReadError::NotStix {
                found: 'h',
                position: Position {
                    line: 2,
                    column: 3,
                    ..
                }
            }
        ),
        "{err:?}"
    );
    assert!(matches!(stream_error(b"42"), ReadError::NotStix { .. }));
    assert!(matches!(
        stream_error(b"\"bundle\""),
        ReadError::NotStix { .. }
    ));
}

#[test]
fn truncated_bundle_names_the_object() {
    let cut = BUNDLE.get(..BUNDLE.len() - 12).unwrap_or_default();
    let (summary, objects) = read(cut.as_bytes());
    let err = summary.err();
    assert!(
        matches!(
            err,
            Some(ReadError::Truncated {
                position: Position {
                    line: 3,
                    object_index: Some(1),
                    ..
                }
            })
        ),
        "{err:?}"
    );
    assert_eq!(objects.len(), 1, "objects before the cut are delivered");
    let message = err.map(|e| e.to_string()).unwrap_or_default();
    assert!(message.contains("truncated"), "{message}");
    assert!(message.contains("line 3"), "{message}");
}

#[test]
fn truncated_everywhere_never_panics() {
    // Every prefix of a bundle and of JSON lines: an error or a result,
    // never a panic.
    let lines = "{\"a\":1}\n{\"b\":[1,2,{\"c\":\"\\u00e9\"}]}\n";
    for text in [BUNDLE, lines] {
        for cut in 0..text.len() {
            let _ = read(text.as_bytes().get(..cut).unwrap_or_default());
        }
    }
}

#[test]
fn truncated_gzip() {
    let compressed = gzip(BUNDLE.as_bytes());
    let cut = compressed.get(..compressed.len() - 10).unwrap_or_default();
    let err = stream_error(cut);
    assert!(
        matches!(err, ReadError::Gzip { .. } | ReadError::Truncated { .. }),
        "{err:?}"
    );
    let mut corrupt = compressed.clone();
    if let Some(byte) = corrupt.get_mut(12) {
        *byte ^= 0xff;
    }
    let err = stream_error(&corrupt);
    assert!(
        matches!(
            err,
            ReadError::Gzip { .. } | ReadError::Syntax { .. } | ReadError::Binary { .. }
        ),
        "{err:?}"
    );
}

#[test]
fn broken_framing_in_bundle_ends_the_stream_with_position() {
    let broken = BUNDLE.replace("\"id\":\"b--2\"}", "\"id\":[\"b--2\"}");
    let err = stream_error(broken.as_bytes());
    assert!(
        matches!(
            &err,
            ReadError::Syntax {
                position: Position {
                    line: 3,
                    object_index: Some(1),
                    ..
                },
                ..
            }
        ),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(message.contains("'}' where ']'"), "{message}");
}

#[test]
fn grammar_error_inside_an_object_is_its_problem() {
    let broken = BUNDLE.replace("\"id\":\"b--2\"", "\"id\" \"b--2\"");
    let got = problems(broken.as_bytes(), &Limits::default());
    assert_eq!(got.first(), Some(&Ok(())));
    assert!(
        matches!(got.get(1), Some(Err(JsonProblem::Syntax { line: 1, .. }))),
        "{got:?}"
    );
}

#[test]
fn nan_in_bundle_is_named() {
    let broken = BUNDLE.replace("\"id\":\"b--2\"", "\"x\":NaN");
    let got = problems(broken.as_bytes(), &Limits::default());
    assert!(
        matches!(got.get(1), Some(Err(JsonProblem::NotANumber { .. }))),
        "{got:?}"
    );
    let message = got
        .get(1)
        .and_then(|p| p.clone().err())
        .map(|p| p.to_string())
        .unwrap_or_default();
    assert!(message.contains("NaN"), "{message}");
}

#[test]
fn top_level_grammar_errors() {
    for (input, expected) in [
        ("{\"type\" \"bundle\"}", "':'"),
        ("{\"type\":\"bundle\" \"objects\":[]}", "','"),
        ("{\"type\":\"bundle\",}", "property name"),
        ("{type:\"bundle\"}", "double quotes"),
        (
            "{\"type\":\"bundle\",\"objects\":[{},]}",
            "an object after ','",
        ),
        ("{\"type\":\"bundle\",\"objects\":[{} {}]}", "',' or ']'"),
        ("[{}}", "',' or ']'"),
    ] {
        let err = stream_error(input.as_bytes());
        let message = err.to_string();
        assert!(
            matches!(err, ReadError::Syntax { .. }) && message.contains(expected),
            "{input}: {message}"
        );
    }
}

#[test]
fn nan_and_huge_numbers_are_problems_of_their_object() {
    let input = "{\"a\":1}\n{\"x\":NaN}\n{\"x\":1e400}\n{\"x\":-Infinity}\n{\"x\":123456789012345678901234567890}\n{\"ok\":1}\n";
    let got = problems(input.as_bytes(), &Limits::default());
    assert_eq!(got.len(), 6);
    assert!(matches!(
        got.get(1),
        Some(Err(JsonProblem::NotANumber { .. }))
    ));
    assert!(matches!(
        got.get(2),
        Some(Err(JsonProblem::NumberOutOfRange { .. }))
    ));
    assert!(matches!(
        got.get(3),
        Some(Err(JsonProblem::NotANumber { .. }))
    ));
    assert!(matches!(
        got.get(4),
        Some(Err(JsonProblem::IntegerTooLarge { .. }))
    ));
    assert_eq!(got.get(5), Some(&Ok(())));
}

#[test]
fn invalid_utf8_is_a_problem_of_one_object() {
    let mut input = b"[{\"a\":\"ok\"},{\"a\":\"".to_vec();
    input.extend_from_slice(b"\xff\xfe bad");
    input.extend_from_slice(b"\"},{\"a\":\"ok\"}]");
    let got = problems(&input, &Limits::default());
    assert_eq!(
        got,
        [Ok(()), Err(JsonProblem::InvalidUtf8 { offset: 6 }), Ok(())]
    );
    // The same in JSON lines.
    let mut lines = b"{\"a\":1}\n{\"a\":\"\xc3\x28\"}\n{\"a\":2}\n".to_vec();
    lines.extend_from_slice(b"\n");
    let got = problems(&lines, &Limits::default());
    assert_eq!(got.len(), 3);
    assert!(matches!(
        got.get(1),
        Some(Err(JsonProblem::InvalidUtf8 { .. }))
    ));
}

#[test]
fn duplicate_keys_are_problems_of_one_object() {
    let input = "{\"type\":\"bundle\",\"objects\":[{\"type\":\"a\",\"id\":\"a--1\",\"type\":\"b\"},{\"type\":\"c\"}]}";
    let got = problems(input.as_bytes(), &Limits::default());
    assert_eq!(
        got,
        [
            Err(JsonProblem::DuplicateKey {
                path: "$".into(),
                key: "type".into()
            }),
            Ok(())
        ]
    );
}

#[test]
fn wrong_types() {
    // Elements that are not objects are problems of that element.
    let got = problems(
        b"{\"type\":\"bundle\",\"objects\":[1,null,[],{}]}",
        &Limits::default(),
    );
    assert_eq!(
        got,
        [
            Err(JsonProblem::NotAnObject { found: "a number" }),
            Err(JsonProblem::NotAnObject { found: "null" }),
            Err(JsonProblem::NotAnObject { found: "an array" }),
            Ok(())
        ]
    );
    // A bundle whose objects is not a list is not a bundle.
    for objects in ["\"x\"", "{}", "3", "null", "true"] {
        let input = format!("{{\"type\":\"bundle\",\"objects\":{objects}}}");
        let err = stream_error(input.as_bytes());
        assert!(
            matches!(err, ReadError::BadBundle { .. }),
            "{objects}: {err:?}"
        );
    }
    // A top-level object whose type is not a string is an object.
    let (summary, objects) = read(b"{\"type\":[\"bundle\"],\"objects\":[]}");
    assert!(matches!(
        summary,
        Ok(ReadSummary {
            format: Format::Object,
            ..
        })
    ));
    assert_eq!(objects.len(), 1);
}

#[test]
fn trailing_data_is_refused() {
    let input = format!("{BUNDLE}\n{BUNDLE}");
    let err = stream_error(input.as_bytes());
    assert!(
        matches!(
            err,
            ReadError::TrailingData {
                after: "bundle",
                ..
            }
        ),
        "{err:?}"
    );
    let err = stream_error(b"[{}] x");
    assert!(
        matches!(err, ReadError::TrailingData { after: "array", .. }),
        "{err:?}"
    );
    let err = stream_error(b"{} x");
    assert!(
        matches!(
            err,
            ReadError::TrailingData {
                after: "object",
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn nesting_20000_deep_everywhere() {
    let deep = format!("{}{}", "[".repeat(20_000), "]".repeat(20_000));
    let object = format!("{{\"type\":\"x\",\"deep\":{deep}}}");
    let too_deep = |got: &[Result<(), JsonProblem>]| {
        got.len() == 1
            && matches!(
                got.first(),
                Some(Err(JsonProblem::TooDeep { limit: 100, .. }))
            )
    };
    // As a bundle element, a single object, a JSON line, an array element.
    let bundle = format!("{{\"type\":\"bundle\",\"objects\":[{object}]}}");
    assert!(too_deep(&problems(bundle.as_bytes(), &Limits::default())));
    assert!(too_deep(&problems(object.as_bytes(), &Limits::default())));
    let lines = format!("{{}}\n{object}\n");
    let got = problems(lines.as_bytes(), &Limits::default());
    assert!(matches!(got.get(1), Some(Err(JsonProblem::TooDeep { .. }))));
    let array = format!("[{object}]");
    assert!(too_deep(&problems(array.as_bytes(), &Limits::default())));
    // Deep nesting in the bundle's own properties is skipped without
    // recursion.
    let bundle = format!("{{\"type\":\"bundle\",\"x\":{deep},\"objects\":[{{}}]}}");
    assert_eq!(problems(bundle.as_bytes(), &Limits::default()), [Ok(())]);
    // A top-level array of deep arrays.
    let (summary, objects) = read(format!("[{deep}]").as_bytes());
    assert!(summary.is_ok());
    assert_eq!(
        objects.first().map(|o| o.text.clone()),
        Some(Err(JsonProblem::NotAnObject { found: "an array" }))
    );
}

#[test]
fn fifty_megabyte_string() {
    let big = "A".repeat(50 * 1024 * 1024);
    let object = format!("{{\"type\":\"x\",\"big\":\"{big}\"}}");
    drop(big);
    // Over the object limit: a problem of that object, in every layout,
    // and the objects after it are still read.
    let bundle = format!("{{\"type\":\"bundle\",\"objects\":[{object},{{}}]}}");
    let got = problems(bundle.as_bytes(), &Limits::default());
    assert!(
        matches!(
            got.as_slice(),
            [
                Err(JsonProblem::ObjectTooLarge {
                    limit: 16_777_216,
                    ..
                }),
                Ok(())
            ]
        ),
        "{got:?}"
    );
    let got = problems(object.as_bytes(), &Limits::default());
    assert!(matches!(
        got.as_slice(),
        [Err(JsonProblem::ObjectTooLarge { .. })]
    ));
    let lines = format!("{{}}\n{object}\n{{}}\n");
    let got = problems(lines.as_bytes(), &Limits::default());
    assert!(
        matches!(
            got.as_slice(),
            [Ok(()), Err(JsonProblem::ObjectTooLarge { .. }), Ok(())]
        ),
        "{got:?}"
    );
    // Within the object limit but over the string limit.
    let roomy = Limits {
        max_object_bytes: 64 * 1024 * 1024,
        ..Limits::default()
    };
    let got = problems(bundle.as_bytes(), &roomy);
    assert!(
        matches!(
            got.as_slice(),
            [
                Err(JsonProblem::StringTooLong {
                    len: 52_428_800,
                    ..
                }),
                Ok(())
            ]
        ),
        "{got:?}"
    );
    if let Some(Err(problem)) = got.first() {
        assert_eq!(problem.path(), "$.big");
    }
}

#[test]
fn huge_value_in_bundle_header_is_refused() {
    let big = "A".repeat(9 * 1024 * 1024);
    let input = format!("{{\"type\":\"bundle\",\"id\":\"{big}\",\"objects\":[]}}");
    let err = stream_error(input.as_bytes());
    assert!(matches!(err, ReadError::TooLarge { .. }), "{err:?}");
}

#[test]
fn error_messages_say_what_to_do() {
    let cases: [&[u8]; 4] = [b"", b"\x89PNG", b"{\"a\":", b"hello"];
    for input in cases {
        let message = stream_error(input).to_string();
        assert!(message.len() > 30, "{message}");
        assert!(
            message.contains("expected") || message.contains("fetch"),
            "{message}"
        );
    }
}
