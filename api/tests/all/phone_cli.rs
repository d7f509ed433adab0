//! `ringback phone normalize` prints one JSON object per input line, with E.164 and number type or
//! an error, and never a caller key.

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::Value;

fn normalize(region: &str, input: impl AsRef<[u8]>) -> Vec<Value> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ringback"))
        .args(["phone", "normalize", "--region", region])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ringback starts");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_ref())
        .expect("write stdin");
    let output = child.wait_with_output().expect("ringback finishes");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).expect("utf-8");
    assert!(!stdout.contains("v1:"), "no caller key is printed");
    stdout
        .lines()
        .map(|line| serde_json::from_str(line).expect("each line is JSON"))
        .collect()
}

#[test]
fn reads_national_and_international_forms() {
    let lines = normalize(
        "GB",
        "07700 900123\n+44 7700 900456\n\n0044 (0)7700 900789\n",
    );
    assert_eq!(lines.len(), 3, "blank lines are skipped");
    assert_eq!(lines[0]["input"], "07700 900123");
    assert_eq!(lines[0]["e164"], "+447700900123");
    assert_eq!(lines[0]["type"], "mobile");
    assert_eq!(lines[0]["error"], Value::Null);
    assert_eq!(lines[1]["e164"], "+447700900456");
    assert_eq!(lines[2]["e164"], "+447700900789");
}

/// A line that is not UTF-8 (a Latin-1 "£" in an exported sheet) gets its own answer, and the
/// lines after it are still read.
#[test]
fn a_line_that_is_not_utf8_does_not_stop_the_rest() {
    let lines = normalize("GB", b"07700 900123\n\xa3 07700 900456\r\n07700 900789\n");
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert_eq!(lines[0]["e164"], "+447700900123");
    assert_eq!(lines[2]["e164"], "+447700900789");
}

#[test]
fn uses_the_default_region_for_national_numbers() {
    let lines = normalize("AU", "0491 570 006\n");
    assert_eq!(lines[0]["e164"], "+61491570006");
    assert_eq!(lines[0]["type"], "mobile");
}

#[test]
fn invalid_lines_get_an_error_without_echoing_the_number_in_it() {
    let lines = normalize("GB", "not a number\n0770\n");
    for line in &lines {
        assert_eq!(line["e164"], Value::Null);
        assert_eq!(line["type"], Value::Null);
        let error = line["error"].as_str().expect("error message");
        assert!(!error.is_empty());
        assert!(
            !error.contains("0770"),
            "the error does not repeat the input: {error}"
        );
    }
}

#[test]
fn unknown_region_is_refused_clearly() {
    let output = Command::new(env!("CARGO_BIN_EXE_ringback"))
        .args(["phone", "normalize", "--region", "XX"])
        .stdin(Stdio::null())
        .output()
        .expect("ringback runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("region"), "{stderr}");
}
