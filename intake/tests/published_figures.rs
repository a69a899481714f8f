//! Figures a ministry can publish and defend, over real HTTP (docs/statistics.md): only valid
//! answers to questions that apply count; what does not count is listed for the ministry and
//! marked in the answers export so that a recomputation from the export equals the page.

mod support;

use reqwest::header;
use serde_json::json;
use support::pages::*;

#[tokio::test(flavor = "multi_thread")]
async fn answers_that_do_not_apply_invalid_values_and_marks_are_left_out_listed_and_marked() {
    let server = setup().await;
    let mut device = server.enroll("enum-dh-p2").await;
    let hs: Vec<(String, String)> = server
        .households("enum-dh-p2")
        .into_iter()
        .take(3)
        .collect();
    let form = intake::demo::sipas_2024();
    let base = forms::sample::complete_answers(&form, 0);
    assert_eq!(base["q8_4"], json!(1), "the sample uses the services");
    // An honest sheet: the services rated 2 (not satisfied).
    let mut honest = base.clone();
    for q in ["q9_e1", "q9_e2", "q9_e3", "q9_f1", "q9_f2", "q9_f3"] {
        honest.insert(q.into(), json!(2));
    }
    // A sheet that did not use the services (8.4 = 2) but rates them 5.
    let mut rogue = base.clone();
    rogue.insert("q8_4".into(), json!(2));
    for q in ["q9_e1", "q9_e2", "q9_e3", "q9_f1", "q9_f2", "q9_f3"] {
        rogue.insert(q.into(), json!(5));
    }
    // A sheet with values no tablet sends, and marks for blank and unreadable paper.
    let mut odd = honest.clone();
    odd.insert("q9_e1".into(), json!("5"));
    odd.insert("q9_e2".into(), json!([4]));
    odd.insert("q9_e3".into(), json!(99));
    odd.insert("a_sex".into(), json!({"mark": "blank"}));
    odd.insert("q9_f1".into(), json!({"mark": "unreadable"}));
    // Not applicable is not a code of A4; several boxes cannot be ticked "wrongly" on a
    // multiple choice; empty text is no code.
    odd.insert("a_education".into(), json!(8));
    odd.insert("q2".into(), json!({"mark": "several"}));
    odd.insert("q4".into(), json!(""));
    let sheets = [honest, rogue, odd];
    let mut events = Vec::new();
    for (h, answers) in hs.iter().zip(&sheets) {
        events.extend(through_verification(
            &device,
            h,
            verified_answers(&server, &device, h, answers.clone()),
        ));
    }
    let batch = device.next_batch(events);
    assert_eq!(server.post_frame(batch.to_frame()).await.0, 201);
    server
        .intake
        .store_ministry_key(&intake::demo::fixed_ministry_key(), PASSPHRASE)
        .unwrap();

    let session = log_in(&server, "bonv", MINISTRY_PASSWORD).await.unwrap();
    let csrf = hidden_csrf(
        &get(&server, "/c/qt-sipas-2024/ministry/index", &session)
            .await
            .text()
            .await
            .unwrap(),
    );
    let post = |path: &'static str| {
        let url = format!("{}{path}", server.base);
        let form = vec![
            ("csrf", csrf.clone()),
            ("passphrase", PASSPHRASE.to_string()),
        ];
        let session = session.clone();
        async move {
            client()
                .post(url)
                .header(header::COOKIE, format!("fp_session={session}"))
                .form(&form)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        }
    };

    // The index's figures: every service item counts the honest sheet alone (0 of 1 satisfied);
    // the rogue sheet's 5s and the odd sheet's values are not counted.
    let computed: serde_json::Value =
        serde_json::from_str(&post("/c/qt-sipas-2024/api/ministry/index").await).unwrap();
    let items = &computed["index"]["national"]["items"];
    for q in ["q9_e1", "q9_e2", "q9_e3", "q9_f1"] {
        assert_eq!(items[q]["n"], 1, "{q}: {}", items[q]);
        assert_eq!(items[q]["value"], 0.0, "{q}");
    }
    // q9_f2 is valid on the odd sheet too (2): two answers, none satisfied.
    assert_eq!(items["q9_f2"]["n"], 2);
    let anomalies = computed["answer_anomalies"].as_array().unwrap();
    assert_eq!(anomalies.len(), 2, "{anomalies:?}");
    let of = |h: &str| anomalies.iter().find(|a| a["household"] == h).unwrap();
    let not_applying = of(&hs[1].0)["not_applying"].as_array().unwrap().clone();
    // Every service row the sample answers (the whole 9.II grid applies only when 8.4 = 1).
    let service_rows = base
        .keys()
        .filter(|id| form.question(id).and_then(|q| q.grid.as_deref()) == Some("q9_2"))
        .count();
    assert!(service_rows >= 6);
    assert_eq!(not_applying.len(), service_rows, "{not_applying:?}");
    assert!(not_applying
        .iter()
        .all(|n| n.as_str().unwrap().starts_with("9.II")));
    assert_eq!(
        of(&hs[2].0)["invalid"].as_array().unwrap().len(),
        6,
        "{anomalies:?}"
    );
    // An unusable 2 (channels) leaves no channel to rate or name: 2.7 and 3.x do not apply.
    assert!(
        of(&hs[2].0)["not_applying"]
            .as_array()
            .unwrap()
            .iter()
            .all(|n| n.as_str().unwrap().starts_with("3.") || n == "2.7"),
        "{anomalies:?}"
    );

    // The page names both kinds, by serial.
    let page = post("/c/qt-sipas-2024/ministry/index").await;
    assert!(
        page.contains("Phiếu có câu trả lời cho câu không áp dụng (2)") && page.contains(&hs[1].1),
        "{page}"
    );
    assert!(page.contains("Phiếu có giá trị không hợp lệ (1)"), "{page}");

    // The export says why a cell does not count, in Vietnamese, instead of a bare number.
    let csv = post("/c/qt-sipas-2024/ministry/answers.csv").await;
    let rows: Vec<&str> = csv.lines().collect();
    let row = |h: &str| *rows.iter().find(|r| r.contains(h)).unwrap();
    assert!(
        row(&hs[1].0).contains("[câu không áp dụng — không tính] 5"),
        "{}",
        row(&hs[1].0)
    );
    let odd_row = row(&hs[2].0);
    for marked in [
        "[giá trị không hợp lệ — không tính] \"\"5\"\"",
        "[giá trị không hợp lệ — không tính] [4]",
        "[giá trị không hợp lệ — không tính] 99",
        "[để trống]",
        "[không đọc được]",
    ] {
        assert!(odd_row.contains(marked), "{marked} in {odd_row}");
    }
    // A recomputation from the export: numeric cells on the scale, in the first service item's
    // column.
    let table: Vec<csv::StringRecord> =
        csv::Reader::from_reader(csv.trim_start_matches('\u{feff}').as_bytes())
            .records()
            .map(Result::unwrap)
            .collect();
    let header = csv::Reader::from_reader(csv.trim_start_matches('\u{feff}').as_bytes())
        .headers()
        .unwrap()
        .clone();
    let cell = |row: &csv::StringRecord, title: &str| {
        row.get(header.iter().position(|c| c == title).unwrap())
            .unwrap()
            .to_string()
    };
    let odd_record = table
        .iter()
        .find(|r| r.get(0) == Some(hs[2].0.as_str()))
        .unwrap();
    assert_eq!(
        cell(odd_record, "Câu A4"),
        "[giá trị không hợp lệ — không tính] 8"
    );
    assert_eq!(
        cell(odd_record, "Câu A4 (nhãn)"),
        "[giá trị không hợp lệ — không tính]",
        "8 is not «Không áp dụng» where A4 does not take it"
    );
    assert_eq!(
        cell(odd_record, "Câu 2"),
        "[giá trị không hợp lệ — không tính] [chọn nhiều ô]"
    );
    assert_eq!(
        cell(odd_record, "Câu 4"),
        "[giá trị không hợp lệ — không tính] \"\""
    );
    let number = format!("Câu {}", form.question("q9_e1").unwrap().number);
    let column = header.iter().position(|c| c == number).unwrap();
    let numeric: Vec<i64> = table
        .iter()
        .filter_map(|r| r.get(column)?.parse().ok())
        .filter(|c| (1..=5).contains(c))
        .collect();
    assert_eq!(
        numeric,
        [2],
        "only the honest sheet's answer is a bare number"
    );

    // A back-check seed typed in decomposed Unicode draws what the same seed typed composed
    // draws: it is kept, and drawn from, in NFC.
    let composed = "phúc tra đợt 1";
    let decomposed: String = unicode_normalization::UnicodeNormalization::nfd(composed).collect();
    assert_ne!(composed, decomposed);
    let a = server
        .intake
        .draw_backcheck(composed, 100, 1, "bonv", "127.0.0.1")
        .unwrap();
    let b = server
        .intake
        .draw_backcheck(&format!(" {decomposed} "), 100, 1, "bonv", "127.0.0.1")
        .unwrap();
    let (first, second) = (
        server.intake.backcheck_draw(a).unwrap(),
        server.intake.backcheck_draw(b).unwrap(),
    );
    assert_eq!(second.0.seed, composed);
    assert_eq!(
        first.1.iter().map(|h| &h.id).collect::<Vec<_>>(),
        second.1.iter().map(|h| &h.id).collect::<Vec<_>>()
    );
    assert!(!first.1.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn areas_of_the_same_name_are_told_apart() {
    let server = setup().await;
    // «Khu phố 2, Phường 2» is a village of Đông Hà and one of Thị xã Quảng Trị.
    let names = server.intake.store.place_names().unwrap();
    let (dh, qt) = (&names["dh-p2-kp2"], &names["qt-p2-kp2"]);
    assert_ne!(dh, qt);
    assert!(dh.starts_with("Khu phố 2, Phường 2, ") && qt.starts_with("Khu phố 2, Phường 2, "));
    // A name that does not repeat stays short.
    assert_eq!(names["dh-p2-kp1"], "Khu phố 1, Phường 2");
    // So do reconciliation, the review and the back-check lists, which read villages there.
    let forms = server.intake.store.expected_forms().unwrap();
    let village_of = |v: &str| {
        forms
            .iter()
            .find(|f| f.village == v)
            .unwrap()
            .village_name
            .clone()
    };
    assert_eq!(village_of("dh-p2-kp2"), *dh);
    assert_ne!(village_of("dh-p2-kp2"), village_of("qt-p2-kp2"));
}

/// The outside check of issue 18 as a test: a campaign's public table (its CSV, as anyone
/// downloads it), with the sampled hierarchy the campaign file makes public, and an attacker
/// who solves every "parent = sum of children" with one unknown (areas without forms known to
/// be zero). No village and no area under the minimum may fall out, at any minimum.
#[tokio::test(flavor = "multi_thread")]
async fn no_withheld_area_of_the_demos_public_table_can_be_derived() {
    let server = setup().await;
    // Forms in several villages of two districts, some villages small.
    let mut sent = 0;
    for (enumerator, per_village) in [
        ("enum-dh-p2", [9usize, 3]),
        ("enum-dh-p4", [6, 2]),
        ("enum-gl-tt", [7, 0]),
    ] {
        let mut device = server.enroll(enumerator).await;
        let hs = server.households(enumerator);
        let mut villages: Vec<String> = hs
            .iter()
            .map(|h| h.0.rsplit_once('-').unwrap().0.to_string())
            .collect();
        villages.dedup();
        let mut events = Vec::new();
        for (village, n) in villages.iter().zip(per_village) {
            for (i, h) in hs
                .iter()
                .filter(|h| h.0.starts_with(&format!("{village}-")))
                .take(n)
                .enumerate()
            {
                events.extend(through_verification(
                    &device,
                    h,
                    verified_form(&server, &device, h, i as i64),
                ));
                sent += 1;
            }
        }
        let batch = device.next_batch(events);
        assert_eq!(server.post_frame(batch.to_frame()).await.0, 201);
    }
    assert_eq!(sent, 27);
    server
        .intake
        .store_ministry_key(&intake::demo::fixed_ministry_key(), PASSPHRASE)
        .unwrap();
    // The sampled hierarchy, and the forms every area really has (the ministry's figures).
    let parents: Vec<(forms::index::Level, String, Option<String>)> =
        server.intake.store.area_parents().unwrap();
    let computed = server
        .intake
        .index(PASSPHRASE, "bonv", "127.0.0.1")
        .unwrap();
    let truth = |level: forms::index::Level, id: &str| {
        computed
            .report
            .areas
            .get(&level)
            .and_then(|m| m.get(id))
            .map_or(0, |a| a.counted_forms)
    };
    let session = log_in(&server, "bonv", MINISTRY_PASSWORD).await.unwrap();
    let csrf = hidden_csrf(
        &get(&server, "/c/qt-sipas-2024/ministry/index", &session)
            .await
            .text()
            .await
            .unwrap(),
    );
    for (level, min) in [
        ("commune", "5"),
        ("commune", "8"),
        ("district", "10"),
        ("province", "5"),
    ] {
        let published = browser()
            .post(format!("{}/c/qt-sipas-2024/ministry/publish", server.base))
            .header(header::COOKIE, format!("fp_session={session}"))
            .form(&[
                ("csrf", csrf.as_str()),
                ("passphrase", PASSPHRASE),
                ("level", level),
                ("min_forms", min),
                ("confirm_publish", "yes"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(published.status(), 200, "{level} {min}");
        let csv = client()
            .get(format!("{}/public/qt-sipas-2024?format=csv", server.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let mut reader = csv::Reader::from_reader(csv.trim_start_matches('\u{feff}').as_bytes());
        let header = reader.headers().unwrap().clone();
        let col = |name: &str| header.iter().position(|h| h == name).unwrap();
        let (code, forms_at) = (col("mã địa bàn"), col("số phiếu"));
        let mut known: std::collections::HashMap<String, u64> = reader
            .records()
            .map(Result::unwrap)
            .map(|r| (r[code].to_string(), r[forms_at].parse().unwrap()))
            .collect();
        assert!(!known.is_empty() || level == "province");
        for (lvl, id, _) in &parents {
            if truth(*lvl, id) == 0
                && computed
                    .report
                    .areas
                    .get(lvl)
                    .and_then(|m| m.get(id))
                    .is_none()
            {
                known.entry(id.clone()).or_insert(0);
            }
        }
        // Solve every equation with one unknown, again and again.
        let mut derived = Vec::new();
        loop {
            let mut progress = false;
            for (_, parent, _) in &parents {
                let kids: Vec<&String> = parents
                    .iter()
                    .filter(|p| p.2.as_ref() == Some(parent))
                    .map(|p| &p.1)
                    .collect();
                if kids.is_empty() {
                    continue;
                }
                let unknown: Vec<&String> = std::iter::once(parent)
                    .chain(kids.iter().copied())
                    .filter(|c| !known.contains_key(*c))
                    .collect();
                if let [one] = unknown[..] {
                    let sum: u64 = kids.iter().filter_map(|k| known.get(*k)).sum();
                    let value = if one == parent {
                        sum
                    } else {
                        known[parent] - sum
                    };
                    known.insert(one.clone(), value);
                    derived.push(one.clone());
                    progress = true;
                }
            }
            if !progress {
                break;
            }
        }
        let min: u64 = min.parse().unwrap();
        for id in &derived {
            let (lvl, ..) = parents.iter().find(|p| &p.1 == id).unwrap();
            let n = truth(*lvl, id);
            assert!(
                n == 0 || (*lvl != forms::index::Level::Village && n >= min),
                "{level} ≥ {min}: {id} ({n} forms) derived from the public table"
            );
        }
    }
}

/// A sheet the respondent left blank throughout is a form of its area and nothing in its
/// figures: listed by serial on the index page as a sheet with nothing counted, never called
/// straight-lined, and `counted_forms` is one less than `forms` (outside walk-through, session
/// 10: it was "one code for every question" and counted as a form the figure rested on).
#[tokio::test(flavor = "multi_thread")]
async fn a_sheet_left_blank_throughout_is_listed_and_rests_nothing_on() {
    let server = setup().await;
    let mut device = server.enroll("enum-dh-p2").await;
    let hs: Vec<(String, String)> = server
        .households("enum-dh-p2")
        .into_iter()
        .take(2)
        .collect();
    let form = intake::demo::sipas_2024();
    let answered = forms::sample::complete_answers(&form, 0);
    // Every question that applies to the answered sheet, marked blank.
    let blank: std::collections::BTreeMap<String, serde_json::Value> = answered
        .keys()
        .map(|q| (q.clone(), forms::answer::Mark::Blank.to_json()))
        .collect();
    let mut events = Vec::new();
    for (h, answers) in hs.iter().zip([answered, blank]) {
        events.extend(through_verification(
            &device,
            h,
            verified_answers(&server, &device, h, answers),
        ));
    }
    let batch = device.next_batch(events);
    assert_eq!(server.post_frame(batch.to_frame()).await.0, 201);
    server
        .intake
        .store_ministry_key(&intake::demo::fixed_ministry_key(), PASSPHRASE)
        .unwrap();
    let computed = server
        .intake
        .index(PASSPHRASE, "bonv", "127.0.0.1")
        .unwrap();
    assert_eq!(computed.nothing_counted, [hs[1].0.clone()]);
    assert!(!computed.straight_lined.contains(&hs[1].0));
    let national = &computed.report.national;
    assert_eq!((national.forms, national.counted_forms), (2, 1));

    let session = log_in(&server, "bonv", MINISTRY_PASSWORD).await.unwrap();
    let page = get(&server, "/c/qt-sipas-2024/ministry/index", &session)
        .await
        .text()
        .await
        .unwrap();
    let page = client()
        .post(format!("{}/c/qt-sipas-2024/ministry/index", server.base))
        .header(header::COOKIE, format!("fp_session={session}"))
        .form(&[
            ("csrf", hidden_csrf(&page).as_str()),
            ("passphrase", PASSPHRASE),
        ])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(&format!("id=\"nothing-counted\">1</b> {}", hs[1].1)),
        "the blank sheet named on the index page"
    );
    assert!(page.contains("2 phiếu, 1 phiếu được tính"));
}
