//! Daily property history (semantics §7.2) built by the loader, checked on Example 2's data.

use serde_json::json;
use usagi_warehouse::{Param, Value};

use crate::helpers::*;

const X: &str = "00000000000000A1";
const Y: &str = "00000000000000B2";

#[tokio::test]
async fn example_2_end_of_day_values_with_carry_forward() {
    let app = TestApp::spawn().await;
    let product = |v: Option<&str>, t| {
        json!({"kind": "properties", "t": t,
               "product": {"edition": "Pro", "language": "en", "version": v, "build": "100"}})
    };
    for day in 1..=7u32 {
        let mut records = vec![json!({"kind": "event", "t": ms(2024, 3, day, 12, 0), "name": "Tick"})];
        match day {
            1 => records.push(product(Some("1.0"), ms(2024, 3, 1, 8, 0))),
            // Reported again, unchanged: a day with an observation but no change.
            3 => records.push(product(Some("1.0"), ms(2024, 3, 3, 8, 0))),
            5 => {
                records.push(product(Some("2.0"), ms(2024, 3, 5, 10, 0)));
                records.push(product(Some("2.1"), ms(2024, 3, 5, 18, 0)));
            }
            _ => {}
        }
        app.sync_at(at(2024, 3, day, 20, 0, 0), X, records).await;
    }
    for day in [2u32, 6] {
        let mut records = vec![json!({"kind": "event", "t": ms(2024, 3, day, 12, 0), "name": "Tick"})];
        if day == 2 {
            records.push(json!({"kind": "properties", "t": ms(2024, 3, 2, 9, 0), "product": {"edition": "Home", "version": null}}));
        }
        app.sync_at(at(2024, 3, day, 20, 0, 0), Y, records).await;
    }
    app.settle().await;

    // The value at the end of day e: the last daily value on or before e.
    let value_at = |client: &str, name: &str, day: u32| {
        let sql =
            "SELECT value FROM property_days WHERE product_id = $1 AND client_id = $2 AND name = $3 AND day <= $4 \
                   ORDER BY day DESC LIMIT 1";
        let params = vec![
            Param::Int(PRODUCT.parse::<i64>().unwrap()),
            Param::UInt(u64::from_str_radix(client, 16).unwrap()),
            Param::Text(name.into()),
            Param::Date(chrono::NaiveDate::from_ymd_opt(2024, 3, day).unwrap()),
        ];
        let wh = app.warehouse.clone();
        async move { wh.query(sql.into(), params).await.unwrap().rows.first().map(|r| r[0].clone()) }
    };
    let text = |s: &str| Some(Value::Text(s.into()));
    for (day, expected) in [(1, "1.0"), (2, "1.0"), (4, "1.0"), (5, "2.1"), (7, "2.1")] {
        assert_eq!(value_at(X, "prodVersion", day).await, text(expected), "X on 03-0{day}");
    }
    assert_eq!(value_at(Y, "prodVersion", 1).await, None, "nothing observed before 03-02");
    assert_eq!(value_at(Y, "prodVersion", 6).await, Some(Value::Null), "observed NULL, carried forward");
    assert_eq!(value_at(Y, "prodLanguage", 6).await, Some(Value::Null), "left out of a present group: NULL");
    assert_eq!(value_at(Y, "prodEdition", 6).await, text("Home"));
    assert_eq!(value_at(X, "appName", 7).await, text("DemoApp"), "envelope fields are observations too");
    assert_eq!(
        app.count("SELECT count(*) FROM property_days WHERE name = 'prodVersion'").await,
        3,
        "one row per change day (X: 03-01 and 03-05; Y: 03-02), none for X's unchanged 03-03"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM property_days WHERE name = 'appName'").await,
        2,
        "X's appName, observed at each of its 7 syncs, never changes: one row per installation"
    );
    // A `product` group is an observation (evidence of activity) whose values are its leaves;
    // the group's JSON is not stored a second time.
    assert_eq!(
        app.count("SELECT count(*) FROM observations WHERE source = 1").await,
        5,
        "X: 4 records (03-01, 03-03, two on 03-05), Y: 1"
    );
    assert_eq!(app.count("SELECT count(*) FROM observations WHERE source = 1 AND payload <> '{}'").await, 0);
}
