//! Capturing what the server logs while a test runs, and every way a test number might be written
//! down in it, so tests can show that no number reaches a log.

use std::sync::{Arc, Mutex};

/// Collects every log line written while its guard is held.
#[derive(Clone, Default)]
pub struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogBuffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl LogBuffer {
    /// Everything captured so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|p| p.into_inner())).into_owned()
    }
}

/// Starts capturing this thread's logs at debug level (a `#[tokio::test]` runs the server's tasks
/// on its one thread); capturing stops when the guard drops.
pub fn capture() -> (LogBuffer, tracing::subscriber::DefaultGuard) {
    let logs = LogBuffer::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter("debug")
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    (logs, tracing::subscriber::set_default(subscriber))
}

/// Every way a UK test number (E.164) might be written down.
pub fn spellings(e164: &str) -> Vec<String> {
    let national = format!("0{}", &e164[3..]);
    vec![
        e164.to_owned(),
        e164[1..].to_owned(),
        national.clone(),
        format!("{} {}", &national[..5], &national[5..]),
        e164[3..].to_owned(),
    ]
}

/// Whether `text` holds a UK fiction number (07700 900xxx) in any spelling: `7700 900` with its
/// space, or `7700900` inside a run of 10 to 12 decimal digits (`7700900123`, `07700900123`,
/// `447700900123`, with or without a `+`). The digits inside a longer run of hex digits (a hash, an
/// id, a key) are chance, not a number, and do not count.
pub fn holds_uk_fiction_number(text: &str) -> bool {
    if text.contains("7700 900") {
        return true;
    }
    let bytes = text.as_bytes();
    text.match_indices("7700900").any(|(start, found)| {
        let mut first = start;
        while first > 0 && bytes[first - 1].is_ascii_hexdigit() {
            first -= 1;
        }
        let mut end = start + found.len();
        while end < bytes.len() && bytes[end].is_ascii_hexdigit() {
            end += 1;
        }
        let run = &bytes[first..end];
        (10..=12).contains(&run.len()) && run.iter().all(u8::is_ascii_digit)
    })
}
