//! Time stamps to instants. Classic syslog stamps (`Mar  7 02:09:33`) have no year and no zone:
//! the zone is the one given (the local zone by default), the year is the one given or else
//! inferred from a reference date (the file's modification time, or now): a log ends before its
//! file was last written, so a month later in the year than the reference belongs to the year
//! before. Within a file the year goes up when the month goes back (December to January).

use crate::Stamp;
use jiff::tz::TimeZone;
use jiff::{Timestamp, civil};

/// Turns stamps into instants for one file at a time.
#[derive(Debug, Clone)]
pub struct Clock {
    tz: TimeZone,
    fixed_year: Option<i16>,
    /// The year of the current file's classic stamps, once known.
    year: Option<i16>,
    /// The reference date of the current file (its modification time or now).
    reference: Timestamp,
    last_month: u8,
    /// The last classic stamp converted (month, day, seconds) and its instant.
    cache: Option<((i16, u8, u8, u32), Timestamp)>,
    /// The last classic stamp resolved and its answer: lines come many to a second, and the
    /// same stamp again changes neither the year nor the month seen last.
    last: Option<(Stamp, Option<Timestamp>)>,
}

impl Clock {
    /// A clock in zone `tz`; `year` fixes the year of classic stamps.
    pub fn new(tz: TimeZone, year: Option<i16>) -> Clock {
        Clock {
            tz,
            fixed_year: year,
            year: None,
            reference: Timestamp::now(),
            last_month: 0,
            cache: None,
            last: None,
        }
    }

    /// The zone classic stamps are read in (and times are shown in).
    pub fn zone(&self) -> &TimeZone {
        &self.tz
    }

    /// Starts a new file; `reference` is its modification time (now for standard input).
    pub fn start_file(&mut self, reference: Option<Timestamp>) {
        self.reference = reference.unwrap_or_else(Timestamp::now);
        self.year = None;
        self.last_month = 0;
        self.last = None;
    }

    /// The instant of a stamp, or `None` when it has none or names no real time.
    pub fn resolve(&mut self, stamp: Stamp) -> Option<Timestamp> {
        match stamp {
            Stamp::None => None,
            Stamp::Unix { secs, nanos } => Timestamp::new(secs, nanos as i32).ok(),
            Stamp::Civil {
                year,
                month,
                day,
                secs,
                nanos,
                offset,
            } => {
                let dt = civil_time(year, month, day, secs, nanos)?;
                match offset {
                    Some(o) => {
                        let off = jiff::tz::Offset::from_seconds(o).ok()?;
                        off.to_timestamp(dt).ok()
                    }
                    None => self.tz.to_ambiguous_timestamp(dt).compatible().ok(),
                }
            }
            Stamp::Classic { .. } => match self.last {
                Some((s, t)) if s == stamp => t,
                _ => {
                    let t = self.classic(stamp);
                    self.last = Some((stamp, t));
                    t
                }
            },
        }
    }

    fn classic(&mut self, stamp: Stamp) -> Option<Timestamp> {
        match stamp {
            Stamp::Classic {
                month,
                day,
                secs,
                nanos,
            } => {
                let year = self.year_for(month);
                let key = (year, month, day, secs);
                let base = match self.cache {
                    Some((k, t)) if k == key => t,
                    _ => {
                        let dt = civil_time(year, month, day, secs, 0)?;
                        let t = self.tz.to_ambiguous_timestamp(dt).compatible().ok()?;
                        self.cache = Some((key, t));
                        t
                    }
                };
                Timestamp::new(base.as_second(), nanos as i32).ok()
            }
            _ => None,
        }
    }

    fn year_for(&mut self, month: u8) -> i16 {
        if let Some(y) = self.fixed_year.filter(|_| self.year.is_none()) {
            self.year = Some(y);
        }
        let year = match self.year {
            None => {
                let r = self.reference.to_zoned(self.tz.clone());
                let y = r.year();
                let y = if month > r.month() as u8 { y - 1 } else { y };
                self.year = Some(y);
                y
            }
            Some(y) if self.last_month >= 11 && month <= 2 && month < self.last_month => {
                self.year = Some(y + 1);
                y + 1
            }
            Some(y) => y,
        };
        self.last_month = month;
        year
    }

    /// An instant as RFC 3339 in this clock's zone (fractions only when there are some).
    pub fn format(&self, t: Timestamp) -> String {
        let z = t.to_zoned(self.tz.clone());
        if t.subsec_nanosecond() == 0 {
            z.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()
        } else {
            z.strftime("%Y-%m-%dT%H:%M:%S%.6f%:z").to_string()
        }
    }
}

fn civil_time(year: i16, month: u8, day: u8, secs: u32, nanos: u32) -> Option<civil::DateTime> {
    civil::DateTime::new(
        year,
        month as i8,
        day as i8,
        (secs / 3600) as i8,
        (secs / 60 % 60) as i8,
        (secs % 60) as i8,
        nanos as i32,
    )
    .ok()
}

/// Reads a zone: `UTC`, `local`, an IANA name (`Europe/Berlin`) or an offset (`+02:00`).
pub fn zone(s: &str) -> Result<TimeZone, String> {
    match s {
        "local" => return Ok(TimeZone::system()),
        "UTC" | "utc" | "Z" | "z" => return Ok(TimeZone::UTC),
        _ => {}
    }
    let b = s.as_bytes();
    if matches!(b.first(), Some(b'+' | b'-')) {
        let digits: String = s[1..].chars().filter(|c| *c != ':').collect();
        if digits.len() == 4 && digits.bytes().all(|c| c.is_ascii_digit()) {
            let h: i32 = digits[..2].parse().unwrap_or(0);
            let m: i32 = digits[2..].parse().unwrap_or(0);
            let sign = if b[0] == b'-' { -1 } else { 1 };
            let off = jiff::tz::Offset::from_seconds(sign * (h * 3600 + m * 60))
                .map_err(|e| e.to_string())?;
            return Ok(TimeZone::fixed(off));
        }
    }
    TimeZone::get(s).map_err(|_| format!("unknown time zone {s:?} (give an IANA name such as Europe/Berlin, UTC, or an offset such as +02:00)"))
}

/// Reads a time given on the command line: RFC 3339, `YYYY-MM-DD HH:MM[:SS]`, or a date, in
/// `tz` when it has no offset.
pub fn parse_time(s: &str, tz: &TimeZone) -> Result<Timestamp, String> {
    let s = s.trim();
    if let Ok(t) = s.parse::<Timestamp>() {
        return Ok(t);
    }
    let norm = s.replacen(' ', "T", 1);
    let dt = norm
        .parse::<civil::DateTime>()
        .or_else(|_| s.parse::<civil::Date>().map(|d| d.to_datetime(civil::Time::midnight())))
        .map_err(|_| format!("cannot read the time {s:?} (give e.g. 2026-11-28 10:15 or 2026-11-28T10:15:00+01:00)"))?;
    tz.to_ambiguous_timestamp(dt)
        .compatible()
        .map_err(|e| e.to_string())
}

/// Reads a duration: `90s`, `10m`, `2h`, `1d`, or a number of seconds.
pub fn parse_duration(s: &str) -> Result<i64, String> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: i64 = num
        .parse()
        .map_err(|_| format!("cannot read the duration {s:?} (give e.g. 10m, 2h, 90s)"))?;
    let mult = match unit {
        "" | "s" => 1,
        "m" | "min" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => {
            return Err(format!(
                "cannot read the duration {s:?} (units: s, m, h, d)"
            ));
        }
    };
    Ok(n * mult)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classic_year_inference_and_rollover() {
        let tz = TimeZone::fixed(jiff::tz::offset(1));
        let mut c = Clock::new(tz, None);
        // The file was last written on 2026-01-02: a December line is from 2025.
        c.start_file(Some("2026-01-02T10:00:00Z".parse().unwrap()));
        let dec = Stamp::Classic {
            month: 12,
            day: 31,
            secs: 23 * 3600 + 59 * 60,
            nanos: 0,
        };
        let jan = Stamp::Classic {
            month: 1,
            day: 1,
            secs: 60,
            nanos: 0,
        };
        let t1 = c.resolve(dec).unwrap();
        let t2 = c.resolve(jan).unwrap();
        assert_eq!(c.format(t1), "2025-12-31T23:59:00+01:00");
        assert_eq!(c.format(t2), "2026-01-01T00:01:00+01:00");
        let mut fixed = Clock::new(TimeZone::UTC, Some(2020));
        fixed.start_file(None);
        let t = fixed
            .resolve(Stamp::Classic {
                month: 2,
                day: 29,
                secs: 0,
                nanos: 5_000,
            })
            .unwrap();
        assert_eq!(fixed.format(t), "2020-02-29T00:00:00.000005+00:00");
        assert_eq!(parse_duration("10m"), Ok(600));
        assert!(zone("+02:00").is_ok() && zone("Nowhere/Else").is_err());
    }
}
