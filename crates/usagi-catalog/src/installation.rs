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

/// The back-off state of a product's installations, for the `backOff` filter and segments.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BackOffStates {
    /// End of the product-wide back-off, if one was ever started.
    pub product_until: Option<DateTime<Utc>>,
    /// Installations with a back-off of their own or an answer recorded:
    /// `(client id, own end, back_off_ever)`.
    pub clients: Vec<(u64, Option<DateTime<Utc>>, bool)>,
}

impl BackOffStates {
    /// `(historical, current)` of every listed installation at `now` (semantics §11); an
    /// installation not listed is `(false, product-wide back-off in force)`.
    pub fn at(&self, now: DateTime<Utc>) -> Vec<(u64, bool, bool)> {
        self.clients
            .iter()
            .map(|(c, own, ever)| (*c, *ever, own.max(&self.product_until).is_some_and(|u| now < u)))
            .collect()
    }

    /// Whether the product-wide back-off is in force at `now`.
    pub fn product_wide(&self, now: DateTime<Utc>) -> bool {
        self.product_until.is_some_and(|u| now < u)
    }
}
