//! Property: printing a tree gives text that parses, and printing a parsed
//! tree gives text that parses back to the same tree.

use proptest::prelude::*;
use stix_pattern::ast::*;
use stix_pattern::{PatternLimits, StixVersion, parse};

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn object_type() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("file".to_string()),
        Just("x509-certificate".to_string()),
        Just("network-traffic".to_string()),
        "[a-z][a-z0-9_-]{0,8}".prop_filter("not a keyword", |s| !is_keyword(s)),
    ]
}

fn is_keyword(s: &str) -> bool {
    matches!(
        s,
        "true"
            | "false"
            | "AND"
            | "OR"
            | "NOT"
            | "IN"
            | "LIKE"
            | "MATCHES"
            | "ISSUBSET"
            | "ISSUPERSET"
            | "EXISTS"
            | "LAST"
            | "START"
            | "STOP"
            | "SECONDS"
            | "WITHIN"
            | "REPEATS"
            | "TIMES"
            | "FOLLOWEDBY"
    )
}

fn key() -> impl Strategy<Value = PathStep> {
    prop_oneof![
        "[a-z_][a-z0-9_]{0,8}"
            .prop_filter("not a keyword", |s| !is_keyword(s))
            .prop_map(|name| PathStep::Key {
                name,
                quoted: false
            }),
        any::<String>().prop_map(|name| PathStep::Key { name, quoted: true }),
    ]
}

fn path() -> impl Strategy<Value = ObjectPath> {
    let step = prop_oneof![
        3 => key(),
        1 => (0u32..1000).prop_map(|n| PathStep::Index(NumberText(n.to_string()))),
        1 => Just(PathStep::AnyIndex),
    ];
    (object_type(), key(), prop::collection::vec(step, 0..4)).prop_map(
        |(object_type, first, rest)| {
            let mut steps = vec![first];
            steps.extend(rest);
            ObjectPath { object_type, steps }
        },
    )
}

fn timestamp() -> impl Strategy<Value = TimestampText> {
    (
        1000u32..3000,
        1u32..13,
        1u32..29,
        0u32..24,
        0u32..60,
        0u32..60,
        prop::option::of(0u32..1_000_000),
    )
        .prop_map(|(y, mo, d, h, mi, s, frac)| {
            let frac = frac.map(|f| format!(".{f}")).unwrap_or_default();
            TimestampText(format!(
                "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}{frac}Z"
            ))
        })
}

fn literal(allow_bool: bool) -> impl Strategy<Value = Literal> {
    let number = prop_oneof![
        any::<i64>().prop_map(|i| Literal::Int(NumberText(i.to_string()))),
        (0u32..100).prop_map(|i| Literal::Int(NumberText(format!("+{i}")))),
        (any::<i32>(), 0u32..1000)
            .prop_map(|(i, f)| Literal::Float(NumberText(format!("{i}.{f}")))),
    ];
    let other = prop_oneof![
        any::<String>().prop_map(Literal::Str),
        prop::collection::vec(any::<u8>(), 1..12).prop_map(|b| Literal::Binary(base64(&b))),
        prop::collection::vec(any::<u8>(), 0..8)
            .prop_map(|b| Literal::Hex(b.iter().map(|x| format!("{x:02x}")).collect())),
        timestamp().prop_map(Literal::Timestamp),
    ];
    let bools = if allow_bool { 1 } else { 0 };
    prop_oneof![2 => number, 2 => other, bools => any::<bool>().prop_map(Literal::Bool)]
}

fn comparison() -> impl Strategy<Value = Comparison> {
    let equality = (
        prop_oneof![Just(Operator::Eq), Just(Operator::Neq)],
        literal(true),
    )
        .prop_map(|(op, l)| (op, Operand::Literal(l)));
    let order = (
        prop_oneof![
            Just(Operator::Lt),
            Just(Operator::Le),
            Just(Operator::Gt),
            Just(Operator::Ge)
        ],
        literal(false),
    )
        .prop_map(|(op, l)| (op, Operand::Literal(l)));
    let set = prop::collection::vec(literal(true), 0..4)
        .prop_map(|items| (Operator::In, Operand::Set(items)));
    let stringy = (
        prop_oneof![
            Just(Operator::Like),
            Just(Operator::Matches),
            Just(Operator::IsSubset),
            Just(Operator::IsSuperset)
        ],
        any::<String>(),
    )
        .prop_map(|(op, s)| (op, Operand::Literal(Literal::Str(s))));
    let exists = Just((Operator::Exists, Operand::None));
    (
        path(),
        any::<bool>(),
        prop_oneof![equality, order, set, stringy, exists],
    )
        .prop_map(|(path, negated, (operator, operand))| Comparison {
            path,
            negated,
            operator,
            operand,
        })
}

fn comparison_expr() -> impl Strategy<Value = ComparisonExpr> {
    comparison()
        .prop_map(ComparisonExpr::Test)
        .prop_recursive(4, 24, 4, |inner| {
            prop_oneof![
                inner
                    .clone()
                    .prop_map(|e| ComparisonExpr::Group(Box::new(e))),
                prop::collection::vec(inner.clone(), 2..4).prop_map(ComparisonExpr::And),
                prop::collection::vec(inner, 2..4).prop_map(ComparisonExpr::Or),
            ]
        })
}

fn qualifier() -> impl Strategy<Value = Qualifier> {
    prop_oneof![
        (1u32..10_000).prop_map(|n| Qualifier::Within(NumberText(n.to_string()))),
        (1u32..100, 0u32..100).prop_map(|(a, b)| Qualifier::Within(NumberText(format!("{a}.{b}")))),
        (1u32..100).prop_map(|n| Qualifier::Repeats(NumberText(n.to_string()))),
        (timestamp(), timestamp()).prop_map(|(start, stop)| Qualifier::StartStop { start, stop }),
    ]
}

fn observation_expr() -> impl Strategy<Value = ObservationExpr> {
    comparison_expr()
        .prop_map(ObservationExpr::Bracket)
        .prop_recursive(4, 24, 4, |inner| {
            prop_oneof![
                inner
                    .clone()
                    .prop_map(|e| ObservationExpr::Group(Box::new(e))),
                prop::collection::vec(inner.clone(), 2..4).prop_map(ObservationExpr::And),
                prop::collection::vec(inner.clone(), 2..4).prop_map(ObservationExpr::Or),
                prop::collection::vec(inner.clone(), 2..4).prop_map(ObservationExpr::FollowedBy),
                (inner, prop::collection::vec(qualifier(), 1..3)).prop_map(|(e, qualifiers)| {
                    ObservationExpr::Qualified {
                        expr: Box::new(e),
                        qualifiers,
                    }
                }),
            ]
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn printed_trees_parse_and_reprint_identically(root in observation_expr()) {
        let limits = PatternLimits::default();
        let tree = Pattern { version: StixVersion::V21, root };
        let text = tree.to_string();
        let parsed = parse(&text, StixVersion::V21, &limits);
        prop_assert!(parsed.is_ok(), "{text}: {parsed:?}");
        if let Ok(parsed) = parsed {
            let again = parse(&parsed.to_string(), StixVersion::V21, &limits);
            prop_assert_eq!(again.as_ref(), Ok(&parsed));
        }
    }

    #[test]
    fn parsing_arbitrary_text_never_panics(text in any::<String>()) {
        let _ = stix_pattern::validate(&text, StixVersion::V21, &PatternLimits::default());
    }
}

#[test]
fn normal_form_trees_survive_exactly() {
    let limits = PatternLimits::default();
    for text in [
        "[file:name = 'a\\b']",
        "([a:b = 1] OR [c:d != 'x\\'y']) FOLLOWEDBY [e:'f g'[*].h[2] IN (1, 2.5, true)] WITHIN 5 SECONDS",
        "[a:b NOT LIKE 'x%' AND (c:d MATCHES '^z' OR NOT EXISTS c:e)] REPEATS 2 TIMES START t'2020-01-01T00:00:00Z' STOP t'2021-01-01T00:00:00.5Z'",
    ] {
        if let Ok(p) = parse(text, StixVersion::V21, &limits) {
            assert_eq!(parse(&p.to_string(), StixVersion::V21, &limits), Ok(p));
        }
    }
    let p = parse(
        "[a:b = +5 AND a:c = b'YQ==' AND a:d = h'0A']",
        StixVersion::V21,
        &limits,
    );
    assert_eq!(
        p.map(|p| p.to_string()),
        Ok("[a:b = +5 AND a:c = b'YQ==' AND a:d = h'0A']".to_string())
    );
}
