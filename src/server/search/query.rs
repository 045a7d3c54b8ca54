//! The query language, read: words, "quoted phrases" and the operators
//! `from:@handle`, `in:room`, `before:`/`after:` dates and `has:file`.
//! Anything else is text. Pure: no store, no I/O.

use crate::model::SEARCH_MAX_CHARS;
use crate::server::text::{self, Phrase};

/// The most words (and quoted phrases) in one search.
pub const WORDS_MAX: usize = 16;

/// A search as typed, read: what to look for and the filters, not yet
/// resolved against the database.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Parsed {
    pub phrases: Vec<Phrase>,
    /// `from:` handles (without `@`).
    pub from: Option<String>,
    /// `in:` words of a room's name.
    pub room: Option<String>,
    pub before: Option<Date>,
    pub after: Option<Date>,
    pub has_file: bool,
}

/// A calendar day.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Date {
    pub year: i64,
    pub month: u32,
    pub day: u32,
}

impl Date {
    fn parse(s: &str) -> Option<Date> {
        let mut it = s.splitn(3, '-');
        let year: i64 = it.next()?.parse().ok()?;
        let month: u32 = it.next()?.parse().ok()?;
        let day: u32 = it.next()?.parse().ok()?;
        let days_in = match month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
            2 => 28,
            _ => return None,
        };
        ((1..=9999).contains(&year) && (1..=days_in).contains(&day)).then_some(Date { year, month, day })
    }

    /// Days since 1970-01-01 (H. Hinnant's `days_from_civil`).
    fn days(self) -> i64 {
        let y = if self.month <= 2 { self.year - 1 } else { self.year };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let m = i64::from(self.month);
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(self.day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    /// The day's first millisecond where the clock is `offset_min` behind
    /// UTC (JavaScript's `getTimezoneOffset`).
    pub fn start_ms(self, offset_min: i32) -> i64 {
        self.days() * 86_400_000 + i64::from(offset_min) * 60_000
    }
}

/// Reads a search as typed; a refusal says what to change.
pub fn parse(typed: &str) -> Result<Parsed, String> {
    if typed.chars().count() > SEARCH_MAX_CHARS {
        return Err(format!("A search is at most {SEARCH_MAX_CHARS} characters."));
    }
    let mut parsed = Parsed::default();
    let mut rest = typed.trim_start();
    while !rest.is_empty() {
        let (item, quoted, after) = next_item(rest);
        rest = after.trim_start();
        if !quoted {
            if let Some((key, value)) = item.split_once(':') {
                let (value, rest_after) = match value.is_empty() && rest.starts_with('"') {
                    true => {
                        let (v, _, r) = next_item(rest);
                        (v, r.trim_start())
                    }
                    false => (value, rest),
                };
                if operator(&mut parsed, key, value)? {
                    rest = rest_after;
                    continue;
                }
            }
        }
        parsed.phrases.extend(text::phrase(item, quoted));
        if parsed.phrases.len() > WORDS_MAX {
            return Err(format!("Search for at most {WORDS_MAX} words at once."));
        }
    }
    if parsed.phrases.is_empty() && parsed.from.is_none() && !parsed.has_file {
        return Err("Type a word to search for.".into());
    }
    Ok(parsed)
}

/// The next word or quoted phrase of `s` (which starts with neither space
/// nor nothing), whether it was quoted, and what follows. An unclosed
/// quote runs to the end.
fn next_item(s: &str) -> (&str, bool, &str) {
    if let Some(inner) = s.strip_prefix('"') {
        return match inner.find('"') {
            Some(end) => (&inner[..end], true, &inner[end + 1..]),
            None => (inner, true, ""),
        };
    }
    let end = s.find(char::is_whitespace).unwrap_or(s.len());
    // `in:"Team chat"`: the quote belongs to the operator's value.
    match s[..end].find(":\"") {
        Some(colon) => {
            let value = &s[colon + 2..];
            match value.find('"') {
                Some(close) => (&s[..colon + 2 + close + 1], false, &value[close + 1..]),
                None => (s, false, ""),
            }
        }
        None => (&s[..end], false, &s[end..]),
    }
}

/// Applies operator `key:value`; false if `key` is none (the item is then
/// searched for as typed).
fn operator(parsed: &mut Parsed, key: &str, value: &str) -> Result<bool, String> {
    let value = value.trim_matches('"').trim();
    let key = key.to_ascii_lowercase();
    let known = ["from", "in", "before", "after", "has"];
    if !known.contains(&key.as_str()) {
        return Ok(false);
    }
    if value.is_empty() {
        return Err(format!(
            "{key}: needs something after the colon, such as {}.",
            example(&key)
        ));
    }
    match key.as_str() {
        "from" => parsed.from = Some(value.trim_start_matches('@').to_lowercase()),
        "in" => parsed.room = Some(value.to_string()),
        "before" | "after" => {
            let date = Date::parse(value)
                .ok_or_else(|| format!("{key}: takes a date such as {}.", example(&key)))?;
            match key.as_str() {
                "before" => parsed.before = Some(date),
                _ => parsed.after = Some(date),
            }
        }
        _ => match value.to_lowercase().as_str() {
            "file" | "files" => parsed.has_file = true,
            _ => return Err("has: takes \"file\" (has:file finds messages with files).".into()),
        },
    }
    Ok(true)
}

fn example(key: &str) -> &'static str {
    match key {
        "from" => "from:@ann",
        "in" => "in:team",
        "before" => "before:2026-12-31",
        "after" => "after:2026-01-01",
        _ => "has:file",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(p: &Parsed) -> Vec<(Vec<String>, bool)> {
        p.phrases.iter().map(|p| (p.tokens.clone(), p.prefix)).collect()
    }

    #[test]
    fn words_phrases_and_operators_are_read() {
        let p = parse("회의 \"new york\" from:@Ann in:\"Team chat\" after:2026-01-31 has:file").unwrap();
        assert_eq!(
            words(&p),
            [
                (vec!["회의".to_string()], false),
                (vec!["new".into(), "york".into()], false)
            ]
        );
        assert_eq!(p.from.as_deref(), Some("ann"));
        assert_eq!(p.room.as_deref(), Some("Team chat"));
        assert_eq!(
            p.after,
            Some(Date {
                year: 2026,
                month: 1,
                day: 31
            })
        );
        assert!(p.has_file);
        assert_eq!(parse("in:team hello").unwrap().room.as_deref(), Some("team"));
    }

    #[test]
    fn syntax_a_person_types_is_searched_for_literally() {
        for typed in [
            "NEAR(a b)",
            "a* -b",
            "c++ (x OR y)",
            "\"unclosed",
            "col:umn",
            "a:b:c",
            "'); DROP",
        ] {
            let p = parse(typed).unwrap_or_else(|e| panic!("{typed}: {e}"));
            assert!(!p.phrases.is_empty(), "{typed}");
        }
        assert_eq!(
            words(&parse("url:x").unwrap()),
            [(vec!["url".to_string(), "x".into()], true)]
        );
    }

    #[test]
    fn bad_searches_say_why() {
        assert_eq!(parse("").unwrap_err(), "Type a word to search for.");
        assert_eq!(parse("  *** ( ) ").unwrap_err(), "Type a word to search for.");
        assert!(parse(&"가".repeat(SEARCH_MAX_CHARS + 1))
            .unwrap_err()
            .contains("at most"));
        assert!(parse("before:yesterday x").unwrap_err().contains("date such as"));
        assert!(parse("before:2026-02-30 x").unwrap_err().contains("date such as"));
        assert!(parse("has:link").unwrap_err().contains("has:file"));
        assert!(parse("from: x").unwrap_err().contains("after the colon"));
        let many = (0..WORDS_MAX + 1)
            .map(|i| format!("w{i}"))
            .collect::<Vec<_>>()
            .join(" ");
        assert!(parse(&many).unwrap_err().contains("at most"));
        assert!(
            parse("from:@ann").is_ok(),
            "a filter alone finds that person's messages"
        );
    }

    #[test]
    fn dates_start_at_midnight_where_the_searcher_is() {
        let d = Date::parse("1970-01-02").unwrap();
        assert_eq!(d.start_ms(0), 86_400_000);
        // Seoul is 9 hours ahead: its midnight is 15:00 UTC the day before.
        assert_eq!(d.start_ms(-540), 86_400_000 - 9 * 3_600_000);
        assert_eq!(Date::parse("2000-03-01").unwrap().days(), 11_017);
        assert_eq!(Date::parse("2024-02-29").map(|d| d.day), Some(29));
    }
}
