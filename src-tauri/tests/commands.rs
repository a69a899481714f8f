//! The app's commands through Tauri's mock runtime (no display, no webview), against a real
//! intake on 127.0.0.1 and a real device database: what the front end sends, what it gets back.

use fieldpost_app::{with_commands, AppState};
use serde_json::{json, Value};
use tauri::{
    ipc::{CallbackFn, InvokeBody},
    test::{get_ipc_response, mock_builder, mock_context, noop_assets, MockRuntime, INVOKE_KEY},
    webview::InvokeRequest,
    WebviewWindow,
};

fn call(webview: &WebviewWindow<MockRuntime>, cmd: &str, args: Value) -> Result<Value, Value> {
    let request = InvokeRequest {
        cmd: cmd.into(),
        callback: CallbackFn(0),
        error: CallbackFn(1),
        url: "tauri://localhost".parse().unwrap(),
        body: InvokeBody::Json(args),
        headers: Default::default(),
        invoke_key: INVOKE_KEY.to_string(),
    };
    get_ipc_response(webview, request).map(|body| body.deserialize::<Value>().unwrap())
}

#[test]
fn the_front_ends_calls_reach_the_device_core_and_errors_come_back_with_codes() {
    // A real intake with the demo campaign.
    let centre = intake::local::demo_on_loopback();
    let (intake, url) = (centre.intake.clone(), centre.url.clone());

    let device_dir = tempfile::tempdir().unwrap();
    let app = with_commands(mock_builder())
        .manage(AppState::open(device_dir.path().to_owned()).unwrap())
        .build(mock_context(noop_assets()))
        .unwrap();
    let webview = tauri::WebviewWindowBuilder::new(&app, "main", Default::default())
        .build()
        .unwrap();

    // Before enrollment.
    let overview = call(&webview, "overview", json!({})).unwrap();
    assert_eq!(overview["enrolled"], false);
    assert_eq!(
        call(
            &webview,
            "keying_sheet",
            json!({ "campaign": "qt-sipas-2024", "household": "dh-p2-kp1-01" })
        )
        .unwrap_err()["code"],
        "unknown_campaign"
    );
    let wrong = call(
        &webview,
        "enroll",
        json!({ "url": url, "code": "0000-0000-0000" }),
    )
    .unwrap_err();
    assert_eq!(wrong["code"], "enrollment_code_invalid");

    // Enrolled, with the campaign's villages and timeline.
    let code = intake
        .issue_enrollment_code("enum-gl-tg", chrono::Duration::hours(1), "test")
        .unwrap();
    let tablet = call(&webview, "enroll", json!({ "url": url, "code": code })).unwrap();
    assert_eq!(tablet["enrolled"], true);
    let overview = &tablet["campaigns"][0];
    assert_eq!(overview["id"], "qt-sipas-2024");
    assert_eq!(overview["enumerator"], "enum-gl-tg");
    assert_eq!(overview["villages"].as_array().unwrap().len(), 2);
    assert_eq!(overview["villages"][0]["name"], "Thôn Cang Gián");
    assert_eq!(overview["timeline"]["collect"]["start"], "2024-11-23");
    let households = call(
        &webview,
        "households",
        json!({ "campaign": "qt-sipas-2024" }),
    )
    .unwrap();
    assert_eq!(households.as_array().unwrap().len(), 60);
    let h = households[0]["id"].as_str().unwrap().to_string();

    // The lifecycle, with an illegal step refused by code.
    assert_eq!(
        call(
            &webview,
            "collect",
            json!({ "campaign": "qt-sipas-2024", "household": h })
        )
        .unwrap_err()["code"],
        "illegal_step"
    );
    let after = call(
        &webview,
        "distribute",
        json!({ "campaign": "qt-sipas-2024", "household": h, "recipient": "family_member", "note": "Con gái nhận" }),
    )
    .unwrap();
    assert_eq!(after["status"], "distributed");
    assert_eq!(
        call(
            &webview,
            "collect",
            json!({ "campaign": "qt-sipas-2024", "household": h })
        )
        .unwrap()["status"],
        "collected"
    );
    let history = call(
        &webview,
        "history",
        json!({ "campaign": "qt-sipas-2024", "household": h }),
    )
    .unwrap();
    assert_eq!(history[0]["kind"], "form_distributed");
    assert_eq!(history[0]["detail"], "family_member");

    // Keying: the sheet in the paper's order; an answer that makes others not apply clears them.
    let sheet = call(
        &webview,
        "keying_sheet",
        json!({ "campaign": "qt-sipas-2024", "household": h }),
    )
    .unwrap();
    assert_eq!(sheet["questions"][0]["number"], "A1");
    let keyed = call(
        &webview,
        "key_answer",
        json!({ "campaign": "qt-sipas-2024", "household": h, "pass": 1, "question": "a_ethnicity", "value": 2 }),
    )
    .unwrap();
    assert!(keyed["validation"]["required_remaining"]
        .as_array()
        .unwrap()
        .contains(&json!("a_ethnicity_other")));
    call(
        &webview,
        "key_answer",
        json!({ "campaign": "qt-sipas-2024", "household": h, "pass": 1, "question": "a_ethnicity_other", "value": "Vân Kiều" }),
    )
    .unwrap();
    let keyed = call(
        &webview,
        "key_answer",
        json!({ "campaign": "qt-sipas-2024", "household": h, "pass": 1, "question": "a_ethnicity", "value": 1 }),
    )
    .unwrap();
    assert_eq!(keyed["cleared"], json!(["a_ethnicity_other"]));
    let bad = call(
        &webview,
        "key_answer",
        json!({ "campaign": "qt-sipas-2024", "household": h, "pass": 1, "question": "a_sex", "value": 7 }),
    )
    .unwrap();
    assert_eq!(bad["validation"]["errors"][0]["error"], "not_a_code");
    let state = call(
        &webview,
        "keying_state",
        json!({ "campaign": "qt-sipas-2024", "household": h, "pass": 1 }),
    )
    .unwrap();
    assert_eq!(state["answers"]["a_ethnicity"], 1);
    assert_eq!(
        call(
            &webview,
            "finish_first_keying",
            json!({ "campaign": "qt-sipas-2024", "household": h })
        )
        .unwrap_err()["code"],
        "incomplete"
    );

    // The screen kept for the next start.
    call(
        &webview,
        "ui_state_set",
        json!({ "value": { "route": "#/sync", "lang": "en" } }),
    )
    .unwrap();
    assert_eq!(
        call(&webview, "ui_state_get", json!({})).unwrap()["route"],
        "#/sync"
    );
    assert_eq!(
        call(&webview, "overview", json!({})).unwrap()["pending"]["events_total"],
        2
    );

    // A second campaign on the same tablet: Bình Dương's own survey, its form (an XLSForm on
    // the centre) received over the air. Both are shown apart; each command names its own.
    let bd = centre.add_binh_duong();
    let code = bd
        .issue_enrollment_code("enum-bd-dt", chrono::Duration::hours(1), "test")
        .unwrap();
    let tablet = call(&webview, "enroll", json!({ "url": url, "code": code })).unwrap();
    let ids: Vec<&str> = tablet["campaigns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["qt-sipas-2024", "bd-hailong-2024"]);
    assert_eq!(
        tablet["campaigns"][1]["villages"][0]["district"],
        "Huyện Dầu Tiếng"
    );
    assert_eq!(
        tablet["pending"]["events_total"], 2,
        "the pending work of both, added"
    );
    let bd_households = call(
        &webview,
        "households",
        json!({ "campaign": "bd-hailong-2024" }),
    )
    .unwrap();
    assert_eq!(
        bd_households.as_array().unwrap().len(),
        24,
        "two villages of 10, with 2 reserve each"
    );
    assert!(bd_households
        .as_array()
        .unwrap()
        .iter()
        .all(|x| x["id"].as_str().unwrap().starts_with("bd-dt")));
    let bh = bd_households[0]["id"].as_str().unwrap();
    // A household of one campaign is unknown to the other.
    assert_eq!(
        call(
            &webview,
            "collect",
            json!({ "campaign": "qt-sipas-2024", "household": bh })
        )
        .unwrap_err()["code"],
        "unknown_household"
    );
    call(&webview, "distribute", json!({ "campaign": "bd-hailong-2024", "household": bh, "recipient": "representative", "note": null })).unwrap();
    call(
        &webview,
        "collect",
        json!({ "campaign": "bd-hailong-2024", "household": bh }),
    )
    .unwrap();
    let sheet = call(
        &webview,
        "keying_sheet",
        json!({ "campaign": "bd-hailong-2024", "household": bh }),
    )
    .unwrap();
    assert_eq!(sheet["form"], "bd-hailong-2024@1");
    assert_eq!(sheet["questions"][0]["id"], "a_gioi_tinh");
    // The tablet carries both after a restart too.
    drop(webview);
    drop(app);
    let reopened = AppState::open(device_dir.path().to_owned()).unwrap();
    let app = with_commands(mock_builder())
        .manage(reopened)
        .build(mock_context(noop_assets()))
        .unwrap();
    let webview = tauri::WebviewWindowBuilder::new(&app, "main", Default::default())
        .build()
        .unwrap();
    let tablet = call(&webview, "overview", json!({})).unwrap();
    assert_eq!(tablet["campaigns"].as_array().unwrap().len(), 2);
    assert_eq!(tablet["pending"]["events_total"], 4);
}
