//! What the screens show, built from `field-client` and `forms` without Tauri, so it tests
//! on its own: the tablet's overview behind Set-up/Today/Sync (every campaign it carries, each
//! apart), and the keying sheet the transcription screen is generated from.

use field_client::{Campaigns, Client, ClientError, Progress, Today};
use forms::{definition::Text, load::Accepts, Form};
use serde::Serialize;
use std::collections::HashMap;
use sync_protocol::assignment::Timeline;

#[derive(Debug, Serialize)]
pub struct VillageView {
    pub id: String,
    pub name: String,
    pub commune: String,
    pub district: String,
}

/// Everything the Set-up, Today and Sync screens need in one call: each campaign the tablet
/// carries, and what waits to be sent of all of them.
#[derive(Debug, Serialize)]
pub struct Tablet {
    pub enrolled: bool,
    pub campaigns: Vec<Overview>,
    pub pending: Progress,
    /// Refused work no supervisor has decided on yet, in every campaign.
    pub rejected: usize,
    /// When an intake last answered this tablet (RFC 3339), if ever.
    pub last_contact: Option<String>,
}

pub fn tablet(all: &Campaigns) -> Result<Tablet, ClientError> {
    let campaigns = all.clients().map(overview).collect::<Result<Vec<_>, _>>()?;
    let mut pending = Progress::default();
    for c in &campaigns {
        pending.events_sent += c.pending.events_sent;
        pending.events_total += c.pending.events_total;
        pending.bytes_sent += c.pending.bytes_sent;
        pending.bytes_total += c.pending.bytes_total;
    }
    Ok(Tablet {
        enrolled: !campaigns.is_empty(),
        rejected: campaigns.iter().map(|c| c.rejected).sum(),
        last_contact: campaigns
            .iter()
            .filter_map(|c| c.last_contact.clone())
            .max(),
        pending,
        campaigns,
    })
}

/// One campaign as the screens show it.
#[derive(Debug, Serialize)]
pub struct Overview {
    /// The campaign's id (what the app's commands name it by).
    pub id: String,
    pub enrolled: bool,
    pub enumerator: Option<String>,
    pub enumerator_name: Option<String>,
    pub campaign: Option<String>,
    /// The campaign's time zone: the screens show every time in it.
    pub timezone: Option<String>,
    pub intake_url: Option<String>,
    pub verification_required: bool,
    pub replacement_allowed: bool,
    pub timeline: Option<Timeline>,
    pub villages: Vec<VillageView>,
    /// Today in the campaign's time zone, `YYYY-MM-DD`.
    pub date: Option<String>,
    pub today: Option<Today>,
    pub pending: Progress,
    /// Refused work no supervisor has decided on yet.
    pub rejected: usize,
    /// Households reassigned to someone else, still shown with where their paper is.
    pub moved_away: Vec<field_client::Household>,
    /// Villages no longer assigned whose households are still shown, by name.
    pub former_villages: Vec<VillageView>,
    /// When the intake last answered this device (RFC 3339), if ever.
    pub last_contact: Option<String>,
}

pub fn overview(client: &Client) -> Result<Overview, ClientError> {
    let pending = client.pending()?;
    let last_contact = client.last_contact()?;
    let id = client.enrollment()?.campaign;
    let Ok(assignment) = client.assignment() else {
        let enrollment = client.enrollment().ok();
        return Ok(Overview {
            id,
            enrolled: enrollment.is_some(),
            enumerator: enrollment.as_ref().map(|e| e.enumerator.clone()),
            enumerator_name: None,
            campaign: None,
            timezone: None,
            intake_url: enrollment.map(|e| e.intake_url),
            verification_required: false,
            replacement_allowed: false,
            timeline: None,
            villages: vec![],
            date: None,
            today: None,
            pending,
            rejected: 0,
            moved_away: vec![],
            former_villages: vec![],
            last_contact,
        });
    };
    let tz: chrono_tz::Tz = assignment
        .campaign
        .timezone
        .parse()
        .unwrap_or(chrono_tz::Asia::Ho_Chi_Minh);
    let day = chrono::Utc::now().with_timezone(&tz).date_naive();
    Ok(Overview {
        id,
        enrolled: true,
        enumerator: Some(assignment.enumerator.id.clone()),
        enumerator_name: Some(assignment.enumerator.name.clone()),
        campaign: Some(assignment.campaign.name.clone()),
        timezone: Some(assignment.campaign.timezone.clone()),
        intake_url: Some(client.enrollment()?.intake_url),
        verification_required: assignment.campaign.verification_required,
        replacement_allowed: assignment.campaign.replacement_allowed,
        timeline: Some(assignment.campaign.timeline),
        villages: assignment
            .villages
            .iter()
            .map(|v| VillageView {
                id: v.id.clone(),
                name: v.name.clone(),
                commune: v.commune.name.clone(),
                district: v.district.name.clone(),
            })
            .collect(),
        date: Some(day.to_string()),
        today: Some(client.today(day)?),
        pending,
        rejected: client.unresolved_rejections()?,
        former_villages: {
            let mut ids: Vec<String> = client
                .households()?
                .into_iter()
                .filter(|h| !h.assigned && !assignment.villages.iter().any(|v| v.id == h.village))
                .map(|h| h.village)
                .collect();
            ids.dedup();
            let mut former = Vec::new();
            for id in ids {
                if let Some((name, commune, district)) = client.village(&id)? {
                    former.push(VillageView {
                        id,
                        name,
                        commune,
                        district,
                    });
                }
            }
            former
        },
        moved_away: client
            .households()?
            .into_iter()
            .filter(|h| !h.assigned)
            .collect(),
        last_contact,
    })
}

#[derive(Clone, Debug, Serialize)]
pub struct ChoiceView {
    pub code: i64,
    pub label: Text,
}

/// One question as the transcription screen lays it out: in the paper's order and numbering,
/// with everything needed to key it from the keyboard.
#[derive(Clone, Debug, Serialize)]
pub struct SheetQuestion {
    pub id: String,
    pub number: String,
    pub label: Text,
    pub section: Text,
    /// The grid's own label, for a grid row.
    pub group: Option<Text>,
    /// `code`, `codes`, `integer` or `text`.
    pub kind: &'static str,
    pub choices: Vec<ChoiceView>,
    /// The special codes this question takes ("not applicable", "no answer").
    pub special: Vec<ChoiceView>,
    pub min: Option<i64>,
    pub max: Option<i64>,
    pub max_length: Option<usize>,
    pub required: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct KeyingSheet {
    pub form: String,
    pub title: Text,
    pub questions: Vec<SheetQuestion>,
}

pub fn keying_sheet(form: &Form) -> KeyingSheet {
    let d = &form.definition;
    let group_labels: HashMap<&str, &Text> = d
        .sections
        .iter()
        .flat_map(|s| s.items.iter())
        .map(|i| (i.id.as_str(), &i.label))
        .collect();
    let labels_for = |list: &Option<String>| -> HashMap<i64, Text> {
        list.as_ref()
            .and_then(|name| d.choice_lists.get(name))
            .map(|l| l.iter().map(|c| (c.code, c.label.clone())).collect())
            .unwrap_or_default()
    };
    let special_label = |code: i64| {
        if Some(code) == d.special_codes.not_applicable {
            Text {
                vi: "Không áp dụng".into(),
                en: "Not applicable".into(),
            }
        } else {
            Text {
                vi: "Không trả lời".into(),
                en: "No answer".into(),
            }
        }
    };
    let questions = form
        .questions
        .iter()
        .map(|q| {
            let labels = labels_for(&q.choices);
            let choice = |code: &i64| ChoiceView {
                code: *code,
                label: labels.get(code).cloned().unwrap_or_else(|| Text {
                    vi: code.to_string(),
                    en: code.to_string(),
                }),
            };
            let (kind, choices, min, max, max_length) = match &q.accepts {
                Accepts::Code(codes) => {
                    ("code", codes.iter().map(choice).collect(), None, None, None)
                }
                Accepts::Codes(codes) => (
                    "codes",
                    codes.iter().map(choice).collect(),
                    None,
                    None,
                    None,
                ),
                Accepts::Integer { min, max } => ("integer", vec![], Some(*min), Some(*max), None),
                Accepts::Text { max_length } => ("text", vec![], None, None, Some(*max_length)),
            };
            SheetQuestion {
                id: q.id.clone(),
                number: q.number.clone(),
                label: q.label.clone(),
                section: d.sections[q.section].title.clone(),
                group: q
                    .grid
                    .as_deref()
                    .and_then(|g| group_labels.get(g))
                    .map(|t| (*t).clone()),
                kind,
                choices,
                special: [q.not_applicable, q.no_answer]
                    .into_iter()
                    .flatten()
                    .map(|code| ChoiceView {
                        code,
                        label: special_label(code),
                    })
                    .collect(),
                min,
                max,
                max_length,
                required: q.required,
            }
        })
        .collect();
    KeyingSheet {
        form: form.reference(),
        title: d.title.clone(),
        questions,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sipas_sheet_keeps_the_papers_order_numbers_and_labels() {
        let sheet = keying_sheet(&intake::demo::sipas_2024());
        assert_eq!(sheet.questions.len(), 81);
        assert_eq!(sheet.questions[0].number, "A1");
        assert_eq!(sheet.questions[0].choices[1].label.vi, "Nữ");
        let row = sheet.questions.iter().find(|q| q.id == "q9_e1").unwrap();
        assert_eq!(
            row.group.as_ref().unwrap().en,
            "Satisfaction with administrative services (if you carried out a procedure)"
        );
        assert_eq!(row.choices.len(), 5);
        assert!(row
            .special
            .iter()
            .any(|c| c.code == 8 && c.label.vi == "Không áp dụng"));
        assert!(
            sheet.questions.iter().any(|q| q.kind == "codes")
                && sheet.questions.iter().any(|q| q.kind == "text")
        );
    }
}
