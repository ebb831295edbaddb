//! Operator and quota controls of single installations (callhome §9.6, semantics §11).

use chrono::{DateTime, Utc};

/// The controls in force for one installation of a product.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InstallationControl {
    /// Disabled by the operator: syncs are answered `{"disable":true}` and discarded.
    pub disabled: bool,
    /// End of the back-off that applies, the later of this installation's own and the
    /// product-wide one; may lie in the past, so compare with now (see [`Self::backing_off`]).
    pub back_off_until: Option<DateTime<Utc>>,
    /// A back-off was ever started for or answered to this installation (`backOff.historical`).
    pub back_off_ever: bool,
}

impl InstallationControl {
    /// Whether a back-off is in force at `now`.
    pub fn backing_off(&self, now: DateTime<Utc>) -> bool {
        self.back_off_until.is_some_and(|until| now < until)
    }

    /// Whole days of back-off left at `now`, rounded up (callhome §9.6); 0 when none is in force.
    pub fn remaining_back_off_days(&self, now: DateTime<Utc>) -> u32 {
        match self.back_off_until {
            Some(until) if now < until => {
                let ms = (until - now).num_milliseconds();
                let day_ms = 86_400_000i64;
                u32::try_from((ms + day_ms - 1) / day_ms).unwrap_or(u32::MAX)
            }
            _ => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};

    #[test]
    fn remaining_days_round_up() {
        let now = Utc.with_ymd_and_hms(2024, 3, 19, 10, 0, 0).unwrap();
        let c = InstallationControl {
            back_off_until: Some(now + Duration::days(6) + Duration::seconds(1)),
            ..Default::default()
        };
        assert!(c.backing_off(now));
        assert_eq!(c.remaining_back_off_days(now), 7);
        assert_eq!(c.remaining_back_off_days(now + Duration::days(7)), 0);
        assert!(!c.backing_off(now + Duration::days(7)));
        assert_eq!(InstallationControl::default().remaining_back_off_days(now), 0);
    }
}
