//! How times read on screen: a message's clock time, the day dividers,
//! the room list's short times and "last seen …". Functions of a
//! timestamp, `now` and the browser's UTC offset (minutes, as
//! `getTimezoneOffset` gives it; the screen-facing ones ask `socket` for
//! it); no signals, no clock of their own.

use super::socket;
use crate::protocol::Presence;

/// "online", "last seen just now", "last seen 5 min ago", "last seen 3 h ago",
/// "last seen Yesterday"…
pub fn presence_label(p: Option<&Presence>, now: i64) -> String {
    let Some(p) = p else {
        return String::new();
    };
    if p.online {
        return "online".into();
    }
    let Some(at) = p.last_seen else {
        return "offline".into();
    };
    let minutes = (now - at).max(0) / 60_000;
    match minutes {
        0 => "last seen just now".into(),
        1..=59 => format!("last seen {minutes} min ago"),
        60..=719 => format!("last seen {} h ago", minutes / 60),
        _ => format!(
            "last seen {}",
            day_label(at, now, socket::tz_offset_min()).to_lowercase()
        ),
    }
}

/// When a room's last message was, as the room list shows it: "14:05"
/// today, "Yesterday", a weekday within the week, else "3 Dec" ("3 Dec
/// 2024" in another year).
pub fn list_time(ts: i64, now: i64) -> String {
    let offset = socket::tz_offset_min();
    let (day, today) = (local(ts, offset).0, local(now, offset).0);
    match today - day {
        i64::MIN..=0 => clock(ts, offset),
        1 => "Yesterday".into(),
        2..=6 => ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][day.rem_euclid(7) as usize].into(),
        _ => {
            let ((y, m, d), (this_year, _, _)) = (civil(day), civil(today));
            let month = MONTHS[(m - 1) as usize];
            if y == this_year {
                format!("{d} {month}")
            } else {
                format!("{d} {month} {y}")
            }
        }
    }
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Days since the epoch and minutes into the day, in local time.
pub fn local(ts: i64, offset_min: i64) -> (i64, i64) {
    let minutes = ts.div_euclid(60_000) - offset_min;
    (minutes.div_euclid(1_440), minutes.rem_euclid(1_440))
}

pub fn clock(ts: i64, offset_min: i64) -> String {
    let m = local(ts, offset_min).1;
    format!("{:02}:{:02}", m / 60, m % 60)
}

pub fn day_label(ts: i64, now: i64, offset_min: i64) -> String {
    let (day, today) = (local(ts, offset_min).0, local(now, offset_min).0);
    match today - day {
        0 => "Today".into(),
        1 => "Yesterday".into(),
        _ => {
            let (y, m, d) = civil(day);
            format!("{d} {} {y}", MONTHS[(m - 1) as usize])
        }
    }
}

/// (year, month, day) of a day count since 1970-01-01 (H. Hinnant's algorithm).
fn civil(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_times_in_local_time() {
        // 2025-11-25 16:37 UTC
        let ts = 1_764_088_620_000;
        assert_eq!(civil(local(ts, 0).0), (2025, 11, 25));
        assert_eq!(clock(ts, 0), "16:37");
        assert_eq!(clock(ts, -60), "17:37", "UTC+1 (getTimezoneOffset is -60)");
        assert_eq!(day_label(ts, ts + 3_600_000, 0), "Today");
        assert_eq!(day_label(ts, ts + 86_400_000, 0), "Yesterday");
        assert_eq!(day_label(ts, ts + 3 * 86_400_000, 0), "25 Nov 2025");
        assert_eq!(civil(0), (1970, 1, 1));
        assert_eq!(civil(-1), (1969, 12, 31));
    }

    #[test]
    fn the_room_list_shows_short_times() {
        // Tuesday 2025-11-25 16:37 UTC (the tests' time zone is UTC).
        let now = 1_764_088_620_000;
        let day = 86_400_000;
        assert_eq!(list_time(now - 3_600_000, now), "15:37");
        assert_eq!(list_time(now - day, now), "Yesterday");
        assert_eq!(list_time(now - 2 * day, now), "Sun");
        assert_eq!(list_time(now - 6 * day, now), "Wed");
        assert_eq!(list_time(now - 7 * day, now), "18 Nov");
        assert_eq!(list_time(now - 365 * day, now), "25 Nov 2024");
        assert_eq!(list_time(now + 60_000, now), "16:38", "a clock a little ahead");
    }

    #[test]
    fn presence_reads_like_a_messenger() {
        let p = |online, last_seen| Presence {
            user: 1,
            online,
            last_seen,
        };
        let now = 1_764_088_620_000;
        assert_eq!(presence_label(None, now), "");
        assert_eq!(presence_label(Some(&p(true, None)), now), "online");
        assert_eq!(presence_label(Some(&p(false, None)), now), "offline");
        assert_eq!(
            presence_label(Some(&p(false, Some(now - 20_000))), now),
            "last seen just now"
        );
        assert_eq!(
            presence_label(Some(&p(false, Some(now - 5 * 60_000))), now),
            "last seen 5 min ago"
        );
        assert_eq!(
            presence_label(Some(&p(false, Some(now - 3 * 3_600_000))), now),
            "last seen 3 h ago"
        );
        assert_eq!(
            presence_label(Some(&p(false, Some(now - 86_400_000))), now),
            "last seen yesterday"
        );
    }
}
