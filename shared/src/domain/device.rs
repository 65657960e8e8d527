//! "Safari on macOS" from a user agent, via the woothee crate (small, no regex tables to load at
//! cold start).

use woothee::parser::Parser;

const UNKNOWN: &str = "UNKNOWN";

/// A short device label for a user agent, or `None` when nothing useful can be recognised.
pub fn describe(user_agent: &str) -> Option<String> {
    let parsed = Parser::new().parse(user_agent)?;
    let browser = (parsed.name != UNKNOWN).then_some(parsed.name);
    let os = (parsed.os != UNKNOWN).then(|| os_family(parsed.os));
    match (browser, os) {
        (Some(browser), Some(os)) if browser != os => Some(format!("{browser} on {os}")),
        (Some(browser), _) => Some(browser.to_owned()),
        (None, Some(os)) => Some(format!("Unknown browser on {os}")),
        (None, None) => None,
    }
}

/// Names merchants recognise, rather than woothee's version-specific ones.
fn os_family(os: &str) -> &str {
    match os {
        "Mac OSX" | "Mac OS Classic" => "macOS",
        "iPhone" | "iPad" | "iPod" | "iOS" => "iOS",
        "ChromeOS" => "ChromeOS",
        other if other.starts_with("Windows") => "Windows",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_common_browsers_and_systems() {
        let cases = [
            (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4_1) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Safari/605.1.15",
                "Safari on macOS",
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
                "Chrome on Windows",
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
                "Safari on iOS",
            ),
            (
                "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
                "Firefox on Linux",
            ),
        ];
        for (ua, expected) in cases {
            assert_eq!(describe(ua).as_deref(), Some(expected), "{ua}");
        }
    }

    #[test]
    fn gibberish_has_no_device() {
        assert_eq!(describe("\u{0}\u{1}garbage"), None);
        assert_eq!(describe(""), None);
    }
}
