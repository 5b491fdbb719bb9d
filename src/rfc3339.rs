//! `expiresAt` and other times as RFC 3339 in UTC: `2026-01-01T00:05:00Z`
//! written; that form and the millisecond one (`...00.000Z`, JavaScript's
//! `toISOString`) read. For `#[serde(with = "crate::rfc3339")]` on
//! `Option<OffsetDateTime>`, and [`write`] for a plain time.

use serde::{Deserialize, Deserializer, Serializer};
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

pub(crate) fn serialize<S: Serializer>(t: &Option<OffsetDateTime>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.collect_str(&write(*t)),
        None => s.serialize_none(),
    }
}

pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<OffsetDateTime>, D::Error> {
    let Some(s) = Option::<String>::deserialize(d)? else {
        return Ok(None);
    };
    parse(&s)
        .map(Some)
        .ok_or_else(|| serde::de::Error::custom("expiresAt is not an RFC 3339 UTC time"))
}

pub(crate) fn parse(s: &str) -> Option<OffsetDateTime> {
    let b = s.as_bytes();
    let millis = match b.len() {
        20 => 0,
        24 if b[19] == b'.' => num(s.get(20..23)?)?,
        _ => return None,
    };
    let seps = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')];
    if b.last() != Some(&b'Z') || seps.iter().any(|&(i, c)| b[i] != c) {
        return None;
    }
    let field = |r: std::ops::Range<usize>| s.get(r).and_then(num);
    let month = Month::try_from(u8::try_from(field(5..7)?).ok()?).ok()?;
    let date =
        Date::from_calendar_date(i32::from(field(0..4)?), month, u8::try_from(field(8..10)?).ok()?).ok()?;
    let time = Time::from_hms_milli(
        u8::try_from(field(11..13)?).ok()?,
        u8::try_from(field(14..16)?).ok()?,
        u8::try_from(field(17..19)?).ok()?,
        millis,
    )
    .ok()?;
    Some(PrimitiveDateTime::new(date, time).assume_utc())
}

/// Unsigned decimal digits only (no sign, no spaces).
fn num(s: &str) -> Option<u16> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Writes `t` (any offset) as UTC, whole seconds.
// Not `time`'s `Rfc3339`: it writes a time's nanoseconds (`...00.25Z`, as a
// stored `...00.250Z` or `PrimitiveDateTime::MAX` has) and refuses years before 0.
pub(crate) fn write(t: OffsetDateTime) -> String {
    let t = t.checked_to_offset(UtcOffset::UTC).unwrap_or(t);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_utc_seconds() {
        let t = OffsetDateTime::from_unix_timestamp(1_767_225_900).unwrap();
        assert_eq!(write(t), "2026-01-01T00:05:00Z");
        assert_eq!(parse("2026-01-01T00:05:00Z"), Some(t));
        assert_eq!(
            parse("2026-01-01T00:05:00.250Z").map(|t| t.millisecond()),
            Some(250)
        );
        for bad in [
            "2026-01-01T00:05:00",
            "2026-13-01T00:05:00Z",
            "2026-01-01 00:05:00Z",
            "+026-01-01T00:05:00Z",
            "2026-01-01T00:05:0éZ",
            "",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}
