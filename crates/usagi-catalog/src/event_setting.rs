//! Event tracking flags (reporting-api §8): which reports show an event.

/// The flags of one event, identified by `(category, name)`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct EventSetting {
    /// The category; `None` for events without one.
    pub category: Option<String>,
    /// The name.
    pub name: String,
    /// Shown in basic reports.
    pub basic: bool,
    /// Shown in advanced, lifetime and churn event reports (implies `basic`).
    pub advanced: bool,
}
