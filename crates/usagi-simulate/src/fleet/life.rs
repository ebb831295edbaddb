//! One installation's life, played out day by day into the syncs its SDK would make.
//!
//! The SDK of the protocol syncs at start, every 20 minutes and at stop. The simulator folds
//! those into fewer, larger syncs, which keeps the batch count of a demo manageable without
//! changing what the server learns:
//! - an online day is uploaded once, when its last session ends;
//! - a day spent offline stays in the queue until the first session of the next online day,
//!   which uploads the backlog right after start (so those records arrive days late);
//! - an opt-out during a run is uploaded at once, as the SDK does.
//!
//! Heartbeats still appear every 20 minutes inside sessions, as the periodic syncs would have
//! appended them.

use std::collections::{BTreeMap, VecDeque};

use super::catalog::{self, CustomKind, ValueKind, EVENTS, RELEASES};
use super::profile::{InstallPlan, UpgradePolicy, TRIAL_DAYS};
use super::sampler::Sampler;
use super::wire::{CustomGroup, EventValue, ProductGroup, Record};
use super::World;

const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 60 * MINUTE_MS;
/// One UTC day in ms.
pub(crate) const DAY_MS: i64 = 24 * HOUR_MS;
/// The SDK's default `nextSyncSeconds`: a heartbeat is appended at each periodic sync.
const HEARTBEAT_MS: i64 = 20 * MINUTE_MS;

/// One upload: the records it carries and the (true) time it reaches the server.
pub(crate) struct Sync<'a> {
    pub receive_ms: i64,
    pub records: Vec<Record<'a>>,
    /// Whether it uploads records that waited in the offline queue for a day or more.
    pub delayed: bool,
}

/// A record with the true time at which it happened (its `t` adds the client's clock skew).
struct Timed<'a> {
    at: i64,
    record: Record<'a>,
}

/// One session's outcome.
struct Session<'a> {
    records: Vec<Timed<'a>>,
    /// True time of the session's last record.
    end: i64,
    opted_out: bool,
}

/// An installation's day-by-day simulation, yielding its syncs in order.
pub(crate) struct Life<'a> {
    world: &'a World,
    plan: &'a InstallPlan,
    s: Sampler,
    day: u32,
    busy_until: i64,
    /// Records waiting in the offline queue.
    backlog: Vec<Timed<'a>>,
    /// First day on which the machine is online again.
    offline_until: u32,
    release: usize,
    license: &'static str,
    expiry_reported: bool,
    first_run_done: bool,
    /// `Some(None)`: opted out for good; `Some(Some(d))`: opted out until day `d`.
    opted_out: Option<Option<u32>>,
    opt_out_done: bool,
    out: VecDeque<Sync<'a>>,
}

impl<'a> Life<'a> {
    /// Starts the simulation of `plan` at its install day.
    pub(crate) fn new(world: &'a World, plan: &'a InstallPlan) -> Self {
        // A fresh download gets the newest release of the install day.
        let release = world.release_days.iter().rposition(|&d| d <= plan.install_day).unwrap_or(0);
        Self {
            world,
            plan,
            s: Sampler::new(plan.seed, 1),
            day: plan.install_day,
            busy_until: 0,
            backlog: Vec::new(),
            offline_until: 0,
            release,
            license: plan.license,
            expiry_reported: false,
            first_run_done: false,
            opted_out: None,
            opt_out_done: false,
            out: VecDeque::new(),
        }
    }

    fn simulate_day(&mut self, d: u32) {
        let plan = self.plan;
        if !plan.in_use(d) {
            return;
        }
        if let Some(until) = self.opted_out {
            match until {
                Some(back) if d >= back => self.opted_out = None,
                _ => return,
            }
        }
        let first_run = !self.first_run_done;
        if !first_run {
            let p = plan.p_active * if self.world.is_weekend(d) { plan.weekend_factor } else { 1.0 };
            if !self.s.chance(p) {
                return;
            }
        }
        if d >= self.offline_until && self.s.chance(plan.offline_chance) {
            self.offline_until = d + 1 + (self.s.exponential(3.0) as u32).min(13);
        }
        let online = d >= self.offline_until;
        let opt_out_today = online && !first_run && !self.opt_out_done && plan.opt_out.is_some_and(|o| d >= o.day);

        let day_start = self.world.day_start(d);
        let local_hour = plan.start_hour_local + 1.5 * self.s.normal();
        let utc_hour = (local_hour - f64::from(plan.machine.utc_offset_min) / 60.0).rem_euclid(24.0);
        let mut start = (day_start + (utc_hour * HOUR_MS as f64) as i64).max(self.busy_until + 10 * MINUTE_MS);
        let mut sessions = 1;
        while sessions < 3 && self.s.chance(plan.extra_session_chance) {
            sessions += 1;
        }

        let mut today: Vec<Timed<'a>> = Vec::new();
        for k in 0..sessions {
            if start >= day_start + DAY_MS || start >= self.world.horizon_ms {
                break;
            }
            let session = self.session(d, start, first_run && k == 0, opt_out_today && k == 0);
            self.first_run_done = true;
            let mut records = session.records;
            if k == 0 && online && !self.backlog.is_empty() {
                // Back online: the start-up sync carries the queue plus this run's opening
                // records (sessionStart, properties, license state).
                let sync_at = start + self.s.between(1_500, 4_000);
                let rest = records.split_off(records.partition_point(|r| r.at <= sync_at));
                let mut upload = std::mem::take(&mut self.backlog);
                upload.append(&mut records);
                records = rest;
                self.emit(sync_at, upload, true);
            }
            today.append(&mut records);
            self.busy_until = session.end;
            if session.opted_out {
                let sync_at = session.end + self.s.between(200, 1_500);
                self.emit(sync_at, today, false);
                self.opt_out_done = true;
                self.opted_out = Some(plan.opt_out.and_then(|o| o.back_after).map(|b| d + b));
                return;
            }
            start = session.end + (self.s.log_normal(90.0, 0.8) * MINUTE_MS as f64) as i64 + MINUTE_MS;
        }
        if online {
            let sync_at = self.busy_until + self.s.between(1_000, 5_000);
            self.emit(sync_at, today, false);
        } else {
            self.backlog.append(&mut today);
        }
    }

    /// Queues an upload at true time `at`; records that would happen after the end of the
    /// simulated period are never sent.
    fn emit(&mut self, at: i64, records: Vec<Timed<'a>>, delayed: bool) {
        let receive_ms = at.min(self.world.horizon_ms - 1);
        let records: Vec<Timed<'a>> = records.into_iter().filter(|r| r.at <= receive_ms).collect();
        if records.is_empty() {
            return;
        }
        self.out.push_back(Sync { receive_ms, records: records.into_iter().map(|r| r.record).collect(), delayed });
    }

    /// The client timestamp of a true instant.
    fn client_t(&self, at: i64) -> i64 {
        at + self.plan.machine.clock_skew_ms
    }

    fn timed(&self, at: i64, record: impl FnOnce(i64) -> Record<'a>) -> Timed<'a> {
        Timed { at, record: record(self.client_t(at)) }
    }

    fn session(&mut self, d: u32, start: i64, first_run: bool, opt_out: bool) -> Session<'a> {
        let plan = self.plan;
        self.update_release(d);
        let license = self.license_record(d, first_run, self.client_t(start + 2));
        let release = &RELEASES[self.release];

        let runtime_min = self.s.log_normal(plan.runtime_median_min, 1.0).clamp(0.5, 14.0 * 60.0);
        let mut end = start + (runtime_min * MINUTE_MS as f64) as i64;
        let crash = self.s.chance(plan.crash_rate);

        let mut records = vec![
            self.timed(start, |t| Record::SessionStart { t }),
            self.timed(start + 1, |t| Record::Properties {
                t,
                product: ProductGroup {
                    edition: plan.edition,
                    language: plan.machine.product_language,
                    version: release.version,
                    build: release.build,
                },
                machine: &plan.machine.group,
                custom: CustomGroup { download_source: plan.download_source, plan: plan.plan_for(self.license) },
            }),
        ];
        if let Some(record) = license {
            records.push(Timed { at: start + 2, record });
        }
        // The first run opens with the setup wizard; the user's own actions come after it.
        let mut events_from = start + 3_000;
        if first_run {
            let at = (start + self.s.between(5_000, 60_000)).min(end - 1);
            events_from = at + 1;
            records.push(self.timed(at, |t| Record::Event {
                t,
                category: None,
                name: catalog::FIRST_RUN_EVENT,
                value: None,
                custom: None,
            }));
        }

        let mut hb = start + HEARTBEAT_MS;
        while hb < end {
            records.push(self.timed(hb, |t| Record::Heartbeat { t }));
            hb += HEARTBEAT_MS;
        }

        let candidates: Vec<usize> =
            plan.adopted_events.iter().copied().filter(|&i| EVENTS[i].since <= self.release).collect();
        let weights: Vec<f64> = candidates.iter().map(|&i| self.world.event_weights[i]).collect();
        let count = self.s.poisson(plan.events_per_min * runtime_min.min(300.0)).min(600);
        for _ in 0..count {
            let at = self.s.between(events_from, end.max(events_from));
            let spec = &EVENTS[candidates[self.s.weighted_f64(&weights)]];
            let (value, custom) = self.event_value(spec.value);
            records.push(self.timed(at, |t| Record::Event {
                t,
                category: spec.category,
                name: spec.name,
                value,
                custom,
            }));
        }
        if self.s.chance(release.exception_rate) {
            let at = self.s.between(start + 3_000, end.max(start + 3_001));
            let (class_name, method_name, message, stack) = *self.s.pick(catalog::EXCEPTIONS);
            records.push(self.timed(at, |t| Record::Exception {
                t,
                class_name,
                method_name,
                message: Some(message),
                stack_trace: Some(stack),
            }));
        }

        if crash {
            // The process dies: no sessionStop, often an unhandled exception as last words.
            if self.s.chance(0.6) {
                let (class_name, method_name, message, stack) = *self.s.pick(catalog::CRASHES);
                records.push(self.timed(end, |t| Record::Exception {
                    t,
                    class_name,
                    method_name,
                    message: Some(message),
                    stack_trace: Some(stack),
                }));
            }
        } else {
            records.push(self.timed(end, |t| Record::SessionStop { t }));
        }
        records.sort_by_key(|r| r.at);

        if opt_out {
            // The user switches tracking off mid-run: nothing after the optOut is recorded,
            // not even the sessionStop.
            let at = self.s.between(start + 5_000, end.max(start + 5_001));
            records.retain(|r| r.at < at);
            records.push(self.timed(at, |t| Record::OptOut { t }));
            end = at;
        }
        let last = records.last().map_or(start, |r| r.at);
        Session { records, end: end.min(last).max(start), opted_out: opt_out }
    }

    /// Moves to the newest release this user has taken by day `d`.
    fn update_release(&mut self, d: u32) {
        let plan = self.plan;
        if plan.upgrade_policy == UpgradePolicy::Never {
            return;
        }
        for i in self.release + 1..RELEASES.len() {
            if self.world.release_days[i] + plan.upgrade_lag_days > d {
                break;
            }
            if plan.upgrade_policy == UpgradePolicy::MinorOnly
                && i >= catalog::FIRST_MAJOR_2
                && self.release < catalog::FIRST_MAJOR_2
            {
                break;
            }
            self.release = i;
        }
    }

    /// The `licenseData` record this run reports at client time `t`, if any: the full state
    /// at first run, then only changes, as an app reports license events.
    fn license_record(&mut self, d: u32, first_run: bool, t: i64) -> Option<Record<'a>> {
        let plan = self.plan;
        if first_run {
            return Some(Record::LicenseData {
                t,
                license_type: Some(self.license),
                expired: Some(false),
                activated: Some(self.license != "evaluation"),
                blocked: Some(false),
                allowed: Some(true),
            });
        }
        if self.license != "evaluation" {
            return None;
        }
        if plan.convert_day.is_some_and(|c| d >= c) {
            self.license = "purchased";
            return Some(Record::LicenseData {
                t,
                license_type: Some("purchased"),
                expired: Some(false),
                activated: Some(true),
                blocked: None,
                allowed: Some(true),
            });
        }
        if !self.expiry_reported && d >= plan.install_day + TRIAL_DAYS {
            self.expiry_reported = true;
            // Only the changed flags: absent fields mean "unchanged" (callhome §6.2).
            return Some(Record::LicenseData {
                t,
                license_type: None,
                expired: Some(true),
                activated: None,
                blocked: None,
                allowed: Some(false),
            });
        }
        None
    }

    fn event_value(&mut self, kind: ValueKind) -> (Option<EventValue>, Option<BTreeMap<&'static str, String>>) {
        match kind {
            ValueKind::None => (None, None),
            ValueKind::Count { median } => (Some(EventValue::Int(self.count(median))), None),
            ValueKind::Seconds { median } => {
                let secs = libm::round(self.s.log_normal(median, 0.7) * 10.0) / 10.0;
                (Some(EventValue::Float(secs.max(0.1))), None)
            }
            ValueKind::Text(texts) => (Some(EventValue::Text(texts[self.s.below(texts.len() as u64) as usize])), None),
            ValueKind::Custom(custom) => (None, Some(self.custom_map(custom, None))),
            ValueKind::CountMaybeCustom { median, custom } => {
                let n = self.count(median);
                let map = self.s.chance(0.3).then(|| self.custom_map(custom, Some(n)));
                (Some(EventValue::Int(n)), map)
            }
        }
    }

    fn count(&mut self, median: f64) -> i64 {
        (libm::round(self.s.log_normal(median, 0.8)) as i64).max(1)
    }

    fn custom_map(&mut self, kind: CustomKind, count: Option<i64>) -> BTreeMap<&'static str, String> {
        let mut pick = |list: &[&'static str]| list[self.s.below(list.len() as u64) as usize];
        match kind {
            CustomKind::Export => BTreeMap::from([
                ("pages", count.unwrap_or(1).to_string()),
                ("format", pick(catalog::PAPER_FORMATS).to_string()),
            ]),
            CustomKind::Template => BTreeMap::from([
                ("template", pick(catalog::TEMPLATES).to_string()),
                ("source", pick(catalog::TEMPLATE_SOURCES).to_string()),
            ]),
            CustomKind::Plugin => {
                let (name, version) = catalog::PLUGINS[self.s.below(catalog::PLUGINS.len() as u64) as usize];
                BTreeMap::from([("plugin", name.to_string()), ("version", version.to_string())])
            }
            CustomKind::Preference => {
                let (setting, values) = catalog::PREFERENCES[self.s.below(catalog::PREFERENCES.len() as u64) as usize];
                let value = values[self.s.below(values.len() as u64) as usize];
                BTreeMap::from([("setting", setting.to_string()), ("value", value.to_string())])
            }
        }
    }
}

impl<'a> Iterator for Life<'a> {
    type Item = Sync<'a>;

    fn next(&mut self) -> Option<Sync<'a>> {
        while self.out.is_empty() && self.day < self.world.days {
            let d = self.day;
            self.simulate_day(d);
            self.day += 1;
        }
        self.out.pop_front()
    }
}
