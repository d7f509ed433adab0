//! `ringback phone normalize`: reads numbers one per line and prints, per line, how Ringback reads
//! them (E.164 and number type) as JSON. Support staff use it to preview an import; it prints no
//! caller key and stores nothing.

use std::io::{BufRead, Write};

use ringback_shared::phone::{self, Region};
use serde::Serialize;

/// One output line.
#[derive(Serialize, Debug, PartialEq)]
pub struct NormalizedLine {
    pub input: String,
    pub e164: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub error: Option<String>,
}

/// Reads `input` line by line and writes one JSON object per line to `output`. Blank lines are
/// skipped; a line that cannot be read as a number carries its error in its JSON object. A line
/// that is not UTF-8 (an export saved as Latin-1, say) is read with its stray bytes replaced, so
/// the rest of the file is still read.
pub fn normalize_lines(
    region: Region,
    input: impl BufRead,
    mut output: impl Write,
) -> std::io::Result<()> {
    for line in input.split(b'\n') {
        let line = line?;
        let line = String::from_utf8_lossy(&line);
        let trimmed = line.trim();
        if trimmed.is_empty() {
            continue;
        }
        serde_json::to_writer(&mut output, &normalize_line(region, trimmed))?;
        output.write_all(b"\n")?;
    }
    output.flush()
}

fn normalize_line(region: Region, input: &str) -> NormalizedLine {
    match phone::normalize(input, region) {
        Ok(number) => NormalizedLine {
            input: input.to_owned(),
            e164: Some(number.e164.as_str().to_owned()),
            kind: number.kind.map(|kind| kind.as_str().to_owned()),
            error: None,
        },
        Err(error) => NormalizedLine {
            input: input.to_owned(),
            e164: None,
            kind: None,
            error: Some(error.to_string()),
        },
    }
}
