//! junit.xml of real runs, checked against the shape of the common JUnit schema (the
//! Ant/Jenkins `junit-10.xsd` that CI systems read): `testsuites` → `testsuite` (name,
//! tests, failures, errors, time, timestamp, hostname) → `testcase` (name, classname,
//! time) with at most one `failure` or `error` (message, type, a body) and the
//! `system-out`; counts that match the cases, and case times that add up to the suite's.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use quick_xml::events::Event;
use std::collections::BTreeMap;
use std::path::Path;

/// One element: its name, attributes, text and children.
#[derive(Debug, Default)]
struct El {
    name: String,
    attrs: BTreeMap<String, String>,
    text: String,
    children: Vec<El>,
}

impl El {
    fn attr(&self, k: &str) -> &str {
        self.attrs
            .get(k)
            .unwrap_or_else(|| panic!("<{}> has no {k}: {self:?}", self.name))
    }
    fn kids(&self, name: &str) -> Vec<&El> {
        self.children.iter().filter(|c| c.name == name).collect()
    }
}

/// Parses XML into a tree; panics on anything malformed.
fn parse(xml: &str) -> El {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut stack = vec![El::default()];
    let open = |e: &quick_xml::events::BytesStart| El {
        name: String::from_utf8_lossy(e.name().as_ref()).into_owned(),
        attrs: e
            .attributes()
            .map(|a| {
                let a = a.unwrap();
                (
                    String::from_utf8_lossy(a.key.as_ref()).into_owned(),
                    a.unescape_value().unwrap().into_owned(),
                )
            })
            .collect(),
        ..El::default()
    };
    loop {
        match reader.read_event() {
            Ok(Event::Eof) => break,
            Ok(Event::Start(e)) => stack.push(open(&e)),
            Ok(Event::Empty(e)) => {
                let el = open(&e);
                stack.last_mut().unwrap().children.push(el);
            }
            Ok(Event::End(_)) => {
                let el = stack.pop().unwrap();
                stack.last_mut().unwrap().children.push(el);
            }
            Ok(Event::Text(t)) => stack
                .last_mut()
                .unwrap()
                .text
                .push_str(&t.decode().unwrap()),
            // quick-xml 0.38 hands entities (`&amp;`, `&#10;`) over on their own.
            Ok(Event::GeneralRef(r)) => {
                let text = &mut stack.last_mut().unwrap().text;
                match r.resolve_char_ref().unwrap() {
                    Some(c) => text.push(c),
                    None => {
                        let name = r.decode().unwrap();
                        text.push_str(
                            quick_xml::escape::resolve_predefined_entity(&name)
                                .unwrap_or_else(|| panic!("unknown entity &{name};")),
                        );
                    }
                }
            }
            Ok(_) => {}
            Err(e) => panic!("not well-formed XML: {e}\n{xml}"),
        }
    }
    assert_eq!(stack.len(), 1, "unclosed elements:\n{xml}");
    let mut doc = stack.pop().unwrap();
    assert_eq!(doc.children.len(), 1, "one root element:\n{xml}");
    doc.children.pop().unwrap()
}

fn seconds(s: &str) -> f64 {
    let v: f64 = s
        .parse()
        .unwrap_or_else(|_| panic!("time '{s}' is not a decimal"));
    assert!(v >= 0.0 && v.is_finite(), "time {v}");
    v
}

fn count(s: &str) -> usize {
    s.parse()
        .unwrap_or_else(|_| panic!("count '{s}' is not a whole number"))
}

/// Checks the document's shape; returns the suite for the test's own assertions.
fn validate(xml: &str) -> El {
    let root = parse(xml);
    assert_eq!(root.name, "testsuites", "{xml}");
    assert!(
        root.children.len() == 1 && root.children[0].name == "testsuite",
        "one testsuite under testsuites: {xml}"
    );
    let suite = root.children.into_iter().next().unwrap();
    check_suite(&suite, xml);
    suite
}

fn check_suite(s: &El, xml: &str) {
    assert!(!s.attr("name").is_empty());
    let stamp = s.attr("timestamp");
    chrono::DateTime::parse_from_rfc3339(stamp)
        .unwrap_or_else(|e| panic!("timestamp '{stamp}' is not ISO 8601: {e}"));
    assert!(!s.attr("hostname").is_empty());
    let suite_time = seconds(s.attr("time"));
    // The schema's order: properties?, testcase*, system-out?, system-err?.
    let order: Vec<&str> = s.children.iter().map(|c| c.name.as_str()).collect();
    let mut rank = 0;
    for n in &order {
        let r = match *n {
            "properties" => 0,
            "testcase" => 1,
            "system-out" => 2,
            "system-err" => 3,
            other => panic!("<{other}> in a testsuite: {xml}"),
        };
        assert!(r >= rank, "out of the schema's order: {order:?}");
        rank = r;
    }
    let cases = s.kids("testcase");
    assert_eq!(count(s.attr("tests")), cases.len(), "{xml}");
    let (mut failures, mut errors, mut total) = (0, 0, 0.0);
    for c in &cases {
        assert!(!c.attr("name").is_empty() && !c.attr("classname").is_empty());
        total += seconds(c.attr("time"));
        let outcomes = c
            .children
            .iter()
            .filter(|k| matches!(k.name.as_str(), "failure" | "error" | "skipped"))
            .count();
        assert!(outcomes <= 1, "at most one outcome per case: {c:?}");
        for k in &c.children {
            match k.name.as_str() {
                "failure" | "error" => {
                    if k.name == "failure" {
                        failures += 1;
                    } else {
                        errors += 1;
                    }
                    assert!(!k.attr("message").is_empty() && !k.attr("type").is_empty());
                    assert!(
                        k.text.trim().lines().count() >= 2,
                        "a body that explains: {k:?}"
                    );
                }
                "system-out" | "system-err" | "skipped" => {}
                other => panic!("<{other}> in a testcase: {xml}"),
            }
        }
    }
    assert_eq!(count(s.attr("failures")), failures, "{xml}");
    assert_eq!(count(s.attr("errors")), errors, "{xml}");
    assert!(
        (total - suite_time).abs() <= 0.001 * cases.len() as f64,
        "case times add up to {total}, the suite says {suite_time}: {xml}"
    );
}

fn junit_of(out: &Path) -> String {
    std::fs::read_to_string(out.join("junit.xml")).unwrap()
}

/// The test case named `name`.
fn case<'a>(suite: &'a El, name: &str) -> &'a El {
    suite
        .children
        .iter()
        .find(|c| c.name == "testcase" && c.attr("name") == name)
        .unwrap_or_else(|| panic!("no test case {name}: {suite:?}"))
}

#[test]
fn a_fail_has_a_failure_with_a_body_and_times_that_add_up() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("run");
    let w = workload();
    let opts = "--duration 4s --interval 100ms --warmup 1s --max-growth-rate 60MB/h --max-total-growth 1GB";
    let o = run_on(&out, opts, &[w.to_str().unwrap(), "leak", "20"]);
    assert_eq!(code(&o), 1, "{}", show(&o));
    let s = validate(&junit_of(&out));
    let r = report(&out);
    assert_eq!(
        s.attr("timestamp").get(..19),
        r["started_at"].as_str().unwrap().get(..19),
        "the run's start"
    );
    assert_eq!(s.attr("hostname"), r["host"]["hostname"].as_str().unwrap());
    let rate = case(&s, "max_growth_rate rss_bytes");
    let f = &rate.kids("failure")[0];
    assert_eq!(f.attr("type"), "FAIL");
    for want in [
        "limit: max_growth_rate 60.0 MB/h",
        "measured: rss_bytes robust slope",
        "analysed: ",
    ] {
        assert!(f.text.contains(want), "{want}: {}", f.text);
    }
    // The run's time is the target's case; the checks' are 0.
    assert_eq!(
        case(&s, "target ran to the end").attr("time"),
        s.attr("time")
    );
    assert_eq!(rate.attr("time"), "0.000");
}

#[test]
fn a_crashed_target_and_an_inconclusive_error_have_bodies() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("crash");
    let o = run_on(
        &out,
        "--duration 3s --interval 100ms",
        &["sh", "-c", "sleep 1; kill -SEGV $$"],
    );
    assert_eq!(code(&o), 4, "{}", show(&o));
    let s = validate(&junit_of(&out));
    let f = &case(&s, "target ran to the end").kids("failure")[0];
    assert_eq!(f.attr("type"), "target_failed");
    assert!(f.text.contains("SIGSEGV"), "{}", f.text);
    // Too short to judge: INCONCLUSIVE, an error under the default policy (exit 3).
    let out = d.path().join("short");
    let w = workload();
    let o = run_on(
        &out,
        "--duration 1s --interval 200ms",
        &[w.to_str().unwrap(), "steady", "10"],
    );
    assert_eq!(code(&o), 3, "{}", show(&o));
    let s = validate(&junit_of(&out));
    let errors: Vec<&El> = s
        .kids("testcase")
        .into_iter()
        .flat_map(|c| c.kids("error"))
        .collect();
    assert!(
        errors.iter().any(|e| e.attr("type") == "INCONCLUSIVE"),
        "{s:?}"
    );
}

/// The checker itself: the old junit.xml, each case repeating the run's time, is refused.
#[test]
#[should_panic(expected = "case times add up")]
fn the_shape_check_refuses_times_that_do_not_add_up() {
    validate(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="soak" tests="2" failures="0" errors="0">
    <testsuite name="soak x" tests="2" disabled="0" errors="0" failures="0" timestamp="2026-01-01T00:00:00.000+00:00" time="6.000" hostname="h">
        <testcase name="max_growth_rate rss_bytes" classname="soak.x" time="6.000"/>
        <testcase name="target ran to the end" classname="soak.x" time="6.000"/>
    </testsuite>
</testsuites>"#,
    );
}
