//! XLSForm import: an `.xlsx` workbook in the format of ODK, KoboToolbox and SurveyCTO
//! (`survey`, `choices`, `settings` sheets) into a form definition.
//!
//! Converted: `select_one L`, `select_multiple L`, `integer`, `text`, `note`,
//! `begin group`/`end group` (top-level groups become sections; a group with appearance
//! `table-list` whose questions share one list becomes a grid), `relevant`, `constraint`,
//! `constraint_message`, `required`, and `label::Vietnamese` / `label::English` columns (also
//! `label::vi`, `label::en`, or a plain `label` for both). Integer ranges come from a constraint
//! of the form `. >= A and . <= B`. Choice `name`s must be the numeric codes printed on paper.
//! Everything else is listed, with its sheet and row number, in [`Import::unsupported`]; the
//! converted definition is then checked like any other ([`Form::load`]).
//!
//! Fieldpost's own additions, which other XLSForm tools ignore:
//! * `settings`: `not_applicable_code` and `no_answer_code` (the codes printed for "not
//!   applicable" and "no answer"), `satisfied_codes` (e.g. `4 5`: the codes an index counts as
//!   satisfied);
//! * `survey`: `allow_not_applicable` and `allow_no_answer` (yes/no; on a `table-list` group's
//!   `begin group` row for the whole grid);
//! * a `fieldpost_index` sheet — the index block: one row per `part` (`name`, labels, `overall`
//!   yes/no, default yes: whether the part counts in the overall index) and per `criterion`
//!   (`name`, labels, `part`, and `items`: question names, or a grid's name for all its rows,
//!   separated by spaces), in the order the report lists them.

use calamine::{Data, Reader, Xlsx};
use std::collections::{BTreeMap, HashMap};
use thiserror::Error;

use crate::{
    definition::{
        Choice, Criterion, FormDefinition, GridRow, IndexRule, Item, Kind, Part, Section,
        SpecialCodes, Text, FORMAT,
    },
    error::FormError,
    load::Form,
};

#[derive(Debug, Error)]
pub enum XlsFormError {
    #[error("not a readable .xlsx workbook: {0}")]
    Workbook(String),
    #[error("the workbook has no {0:?} sheet")]
    MissingSheet(&'static str),
    #[error("the {sheet:?} sheet has no {column:?} column")]
    MissingColumn {
        sheet: &'static str,
        column: &'static str,
    },
    #[error("the converted form is not valid: {0}")]
    Invalid(FormError),
}

/// A row that could not be converted, by its Excel row number (the header is row 1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unsupported {
    pub sheet: &'static str,
    pub row: usize,
    pub message: String,
}

impl std::fmt::Display for Unsupported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} row {}: {}", self.sheet, self.row, self.message)
    }
}

#[derive(Debug)]
pub struct Import {
    pub form: Form,
    pub unsupported: Vec<Unsupported>,
}

fn cell(d: &Data) -> String {
    match d {
        Data::String(s) => s.trim().to_string(),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        Data::Float(f) => f.to_string(),
        Data::Int(i) => i.to_string(),
        Data::Bool(b) => b.to_string(),
        Data::Empty => String::new(),
        other => other.to_string().trim().to_string(),
    }
}

/// A sheet as rows of named cells, with Excel row numbers.
struct Sheet {
    columns: HashMap<String, usize>,
    rows: Vec<(usize, Vec<String>)>,
}

impl Sheet {
    fn read(
        wb: &mut Xlsx<std::io::Cursor<&[u8]>>,
        name: &'static str,
    ) -> Result<Option<Sheet>, XlsFormError> {
        let Some(actual) = wb
            .sheet_names()
            .into_iter()
            .find(|s| s.trim().eq_ignore_ascii_case(name))
        else {
            return Ok(None);
        };
        let range = wb
            .worksheet_range(&actual)
            .map_err(|e| XlsFormError::Workbook(e.to_string()))?;
        let first_row = range.start().map(|(r, _)| r as usize).unwrap_or(0);
        let mut rows = range.rows();
        let header: Vec<String> = rows
            .next()
            .map(|r| r.iter().map(|c| cell(c).to_lowercase()).collect())
            .unwrap_or_default();
        let columns = header
            .iter()
            .enumerate()
            .filter(|(_, h)| !h.is_empty())
            .map(|(i, h)| (h.clone(), i))
            .collect();
        let rows = rows
            .enumerate()
            .map(|(i, r)| (first_row + i + 2, r.iter().map(cell).collect::<Vec<_>>()))
            .filter(|(_, r)| r.iter().any(|c| !c.is_empty()))
            .collect();
        Ok(Some(Sheet { columns, rows }))
    }
    fn get<'a>(&self, row: &'a [String], column: &str) -> &'a str {
        self.columns
            .get(column)
            .and_then(|i| row.get(*i))
            .map(|s| s.as_str())
            .unwrap_or("")
    }
    /// A label in Vietnamese and English from the `name::language` columns.
    fn text(&self, row: &[String], base: &str) -> Text {
        let pick = |langs: &[&str]| {
            langs
                .iter()
                .map(|l| self.get(row, &format!("{base}::{l}")))
                .find(|s| !s.is_empty())
                .map(str::to_string)
        };
        let plain = self.get(row, base).to_string();
        let vi = pick(&["vietnamese", "vi", "tiếng việt", "vietnamese (vi)"])
            .unwrap_or_else(|| plain.clone());
        let en = pick(&["english", "en", "english (en)"]).unwrap_or_else(|| plain.clone());
        match (vi.is_empty(), en.is_empty()) {
            (true, false) => Text { vi: en.clone(), en },
            (false, true) => Text { en: vi.clone(), vi },
            _ => Text { vi, en },
        }
    }
}

fn yes(s: &str) -> bool {
    matches!(
        s.trim().to_lowercase().as_str(),
        "yes" | "true" | "1" | "true()"
    )
}

/// `. >= A and . <= B` (either order, with or without spaces) → (A, B).
fn range_from_constraint(c: &str) -> Option<(i64, i64)> {
    let c = c.replace(' ', "");
    let (a, b) = c.split_once("and")?;
    let lo = |s: &str| s.strip_prefix(".>=").and_then(|n| n.parse().ok());
    let hi = |s: &str| s.strip_prefix(".<=").and_then(|n| n.parse().ok());
    match (lo(a), hi(b), lo(b), hi(a)) {
        (Some(l), Some(h), _, _) | (_, _, Some(l), Some(h)) => Some((l, h)),
        _ => None,
    }
}

fn blank_item(id: &str, kind: Kind, label: Text) -> Item {
    Item {
        id: id.into(),
        kind,
        number: String::new(),
        label,
        required: false,
        relevant: None,
        constraint: None,
        constraint_message: None,
        choices: None,
        scale: None,
        min: None,
        max: None,
        max_length: None,
        allow_not_applicable: false,
        allow_no_answer: false,
        rows: vec![],
    }
}

/// Imports an XLSForm workbook given as bytes.
pub fn import(bytes: &[u8]) -> Result<Import, XlsFormError> {
    let mut wb: Xlsx<_> = calamine::open_workbook_from_rs(std::io::Cursor::new(bytes))
        .map_err(|e: calamine::XlsxError| XlsFormError::Workbook(e.to_string()))?;
    let survey = Sheet::read(&mut wb, "survey")?.ok_or(XlsFormError::MissingSheet("survey"))?;
    let choices_sheet = Sheet::read(&mut wb, "choices")?;
    let settings = Sheet::read(&mut wb, "settings")?;
    let index_sheet = Sheet::read(&mut wb, "fieldpost_index")?;
    for column in ["type", "name"] {
        if !survey.columns.contains_key(column) {
            return Err(XlsFormError::MissingColumn {
                sheet: "survey",
                column,
            });
        }
    }
    let mut unsupported = Vec::new();

    let mut choice_lists: BTreeMap<String, Vec<Choice>> = BTreeMap::new();
    if let Some(ch) = &choices_sheet {
        for (row_no, row) in &ch.rows {
            let list = ch.get(row, "list_name").to_string();
            let name = ch.get(row, "name");
            match name.parse::<i64>() {
                Ok(code) if !list.is_empty() => {
                    choice_lists.entry(list).or_default().push(Choice {
                        code,
                        label: ch.text(row, "label"),
                    })
                }
                _ => unsupported.push(Unsupported {
                    sheet: "choices",
                    row: *row_no,
                    message: format!("choice {name:?} of list {list:?} is not a numeric code"),
                }),
            }
        }
    }

    let mut sections: Vec<Section> = Vec::new();
    let mut current: Option<Section> = None;
    let mut depth = 0usize;
    // An open table-list group that may become a grid: (item, list name).
    let mut table: Option<(Item, Option<String>)> = None;
    let mut loose: Vec<Item> = Vec::new();
    let push_item = |item: Item, current: &mut Option<Section>, loose: &mut Vec<Item>| match current
    {
        Some(s) => s.items.push(item),
        None => loose.push(item),
    };

    for (row_no, row) in &survey.rows {
        let row_no = *row_no;
        let ty = survey.get(row, "type").to_string();
        let name = survey.get(row, "name").to_string();
        let label = survey.text(row, "label");
        let mut words = ty.split_whitespace();
        let head = words.next().unwrap_or("").to_lowercase();
        let arg = words.next().map(str::to_string);
        let mut unsupported_row = |m: String| {
            unsupported.push(Unsupported {
                sheet: "survey",
                row: row_no,
                message: m,
            })
        };
        match head.as_str() {
            "begin_group" | "begin"
                if head == "begin_group" || ty.to_lowercase().starts_with("begin group") =>
            {
                depth += 1;
                let appearance = survey.get(row, "appearance").to_lowercase();
                if depth == 1 {
                    if let Some(s) = current.take() {
                        sections.push(s);
                    }
                    current = Some(Section {
                        id: name.clone(),
                        title: label.clone(),
                        items: vec![],
                    });
                    if appearance.contains("table-list") {
                        // A whole section that is one grid.
                        let mut g = blank_item(&name, Kind::Grid, label);
                        allow_specials(&survey, row, &mut g);
                        table = Some((g, None));
                    }
                } else if appearance.contains("table-list") && table.is_none() {
                    let mut g = blank_item(&name, Kind::Grid, label);
                    g.relevant =
                        Some(survey.get(row, "relevant").to_string()).filter(|s| !s.is_empty());
                    allow_specials(&survey, row, &mut g);
                    table = Some((g, None));
                } else {
                    unsupported_row(format!(
                        "nested group {name:?} is flattened into its section"
                    ));
                }
            }
            "end_group" | "end"
                if head == "end_group" || ty.to_lowercase().starts_with("end group") =>
            {
                if let Some((grid, list)) = table.take() {
                    let mut grid = grid;
                    grid.choices = list;
                    if let Some(codes) = grid.choices.as_ref().and_then(|l| choice_lists.get(l)) {
                        let n = codes.len() as i64;
                        if (n == 4 || n == 5) && codes.iter().map(|c| c.code).eq(1..=n) {
                            grid.scale = Some(n as u8);
                        }
                    }
                    push_item(grid, &mut current, &mut loose);
                }
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    if let Some(s) = current.take() {
                        sections.push(s);
                    }
                }
            }
            "select_one" | "select_multiple" | "integer" | "text" | "note" => {
                let kind = match head.as_str() {
                    "select_one" => Kind::Single,
                    "select_multiple" => Kind::Multiple,
                    "integer" => Kind::Integer,
                    "text" => Kind::Text,
                    _ => Kind::Note,
                };
                let relevant =
                    Some(survey.get(row, "relevant").to_string()).filter(|s| !s.is_empty());
                let constraint =
                    Some(survey.get(row, "constraint").to_string()).filter(|s| !s.is_empty());
                if let Some((grid, list)) = &mut table {
                    if kind == Kind::Note {
                        // A note inside a grid ("8 = không sử dụng") is kept, shown just before
                        // the grid: its rows are one item.
                        let mut note = blank_item(&name, Kind::Note, label);
                        note.relevant = relevant.or_else(|| grid.relevant.clone());
                        push_item(note, &mut current, &mut loose);
                        continue;
                    }
                    if kind == Kind::Single && (list.is_none() || list.as_deref() == arg.as_deref())
                    {
                        *list = arg.clone();
                        grid.required |= yes(survey.get(row, "required"));
                        if constraint.is_some() {
                            unsupported_row(format!(
                                "the constraint of grid row {name:?} is dropped (grids share one)"
                            ));
                        }
                        grid.rows.push(GridRow {
                            id: name,
                            number: String::new(),
                            label,
                            relevant,
                        });
                        continue;
                    }
                    unsupported_row(format!(
                        "{name:?} in table-list {:?} does not share its list; imported on its own",
                        grid.id
                    ));
                }
                let mut item = blank_item(&name, kind, label);
                item.required = yes(survey.get(row, "required"));
                allow_specials(&survey, row, &mut item);
                item.relevant = relevant;
                item.constraint_message =
                    Some(survey.text(row, "constraint_message")).filter(|t| !t.vi.is_empty());
                match kind {
                    Kind::Single | Kind::Multiple => {
                        item.choices = arg.clone();
                        if arg.is_none() {
                            unsupported_row(format!("{ty:?} names no choice list"));
                            continue;
                        }
                        if words
                            .next()
                            .is_some_and(|w| w.eq_ignore_ascii_case("or_other"))
                        {
                            unsupported_row("or_other is not supported; add an explicit \"other\" code and a text question".into());
                        }
                        item.constraint = constraint;
                    }
                    Kind::Integer => match constraint.as_deref().and_then(range_from_constraint) {
                        Some((min, max)) => (item.min, item.max) = (Some(min), Some(max)),
                        None => {
                            (item.min, item.max) = (Some(0), Some(1_000_000));
                            item.constraint = constraint;
                            unsupported_row(format!("integer {name:?} has no `. >= A and . <= B` constraint; range 0–1000000 assumed"));
                        }
                    },
                    Kind::Text => item.constraint = constraint,
                    _ => {}
                }
                push_item(item, &mut current, &mut loose);
            }
            "" => unsupported_row("a row without a type".into()),
            other
                if [
                    "start",
                    "end",
                    "today",
                    "deviceid",
                    "username",
                    "simserial",
                    "subscriberid",
                    "phonenumber",
                    "audit",
                ]
                .contains(&other) =>
            {
                unsupported_row(format!(
                    "metadata {other:?} is recorded by the device itself; row skipped"
                ))
            }
            _ => unsupported_row(format!("type {ty:?} is not supported")),
        }
    }
    if let Some(s) = current.take() {
        sections.push(s);
    }
    if !loose.is_empty() {
        sections.insert(
            0,
            Section {
                id: "main".into(),
                title: Text {
                    vi: "Câu hỏi".into(),
                    en: "Questions".into(),
                },
                items: loose,
            },
        );
    }

    let setting = |column: &str| {
        settings
            .as_ref()
            .and_then(|s| s.rows.first().map(|(_, r)| s.get(r, column).to_string()))
            .unwrap_or_default()
    };
    let id = Some(setting("form_id"))
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "imported".into());
    let title = Some(setting("form_title"))
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| id.clone());
    let version = setting("version")
        .chars()
        .filter(|c| c.is_ascii_digit())
        .collect::<String>()
        .parse::<u64>()
        .map(|v| (v % u32::MAX as u64) as u32)
        .unwrap_or(1);
    let code_setting = |column: &str, unsupported: &mut Vec<Unsupported>| {
        let text = setting(column);
        if text.is_empty() {
            return None;
        }
        let code = text.parse::<i64>().ok();
        if code.is_none() {
            unsupported.push(Unsupported {
                sheet: "settings",
                row: 2,
                message: format!("{column} {text:?} is not a numeric code"),
            });
        }
        code
    };
    let special_codes = SpecialCodes {
        not_applicable: code_setting("not_applicable_code", &mut unsupported),
        no_answer: code_setting("no_answer_code", &mut unsupported),
    };
    let index = match &index_sheet {
        Some(sheet) => index_rule(
            sheet,
            &setting("satisfied_codes"),
            &sections,
            &mut unsupported,
        ),
        None => None,
    };
    let definition = FormDefinition {
        schema: None,
        format: FORMAT.into(),
        id,
        version,
        title: Text {
            vi: title.clone(),
            en: title,
        },
        provenance: Some("imported from XLSForm".into()),
        special_codes,
        choice_lists,
        sections,
        index,
    };
    let form = Form::load(definition).map_err(XlsFormError::Invalid)?;
    Ok(Import { form, unsupported })
}

/// `allow_not_applicable` / `allow_no_answer` of a survey row.
fn allow_specials(survey: &Sheet, row: &[String], item: &mut Item) {
    item.allow_not_applicable = yes(survey.get(row, "allow_not_applicable"));
    item.allow_no_answer = yes(survey.get(row, "allow_no_answer"));
}

/// The index block from the `fieldpost_index` sheet (see the module's docs). A grid's name in
/// `items` stands for all of its rows. What cannot be read is listed; the loader then checks
/// the rule like any other (unknown items, empty criteria).
fn index_rule(
    sheet: &Sheet,
    satisfied: &str,
    sections: &[Section],
    unsupported: &mut Vec<Unsupported>,
) -> Option<IndexRule> {
    let grids: HashMap<&str, Vec<String>> = sections
        .iter()
        .flat_map(|s| &s.items)
        .filter(|i| i.kind == Kind::Grid)
        .map(|g| (g.id.as_str(), g.rows.iter().map(|r| r.id.clone()).collect()))
        .collect();
    let mut note = |row: usize, message: String| {
        unsupported.push(Unsupported {
            sheet: "fieldpost_index",
            row,
            message,
        })
    };
    let satisfied_codes: Vec<i64> = satisfied
        .split_whitespace()
        .filter_map(|c| c.parse().ok())
        .collect();
    if satisfied_codes.is_empty() {
        note(
            1,
            "settings has no satisfied_codes (e.g. \"4 5\"); the index is left out".into(),
        );
        return None;
    }
    let mut parts: Vec<(Part, bool)> = Vec::new();
    let mut criteria = Vec::new();
    let mut memberships: Vec<(usize, String, String)> = Vec::new();
    for (row_no, row) in &sheet.rows {
        let name = sheet.get(row, "name").to_string();
        let label = sheet.text(row, "label");
        match sheet.get(row, "type").to_lowercase().as_str() {
            "part" => {
                let overall = sheet.get(row, "overall");
                parts.push((
                    Part {
                        id: name,
                        label,
                        criteria: vec![],
                    },
                    overall.is_empty() || yes(overall),
                ))
            }
            "criterion" => {
                let items = sheet
                    .get(row, "items")
                    .split_whitespace()
                    .flat_map(|n| grids.get(n).cloned().unwrap_or_else(|| vec![n.to_string()]))
                    .collect();
                memberships.push((*row_no, name.clone(), sheet.get(row, "part").to_string()));
                criteria.push(Criterion {
                    id: name,
                    label,
                    items,
                });
            }
            other => note(
                *row_no,
                format!("type {other:?} is neither part nor criterion"),
            ),
        }
    }
    for (row_no, criterion, part) in memberships {
        match parts.iter_mut().find(|(p, _)| p.id == part) {
            Some((p, _)) => p.criteria.push(criterion),
            None => note(
                row_no,
                format!("criterion {criterion:?} names no known part ({part:?})"),
            ),
        }
    }
    let overall = parts
        .iter()
        .filter(|(_, counts)| *counts)
        .map(|(p, _)| p.id.clone())
        .collect();
    Some(IndexRule {
        satisfied_codes,
        criteria,
        parts: parts.into_iter().map(|(p, _)| p).collect(),
        overall,
    })
}
