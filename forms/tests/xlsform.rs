//! XLSForm import, on workbooks these tests build with rust_xlsxwriter.

use forms::{
    definition::{Kind, Text},
    load::Accepts,
    validate::{validate, AnswerError},
    xlsform::{self, XlsFormError},
};
use rust_xlsxwriter::Workbook;
use serde_json::json;

mod support;

/// Writes sheets of rows (first row = header) into an .xlsx in memory.
fn workbook(sheets: &[(&str, Vec<Vec<String>>)]) -> Vec<u8> {
    let mut wb = Workbook::new();
    for (name, rows) in sheets {
        let ws = wb.add_worksheet();
        ws.set_name(*name).unwrap();
        for (r, row) in rows.iter().enumerate() {
            for (c, value) in row.iter().enumerate() {
                ws.write_string(r as u32, c as u16, value).unwrap();
            }
        }
    }
    wb.save_to_buffer().unwrap()
}

fn row(cells: &[&str]) -> Vec<String> {
    cells.iter().map(|s| s.to_string()).collect()
}

const SURVEY_HEADER: &[&str] = &[
    "type",
    "name",
    "label::Vietnamese",
    "label::English",
    "required",
    "relevant",
    "constraint",
    "constraint_message::Vietnamese",
    "appearance",
];

#[test]
fn a_small_form_converts_and_what_cannot_is_listed_by_row() {
    let survey = vec![
        row(SURVEY_HEADER),
        row(&["begin group", "s1", "Phần 1", "Part 1", "", "", "", "", ""]), // row 2
        row(&[
            "select_one yesno",
            "q1",
            "Có con đi học?",
            "Child in school?",
            "yes",
            "",
            "",
            "",
            "",
        ]),
        row(&[
            "integer",
            "age",
            "Tuổi",
            "Age",
            "yes",
            "",
            ". >= 18 and . <= 120",
            "Từ 18 đến 120",
            "",
        ]),
        row(&[
            "integer",
            "people",
            "Số người",
            "People",
            "",
            "",
            "",
            "",
            "",
        ]), // row 5: no range
        row(&[
            "text",
            "school",
            "Tên trường",
            "School",
            "yes",
            "${q1} = '1'",
            "",
            "",
            "",
        ]),
        row(&[
            "select_multiple yesno",
            "m",
            "Nhiều",
            "Many",
            "",
            "",
            "",
            "",
            "",
        ]),
        row(&["calculate", "c", "", "", "", "", "", "", ""]), // row 8
        row(&[
            "geopoint",
            "where",
            "Vị trí",
            "Location",
            "",
            "",
            "",
            "",
            "",
        ]), // row 9
        row(&["end group", "", "", "", "", "", "", "", ""]),
        row(&[
            "begin group",
            "sat",
            "Hài lòng",
            "Satisfaction",
            "",
            "",
            "",
            "",
            "table-list",
        ]),
        row(&["note", "hdr", "Mức độ", "Level", "", "", "", "", "label"]),
        row(&[
            "select_one sat5",
            "s_1",
            "Thái độ",
            "Attitude",
            "yes",
            "",
            "",
            "",
            "",
        ]),
        row(&[
            "select_one sat5",
            "s_2",
            "Thời gian",
            "Time",
            "yes",
            "${q1} = 1",
            "",
            "",
            "",
        ]),
        row(&["end group", "", "", "", "", "", "", "", ""]),
        row(&["start", "start", "", "", "", "", "", "", ""]), // row 16
    ];
    let mut choices = vec![row(&[
        "list_name",
        "name",
        "label::Vietnamese",
        "label::English",
    ])];
    choices.push(row(&["yesno", "1", "Có", "Yes"]));
    choices.push(row(&["yesno", "2", "Không", "No"]));
    for i in 1..=5 {
        choices.push(row(&[
            "sat5",
            &i.to_string(),
            &format!("Mức {i}"),
            &format!("Level {i}"),
        ]));
    }
    choices.push(row(&["yesno", "dk", "Không biết", "Don't know"])); // row 9: not a numeric code
    let settings = vec![
        row(&["form_id", "version", "form_title"]),
        row(&["hh-2024", "2024112301", "Hộ gia đình"]),
    ];
    let bytes = workbook(&[
        ("survey", survey),
        ("choices", choices),
        ("settings", settings),
    ]);

    let import = xlsform::import(&bytes).unwrap();
    let listed: Vec<(&str, usize)> = import
        .unsupported
        .iter()
        .map(|u| (u.sheet, u.row))
        .collect();
    assert_eq!(
        listed,
        [
            ("choices", 9),
            ("survey", 5),
            ("survey", 8),
            ("survey", 9),
            ("survey", 16)
        ],
        "{:#?}",
        import.unsupported
    );
    assert!(import.unsupported[2].message.contains("\"calculate\""));

    let form = import.form;
    assert_eq!(form.reference(), "hh-2024@2024112301");
    assert_eq!(
        form.definition.title,
        Text {
            vi: "Hộ gia đình".into(),
            en: "Hộ gia đình".into()
        }
    );
    assert_eq!(form.question("q1").unwrap().label.en, "Child in school?");
    assert_eq!(
        form.question("age").unwrap().accepts,
        Accepts::Integer { min: 18, max: 120 }
    );
    assert_eq!(
        form.question("m").unwrap().accepts,
        Accepts::Codes(vec![1, 2])
    );
    // A note inside the table-list is kept, just before the grid (it was dropped silently).
    let note = &form.definition.sections[1].items[0];
    assert_eq!((note.kind, note.id.as_str()), (Kind::Note, "hdr"));
    assert_eq!(note.label.vi, "Mức độ");
    let grid = &form.definition.sections[1].items[1];
    assert_eq!(
        (grid.kind, grid.scale, grid.rows.len()),
        (Kind::Grid, Some(5), 2)
    );
    assert_eq!(form.question("s_2").unwrap().grid.as_deref(), Some("sat"));

    // The conditions work as written in XLSForm (codes compared as text or numbers).
    let answers = |pairs: serde_json::Value| serde_json::from_value(pairs).unwrap();
    let v = validate(
        &form,
        &answers(json!({"q1": 2, "age": 40, "school": "THCS", "s_1": 4})),
    );
    assert_eq!(v.errors[0].error, AnswerError::NotApplicable);
    let v = validate(&form, &answers(json!({"q1": 1, "age": 17, "s_1": 4})));
    assert_eq!(
        v.errors[0].error,
        AnswerError::OutOfRange {
            value: 17,
            min: 18,
            max: 120
        }
    );
    assert_eq!(v.required_remaining, ["school", "s_2"]);
}

#[test]
fn broken_workbooks_get_typed_errors() {
    assert!(matches!(
        xlsform::import(b"not a zip file"),
        Err(XlsFormError::Workbook(_))
    ));
    let no_survey = workbook(&[("choices", vec![row(&["list_name", "name", "label"])])]);
    assert!(matches!(
        xlsform::import(&no_survey),
        Err(XlsFormError::MissingSheet("survey"))
    ));
    let no_name = workbook(&[("survey", vec![row(&["type", "label"]), row(&["text", "x"])])]);
    assert!(matches!(
        xlsform::import(&no_name),
        Err(XlsFormError::MissingColumn {
            sheet: "survey",
            column: "name"
        })
    ));
    // Converts, but the result fails the loader's checks: an unknown list, an unknown reference.
    let bad = workbook(&[(
        "survey",
        vec![
            row(&["type", "name", "label", "relevant"]),
            row(&["select_one nolist", "a", "A", ""]),
            row(&["text", "b", "B", "${zz} = 1"]),
        ],
    )]);
    let Err(XlsFormError::Invalid(e)) = xlsform::import(&bad) else {
        panic!()
    };
    let text = e.to_string();
    assert!(
        text.contains("\"nolist\" does not exist") && text.contains("${zz}"),
        "{text}"
    );
}

/// The shipped SIPAS form written as an XLSForm (as a survey team would), then imported.
#[test]
fn sipas_round_trips_through_xlsform() {
    let sipas = support::sipas_2024();
    let d = &sipas.definition;
    let opt = |s: &Option<String>| s.clone().unwrap_or_default();
    let mut survey = vec![row(SURVEY_HEADER)];
    let line = |ty: String,
                name: &str,
                label: &Text,
                required: bool,
                relevant: String,
                constraint: String,
                msg: String,
                appearance: &str| {
        vec![
            ty,
            name.into(),
            label.vi.clone(),
            label.en.clone(),
            if required {
                "yes".into()
            } else {
                String::new()
            },
            relevant,
            constraint,
            msg,
            appearance.into(),
        ]
    };
    for s in &d.sections {
        survey.push(line(
            "begin group".into(),
            &s.id,
            &s.title,
            false,
            String::new(),
            String::new(),
            String::new(),
            "",
        ));
        for item in &s.items {
            let msg = item
                .constraint_message
                .as_ref()
                .map(|t| t.vi.clone())
                .unwrap_or_default();
            match item.kind {
                Kind::Grid => {
                    survey.push(line(
                        "begin group".into(),
                        &item.id,
                        &item.label,
                        false,
                        opt(&item.relevant),
                        String::new(),
                        String::new(),
                        "table-list",
                    ));
                    for r in &item.rows {
                        survey.push(line(
                            format!("select_one {}", opt(&item.choices)),
                            &r.id,
                            &r.label,
                            item.required,
                            opt(&r.relevant),
                            String::new(),
                            String::new(),
                            "",
                        ));
                    }
                    survey.push(line(
                        "end group".into(),
                        "",
                        &Text {
                            vi: String::new(),
                            en: String::new(),
                        },
                        false,
                        String::new(),
                        String::new(),
                        String::new(),
                        "",
                    ));
                }
                kind => {
                    let ty = match kind {
                        Kind::Single | Kind::Likert => format!("select_one {}", opt(&item.choices)),
                        Kind::Multiple => format!("select_multiple {}", opt(&item.choices)),
                        Kind::Integer => "integer".into(),
                        Kind::Text => "text".into(),
                        _ => "note".into(),
                    };
                    survey.push(line(
                        ty,
                        &item.id,
                        &item.label,
                        item.required,
                        opt(&item.relevant),
                        opt(&item.constraint),
                        msg,
                        "",
                    ));
                }
            }
        }
        survey.push(line(
            "end group".into(),
            "",
            &Text {
                vi: String::new(),
                en: String::new(),
            },
            false,
            String::new(),
            String::new(),
            String::new(),
            "",
        ));
    }
    let mut choices = vec![row(&[
        "list_name",
        "name",
        "label::Vietnamese",
        "label::English",
    ])];
    for (list, items) in &d.choice_lists {
        for c in items {
            choices.push(vec![
                list.clone(),
                c.code.to_string(),
                c.label.vi.clone(),
                c.label.en.clone(),
            ]);
        }
    }
    let settings = vec![
        row(&["form_id", "version", "form_title"]),
        vec![d.id.clone(), d.version.to_string(), d.title.vi.clone()],
    ];
    let import = xlsform::import(&workbook(&[
        ("survey", survey),
        ("choices", choices),
        ("settings", settings),
    ]))
    .unwrap();
    assert_eq!(import.unsupported, vec![]);
    let form = import.form;
    assert_eq!(form.reference(), "sipas-2024@1");
    // XLSForm has no length limit for text, so max_length is the one thing that cannot travel.
    let shape = |f: &forms::Form| {
        f.questions
            .iter()
            .map(|q| {
                let accepts = match &q.accepts {
                    Accepts::Text { .. } => Accepts::Text { max_length: 0 },
                    other => other.clone(),
                };
                format!(
                    "{} {:?} {} {:?} {}",
                    q.id, accepts, q.required, q.grid, q.label.vi
                )
            })
            .collect::<Vec<_>>()
    };
    let (imported, original) = (shape(&form), shape(&sipas));
    assert_eq!(imported.len(), original.len());
    for (a, b) in imported.iter().zip(&original) {
        assert_eq!(a, b);
    }
    // Same skip logic: the fully answered form is complete, and the service block still skips.
    let mut answers = support::full_sipas_answers();
    assert!(validate(&form, &answers).complete);
    answers.insert("q8_4".into(), json!(2));
    assert_eq!(validate(&form, &answers).errors.len(), 13);
}

/// The Bình Dương demo's form is an XLSForm workbook in the repository (three indicator groups,
/// as Quyết định 3381/QĐ-UBND sets them), with Fieldpost's index sheet: it imports with nothing
/// left out, keys, and its index groups the three.
#[test]
fn the_binh_duong_workbook_imports_with_its_three_indicator_groups() {
    let bytes =
        std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/binh-duong-2024.xlsx")).unwrap();
    let imported = xlsform::import(&bytes).unwrap();
    assert_eq!(
        imported.unsupported,
        vec![],
        "every row of the workbook converts"
    );
    let form = imported.form;
    assert_eq!(form.reference(), "bd-hailong-2024@1");
    // The grid's note that says what code 8 means reaches the keyer.
    assert!(
        form.definition
            .sections
            .iter()
            .flat_map(|s| &s.items)
            .any(|i| i.kind == Kind::Note && i.label.vi.contains("8 = không sử dụng")),
        "the note inside a table-list is kept"
    );
    let rule = form
        .definition
        .index
        .as_ref()
        .expect("the index sheet is read");
    let parts: Vec<&str> = rule.parts.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(parts, ["nhan_dinh", "hai_long", "nhu_cau"]);
    assert_eq!(
        rule.overall,
        ["nhan_dinh", "hai_long"],
        "needs are reported, not counted in the index"
    );
    assert_eq!(rule.satisfied_codes, [4, 5]);
    let wanted = rule.criteria.iter().find(|c| c.id == "cai_tien").unwrap();
    assert_eq!(
        wanted.items,
        ["d1", "d2", "d3", "d4"],
        "a grid's name stands for its rows"
    );
    assert_eq!(
        rule.parts[1].criteria,
        ["tiep_can", "thu_tuc", "cong_chuc", "ket_qua", "gop_y"]
    );
    // "Not used" (8) is allowed on the satisfaction grid only, and is not a valid scale answer.
    assert_eq!(form.definition.special_codes.not_applicable, Some(8));
    let mut answers = forms::sample::complete_answers(&form, 3);
    answers.insert("c5".into(), json!(8));
    assert!(validate(&form, &answers).complete);
    answers.insert("b1".into(), json!(8));
    assert!(
        !validate(&form, &answers).errors.is_empty(),
        "8 is no answer to a perception item"
    );
    answers.insert("b1".into(), json!(4));
    let origin = forms::index::Origin {
        village: "v".into(),
        commune: "c".into(),
        district: "d".into(),
        province: "p".into(),
    };
    let report = forms::index::compute(&form, &[forms::index::OpenedForm { origin, answers }]);
    let national = &report.national;
    assert_eq!(
        national.criteria["gop_y"].n, 0,
        "a 'not used' answer is not counted"
    );
    assert!(national.parts["nhu_cau"].value.is_some());
    assert_eq!(national.items.len(), 13);
}

#[test]
fn an_index_sheet_that_cannot_be_read_is_listed_by_row() {
    let survey = vec![
        row(&["type", "name", "label"]),
        row(&["select_one s", "q1", "Hài lòng?"]),
        row(&["select_one s", "q2", "Hài lòng?"]),
    ];
    let choices = vec![
        row(&["list_name", "name", "label"]),
        row(&["s", "1", "Không"]),
        row(&["s", "2", "Có"]),
    ];
    let index = vec![
        row(&["type", "name", "label", "part", "items"]),
        row(&["part", "p", "Phần", "", ""]),
        row(&["criterion", "c1", "Tiêu chí", "p", "q1"]),
        row(&["criterion", "c2", "Tiêu chí", "khong_co", "q2"]), // row 4
        row(&["tieu_chi", "c3", "?", "p", "q2"]),                // row 5
    ];
    let with = |settings: Vec<Vec<String>>| {
        workbook(&[
            ("survey", survey.clone()),
            ("choices", choices.clone()),
            ("settings", settings),
            ("fieldpost_index", index.clone()),
        ])
    };
    let imported = xlsform::import(&with(vec![
        row(&["form_id", "satisfied_codes"]),
        row(&["f", "2"]),
    ]))
    .unwrap();
    let listed: Vec<(&str, usize)> = imported
        .unsupported
        .iter()
        .map(|u| (u.sheet, u.row))
        .collect();
    assert_eq!(listed, [("fieldpost_index", 5), ("fieldpost_index", 4)]);
    let rule = imported.form.definition.index.unwrap();
    assert_eq!(rule.parts[0].criteria, ["c1"]);
    // Without satisfied codes there is no index, and the import says why.
    let imported = xlsform::import(&with(vec![row(&["form_id"]), row(&["f"])])).unwrap();
    assert!(imported.form.definition.index.is_none());
    assert!(imported
        .unsupported
        .iter()
        .any(|u| u.message.contains("satisfied_codes")));
}
