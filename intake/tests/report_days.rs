//! The day an event belongs to, through the supervisor's real pages (docs/statistics.md): its
//! day in the campaign's time zone whatever offset the tablet wrote, months exact at both
//! ends, and a tablet time that cannot be right counted on the day the centre received it —
//! and said so. On SQLite, and on PostgreSQL when `FIELDPOST_TEST_POSTGRES` is set.

mod support;

use chrono::{Datelike, Duration, FixedOffset, NaiveDate, Utc};
use intake::store::Store;
use support::pages::*;
use sync_protocol::{
    event::{Event, EventBody, Recipient, VisitOutcome},
    DeviceTime,
};

fn handed_out(device: &support::TestDevice, h: &(String, String), at: DeviceTime) -> Event {
    Event::for_household(
        &h.0,
        &h.1,
        &device.enumerator,
        at,
        EventBody::FormDistributed {
            recipient: Recipient::Representative,
            note: None,
        },
    )
}

fn absent(device: &support::TestDevice, h: &(String, String), at: DeviceTime) -> Event {
    Event::for_household(
        &h.0,
        &h.1,
        &device.enumerator,
        at,
        EventBody::VisitOutcome {
            outcome: VisitOutcome::Absent,
            note: None,
        },
    )
}

fn written(s: &str) -> DeviceTime {
    DeviceTime::parse(s).unwrap()
}

/// Sends `events` in the device's next batch, and checks the centre accepted every one.
async fn send_accepted(
    server: &support::TestServer,
    device: &mut support::TestDevice,
    events: Vec<Event>,
) -> (sync_protocol::SignedBatch, serde_json::Value) {
    let batch = device.next_batch(events);
    let (status, body) = server.post_frame(batch.to_frame()).await;
    assert_eq!(status, 201, "{body}");
    assert!(
        device
            .outcomes(&body, &batch, device.seq)
            .iter()
            .all(|o| o.status == sync_protocol::receipt::OutcomeStatus::Accepted),
        "{body}"
    );
    (batch, body)
}

/// One enumerator's work in Đông Hà, sent in one batch: three forms handed out and a household
/// found absent either side of midnight between 30 November and 1 December 2024 in Vietnam,
/// written in three offsets, and two forms handed out by tablets whose clocks cannot be right
/// (a day ahead of the centre; reset to 2000).
/// Returns the day the centre received them, in Vietnam.
async fn send_the_work(server: &support::TestServer) -> NaiveDate {
    let mut device = server.enroll("enum-dh-p2").await;
    let h = server.households("enum-dh-p2");
    let vietnam = FixedOffset::east_opt(7 * 3600).unwrap();
    let events = vec![
        // 00:30 on 1 December in Vietnam, written in UTC: December's.
        handed_out(&device, &h[0], written("2024-11-30T17:30:00+00:00")),
        // 23:00 on 30 November in Vietnam, written by a tablet set to UTC+9: November's.
        absent(&device, &h[1], written("2024-12-01T01:00:00+09:00")),
        // The last second of November and the first of December, in Vietnam.
        handed_out(&device, &h[2], written("2024-11-30T23:59:59+07:00")),
        handed_out(&device, &h[3], written("2024-12-01T00:00:00+07:00")),
        // After the centre received it: the tablet's clock runs a day ahead.
        handed_out(
            &device,
            &h[4],
            DeviceTime::new((Utc::now() + Duration::days(1)).with_timezone(&vietnam)),
        ),
        // Long before the campaign began (21 November 2024): a clock reset.
        handed_out(&device, &h[5], written("2000-01-01T08:00:00+07:00")),
    ];
    let (batch, body) = send_accepted(server, &mut device, events).await;
    device
        .receipt(&body, &batch, device.seq)
        .accepted_at
        .as_datetime()
        .with_timezone(&chrono_tz::Asia::Ho_Chi_Minh)
        .date_naive()
}

fn last_of_month(first: NaiveDate) -> NaiveDate {
    first
        .checked_add_months(chrono::Months::new(1))
        .unwrap()
        .pred_opt()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_period_report_counts_each_event_on_its_day_in_the_campaigns_zone() {
    let server = setup().await;
    let received = send_the_work(&server).await;
    let session = log_in(&server, "gs-dh", PASSWORD).await.unwrap();
    let name = server.intake.enumerator_names().unwrap()["enum-dh-p2"].clone();
    let csv = |from: NaiveDate, to: NaiveDate| {
        let (server, session) = (&server, &session);
        async move {
            get(
                server,
                &format!("/c/{CAMPAIGN}/progress/report?from={from}&to={to}&format=csv"),
                session,
            )
            .await
            .text()
            .await
            .unwrap()
            // UTF-8 with a byte-order mark, for Excel.
            .strip_prefix('\u{feff}')
            .expect("a byte-order mark")
            // The district's idle enumerators are listed too, with zeros: not the point here.
            .lines()
            .filter(|l| !l.ends_with(",0,0,0,0,0,0,0,0,0") || !l.contains(",enum-dh-"))
            .map(|l| format!("{l}\n"))
            .collect::<String>()
        }
    };
    let day = |s: &str| s.parse::<NaiveDate>().unwrap();
    let header = "điều tra viên,mã điều tra viên,đã phát,đã thu,đã nhập,đã kiểm tra,vắng,từ chối,chuyển đi,phiếu đã vào bưu gói,tính theo ngày máy chủ nhận\n";

    // November 2024 holds the absence at 23:00 written in UTC+9 and the form handed out at
    // 23:59:59 on the 30th; December 2024 the forms handed out at 00:00:00 on the 1st and at
    // 00:30 written in UTC. Neither holds the two whose tablet time could not be right.
    // (handed out, collected, keyed, verified, absent, refused, moved, in parcels, dated by
    // receipt)
    let november = format!("{name},enum-dh-p2,1,0,0,0,1,0,0,0,0\n");
    let december = format!("{name},enum-dh-p2,2,0,0,0,0,0,0,0,0\n");
    assert_eq!(
        csv(day("2024-11-01"), day("2024-11-30")).await,
        format!("{header}{november}")
    );
    assert_eq!(
        csv(day("2024-12-01"), day("2024-12-31")).await,
        format!("{header}{december}")
    );
    // One day either side of midnight: each holds exactly its own.
    assert_eq!(
        csv(day("2024-11-30"), day("2024-11-30")).await,
        format!("{header}{november}")
    );
    assert_eq!(
        csv(day("2024-12-01"), day("2024-12-01")).await,
        format!("{header}{december}")
    );
    // The two whose tablet time could not be right are in the month the centre received
    // them, and the report says they were dated so.
    let this_month = received.with_day0(0).unwrap();
    let report = csv(this_month, last_of_month(this_month)).await;
    assert_eq!(
        report,
        format!("{header}{name},enum-dh-p2,2,0,0,0,0,0,0,0,2\n"),
        "received on {received}"
    );
    assert!(!csv(day("2000-01-01"), day("2000-01-31"))
        .await
        .contains("enum-dh-p2"));
    // An idle month still lists every enumerator of the district, with zeros.
    let idle = get(
        &server,
        &format!("/c/{CAMPAIGN}/progress/report?from=2000-01-01&to=2000-01-31&format=csv"),
        &session,
    )
    .await
    .text()
    .await
    .unwrap();
    for id in ["enum-dh-p2", "enum-dh-dl", "enum-dh-p4"] {
        assert!(
            idle.contains(&format!(",{id},0,0,0,0,0,0,0,0,0\r\n"))
                || idle.contains(&format!(",{id},0,0,0,0,0,0,0,0,0\n")),
            "{idle}"
        );
    }

    // The page of November 2024 is reached from its month's link, and says nothing of
    // receipt days: none of its events needed one.
    let page = get(&server, &format!("/c/{CAMPAIGN}/progress/report"), &session)
        .await
        .text()
        .await
        .unwrap();
    for month in ["11/2024", "12/2024"] {
        assert!(page.contains(&format!("Tháng {month}")), "{page}");
    }
    assert!(
        page.contains("progress/report?from=2024-11-01&amp;to=2024-11-30"),
        "{page}"
    );
    assert!(
        !page.contains("Tháng 01/2000"),
        "a reset clock makes no month"
    );
    let november = get(
        &server,
        &format!("/c/{CAMPAIGN}/progress/report?from=2024-11-01&to=2024-11-30"),
        &session,
    )
    .await
    .text()
    .await
    .unwrap();
    assert!(november.contains("(UTC+07:00)"), "{november}");
    assert!(!november.contains("id=\"dated-by-receipt\""), "{november}");
    // This month's says how many were dated by the centre's receipt, and why, in Vietnamese.
    let page = get(
        &server,
        &format!(
            "/c/{CAMPAIGN}/progress/report?from={this_month}&to={}",
            last_of_month(this_month)
        ),
        &session,
    )
    .await
    .text()
    .await
    .unwrap();
    assert!(
        page.contains("2 sự kiện tính theo ngày máy chủ nhận vì giờ máy tính bảng không hợp lý"),
        "{page}"
    );
    let problems = support::language::problems(&page, &["gs-dh"]);
    assert!(problems.is_empty(), "{problems:?}");

    // The same in the report's JSON.
    let json = |from: NaiveDate, to: NaiveDate| {
        let (server, session) = (&server, &session);
        async move {
            get(
                server,
                &format!("/c/{CAMPAIGN}/api/report?from={from}&to={to}"),
                session,
            )
            .await
            .json::<serde_json::Value>()
            .await
            .map(|mut report| {
                // The enumerator's own row (the district's idle ones are listed too).
                let own: Vec<serde_json::Value> = report["rows"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|r| r["enumerator"] == "enum-dh-p2")
                    .cloned()
                    .collect();
                report["rows"] = own.into();
                report
            })
            .unwrap()
        }
    };
    let november = json(day("2024-11-01"), day("2024-11-30")).await;
    assert_eq!(
        (
            &november["rows"][0]["absent"],
            &november["rows"][0]["by_receipt"],
            &november["dated_by_receipt"],
            &november["time_zone"],
        ),
        (
            &serde_json::json!(1),
            &serde_json::json!(0),
            &serde_json::json!(0),
            &serde_json::json!("Asia/Ho_Chi_Minh")
        )
    );
    let now = json(this_month, last_of_month(this_month)).await;
    assert_eq!(
        (&now["rows"][0]["handed_out"], &now["dated_by_receipt"]),
        (&serde_json::json!(2), &serde_json::json!(2))
    );
}

/// Raw SQL on the demo campaign's store, beside the running intake.
fn on_the_store(place: &support::place::Place, sql: &str) {
    match &place.database {
        None => {
            let c = rusqlite::Connection::open(
                place.dir.path().join(format!("campaigns/{CAMPAIGN}.db")),
            )
            .unwrap();
            c.busy_timeout(std::time::Duration::from_secs(10)).unwrap();
            c.execute_batch(sql).unwrap();
        }
        Some(url) => std::thread::scope(|s| {
            s.spawn(|| {
                let mut c = postgres::Client::connect(url, postgres::NoTls).unwrap();
                let schema = intake::store::postgres::campaign_schema(CAMPAIGN);
                c.batch_execute(&format!("SET search_path TO \"{schema}\"; {sql}"))
                    .unwrap();
            })
            .join()
            .unwrap()
        }),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn counts_kept_by_the_date_the_tablet_wrote_are_counted_again_when_the_store_opens() {
    let server = setup().await;
    send_the_work(&server).await;
    let kept = server.intake.store.daily_counts(None).unwrap();
    assert_eq!(
        kept.iter()
            .map(|c| (c.n, c.by_receipt))
            .fold((0, 0), |a, c| (a.0 + c.0, a.1 + c.1)),
        (6, 2)
    );
    // As the previous release left them: by the date the tablet wrote, and no rule.
    on_the_store(
        &server.place,
        "DELETE FROM daily_counts;
         INSERT INTO daily_counts (day, enumerator_id, village_id, kind, n)
             SELECT substr(e.occurred_at, 1, 10), e.enumerator_id, h.village_id, e.kind, COUNT(*)
             FROM events e JOIN households h ON h.id = e.household_id
             WHERE e.status = 'accepted' GROUP BY 1, 2, 3, 4;
         DELETE FROM daily_counts_rule;",
    );
    let old = server.intake.store.daily_counts(None).unwrap();
    assert!(
        old != kept && old.iter().any(|c| c.day.to_string() == "2000-01-01"),
        "the previous release's days: {old:?}"
    );
    assert_eq!(
        server.reopen_store().daily_counts(None).unwrap(),
        kept,
        "counted again from the events, as ingest counted them"
    );
    // Once counted under this release's rule, they are not counted again.
    on_the_store(&server.place, "UPDATE daily_counts SET n = n + 100;");
    assert_eq!(
        server.reopen_store().daily_counts(None).unwrap()[0].n,
        kept[0].n + 100
    );
}

/// A parcel handed to the post office counts each of its forms, on the parcel's day in the
/// campaign's zone, in the report's «phiếu đã vào bưu gói»; and so do counts made afresh from
/// the events (docs/statistics.md).
#[tokio::test(flavor = "multi_thread")]
async fn a_parcel_counts_each_of_its_forms_on_its_day() {
    let server = setup().await;
    let mut device = server.enroll("enum-dh-p2").await;
    let h = server.households("enum-dh-p2");
    // Handed out and collected on the 25th, keyed at the post office on the 27th.
    let (visited, keyed) = (
        written("2024-11-25T09:00:00+07:00"),
        written("2024-11-27T15:00:00+07:00"),
    );
    let mut events = Vec::new();
    for household in &h[..2] {
        let on = |body| {
            Event::for_household(&household.0, &household.1, &device.enumerator, keyed, body)
        };
        events.push(handed_out(&device, household, visited));
        events.push(Event::for_household(
            &household.0,
            &household.1,
            &device.enumerator,
            visited,
            EventBody::FormCollected {},
        ));
        events.push(on(EventBody::FormTranscribed {
            form: "sipas-2024@1".into(),
            sealed_answers: None,
            keying_seconds: 180,
        }));
        events.push(on(EventBody::TranscriptionVerified {
            form: "sipas-2024@1".into(),
            sealed_answers: device.sealed(household),
            keying_seconds: 150,
            mismatches: 0,
            keyer_errors: 0,
            verifier_errors: 0,
        }));
    }
    // 23:30 on 30 November in Vietnam, written in UTC: November's.
    events.push(Event::parcel(
        &device.enumerator,
        written("2024-11-30T16:30:00+00:00"),
        "BG-DH-1",
        h[..2].iter().map(|(_, serial)| serial.clone()).collect(),
    ));
    send_accepted(&server, &mut device, events).await;

    let session = log_in(&server, "gs-dh", PASSWORD).await.unwrap();
    let name = server.intake.enumerator_names().unwrap()["enum-dh-p2"].clone();
    let report = |from: &str, to: &str| {
        let (server, session) = (&server, &session);
        let path = format!("/c/{CAMPAIGN}/progress/report?from={from}&to={to}&format=csv");
        async move {
            let csv = get(server, &path, session).await.text().await.unwrap();
            csv.lines()
                .find(|l| l.contains(",enum-dh-p2,"))
                .unwrap_or_else(|| panic!("{csv}"))
                .to_string()
        }
    };
    // (handed out, collected, keyed, verified, absent, refused, moved, in parcels, dated by
    // receipt)
    assert_eq!(
        report("2024-11-01", "2024-11-30").await,
        format!("{name},enum-dh-p2,2,2,2,2,0,0,0,2,0")
    );
    assert_eq!(
        report("2024-11-30", "2024-11-30").await,
        format!("{name},enum-dh-p2,0,0,0,0,0,0,0,2,0")
    );
    assert_eq!(
        report("2024-12-01", "2024-12-31").await,
        format!("{name},enum-dh-p2,0,0,0,0,0,0,0,0,0")
    );
    let json: serde_json::Value = get(
        &server,
        &format!("/c/{CAMPAIGN}/api/report?from=2024-11-01&to=2024-11-30"),
        &session,
    )
    .await
    .json()
    .await
    .unwrap();
    let row = json["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["enumerator"] == "enum-dh-p2")
        .unwrap();
    assert_eq!(row["in_parcels"], 2);
    // The workbook for people: its sheet named, the counts numbers.
    let xlsx = get(
        &server,
        &format!("/c/{CAMPAIGN}/progress/report?from=2024-11-01&to=2024-11-30&format=xlsx"),
        &session,
    )
    .await
    .bytes()
    .await
    .unwrap();
    use calamine::Reader;
    let mut book = calamine::Xlsx::new(std::io::Cursor::new(xlsx.to_vec())).unwrap();
    assert_eq!(book.sheet_names(), ["Báo cáo theo kỳ"]);
    let sheet = book.worksheet_range("Báo cáo theo kỳ").unwrap();
    let header: Vec<String> = sheet
        .rows()
        .next()
        .unwrap()
        .iter()
        .map(|c| c.to_string())
        .collect();
    let column = header
        .iter()
        .position(|h| h == "phiếu đã vào bưu gói")
        .unwrap();
    let own = sheet.rows().find(|r| r[1] == "enum-dh-p2").unwrap();
    assert_eq!(own[column], calamine::Data::Float(2.0));

    // The last day of work in the village is the visit's: keying and the parcel are not done
    // there.
    let progress: serde_json::Value =
        get(&server, &format!("/c/{CAMPAIGN}/api/progress"), &session)
            .await
            .json()
            .await
            .unwrap();
    let village = progress["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["enumerator_id"] == "enum-dh-p2" && r["counts"]["in_parcel"].as_u64() > Some(0))
        .unwrap_or_else(|| panic!("{progress}"));
    assert_eq!(village["last_field_day"], "2024-11-25");

    // A file of a period that cannot be read is refused, in Vietnamese, not given for another
    // period; the JSON refuses a query it cannot read in its own shape.
    for format in ["csv", "xlsx"] {
        let refused = get(
            &server,
            &format!("/c/{CAMPAIGN}/progress/report?from=2024-11-30&to=2024-11-01&format={format}"),
            &session,
        )
        .await;
        assert_eq!(refused.status(), 400);
        let said = refused.text().await.unwrap();
        assert!(
            said.contains("«Từ ngày» (30/11/2024) sau «Đến ngày» (01/11/2024)"),
            "{said}"
        );
    }
    let twice = get(
        &server,
        &format!("/c/{CAMPAIGN}/api/report?from=2024-11-21&from=2024-11-22&to=2024-11-22"),
        &session,
    )
    .await;
    assert_eq!(twice.status(), 400);
    let said: serde_json::Value = twice.json().await.unwrap();
    assert_eq!(said["code"], "bad_request", "{said}");
    assert!(
        said["message"]
            .as_str()
            .unwrap()
            .starts_with("Một giá trị trong địa chỉ"),
        "{said}"
    );

    // Counts kept by the rule before parcels were counted are made afresh when the store opens,
    // the parcel's forms with them.
    let kept = server.intake.store.daily_counts(None).unwrap();
    let in_parcels = |counts: &[intake::store::DailyCount]| -> u32 {
        counts
            .iter()
            .filter(|c| c.kind == "parcel_handed_over")
            .map(|c| c.n)
            .sum()
    };
    assert_eq!(in_parcels(&kept), 2);
    on_the_store(
        &server.place,
        "DELETE FROM daily_counts WHERE kind = 'parcel_handed_over'; UPDATE daily_counts_rule SET rule = 1;",
    );
    assert_eq!(
        in_parcels(&server.intake.store.daily_counts(None).unwrap()),
        0
    );
    assert_eq!(server.reopen_store().daily_counts(None).unwrap(), kept);
}
