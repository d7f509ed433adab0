//! Where the dashboard may send a person after signing in: back to the page that asked them to,
//! but only a page of this site. A `next` taken from a link could otherwise send a person who
//! has just signed in to a look-alike site (`//evil.example`, or `/\evil.example` and `/<tab>/…`,
//! which a browser's URL parser turns into the same).

/// Longest return path kept (a longer one is no page of the dashboard).
const MAX_LENGTH: usize = 2_000;

/// `next` when it is a path of this site: one leading `/`, then no `/` or `\` straight after it,
/// and no backslash, whitespace or control character anywhere; otherwise the overview (`/`).
pub fn safe_return_path(next: Option<&str>) -> String {
    next.filter(|path| is_own_path(path))
        .unwrap_or("/")
        .to_owned()
}

fn is_own_path(path: &str) -> bool {
    let mut characters = path.chars();
    characters.next() == Some('/')
        && !matches!(characters.next(), Some('/' | '\\'))
        && path.len() <= MAX_LENGTH
        && !path
            .chars()
            .any(|c| c == '\\' || c.is_whitespace() || c.is_control())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_pages_are_kept() {
        for path in ["/", "/worklist", "/inbox/0192?x=1#top", "/settings/numbers"] {
            assert_eq!(safe_return_path(Some(path)), path);
        }
    }

    #[test]
    fn other_sites_and_odd_paths_go_to_the_overview() {
        for path in [
            "//evil.example",
            "/\\evil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            "https://evil.example",
            "evil.example",
            "",
            "/ok\\..\\x",
        ] {
            assert_eq!(safe_return_path(Some(path)), "/", "{path:?}");
        }
        assert_eq!(safe_return_path(None), "/");
        assert_eq!(
            safe_return_path(Some(&format!("/{}", "a".repeat(3_000)))),
            "/"
        );
    }
}
