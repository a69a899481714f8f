//! What a campaign publishes: its index for the public, at the levels its owner chose, with no
//! area below a minimum number of forms (a small area's figure says too much about too few
//! households, and too little about the area), and nothing withheld that arithmetic on what is
//! shown would give back. Pure: the figures are cut from a computed index and the campaign's
//! sampled areas; the store keeps them, so the public page needs no key and no account.
//!
//! **Disclosure control** (docs/statistics.md): the numbers of forms add up the hierarchy
//! (a commune's forms are its villages', a district's its communes'), so each parent with its
//! children is an equation, and a withheld area whose equation has no other unknown is given
//! away by subtraction (a district of 19 forms with one published commune of 10 gives away the
//! other commune's 9, and its index within a point). [`figures`] withholds, besides every area
//! under the minimum, every village (never published) and every area whose forms all come from
//! one village, whatever else is needed so that no such area can be derived: it repeats
//! "solve every equation with one unknown" (which, on a hierarchy, finds everything linear
//! algebra would) and, while a sensitive area falls out, withholds the smallest published area
//! of the equation that gave it away (complementary suppression). Areas with no forms count as
//! known zeros, as an attacker would take them.

use forms::index::{IndexReport, Level};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// The least forms an area may have to be published, whatever its owner sets.
pub const MIN_FORMS_FLOOR: u64 = 5;

/// Of an area's sampled areas one level down, how many have forms.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Coverage {
    /// `district`, `commune` or `village`.
    pub level: String,
    pub with_forms: u32,
    pub sampled: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PublishedArea {
    /// `province`, `district` or `commune`.
    pub level: String,
    /// The area's code in the campaign: names repeat across districts.
    #[serde(default)]
    pub code: String,
    pub name: String,
    /// The parent's name, for a reader telling two «Phường 2» apart.
    #[serde(default)]
    pub parent: Option<String>,
    pub forms: u64,
    /// The index in per cent, with its 95 % interval.
    pub value: Option<f64>,
    pub low: Option<f64>,
    pub high: Option<f64>,
    /// Every level beneath, down to villages: how many sampled areas have forms.
    #[serde(default)]
    pub coverage: Vec<Coverage>,
    /// The level just beneath has fewer areas with forms than the owner's threshold.
    #[serde(default)]
    pub low_coverage: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Published {
    pub campaign: String,
    /// The finest level published.
    pub level: String,
    pub min_forms: u64,
    /// The minimum the owner asked for, when it was below [`MIN_FORMS_FLOOR`].
    #[serde(default)]
    pub min_forms_asked: Option<u64>,
    /// The share of sampled areas one level down that must have forms (per cent).
    #[serde(default)]
    pub min_coverage_percent: u32,
    /// How the figures are computed, written from the form's index rule when published.
    #[serde(default)]
    pub method: String,
    pub areas: Vec<PublishedArea>,
    /// Areas of the published levels not shown: under the minimum, with no forms, or withheld
    /// so that no other could be derived.
    pub suppressed: usize,
    /// Of those, withheld only to protect another (complementary suppression).
    #[serde(default)]
    pub withheld_to_protect: usize,
}

/// How the published figure is computed, in plain Vietnamese, from the form's own index rule:
/// which answers count as satisfied in each part, which parts make the overall index and which
/// are shown apart.
pub fn method_text(form: &forms::Form) -> String {
    let Some(rule) = &form.definition.index else {
        return String::new();
    };
    // The labels of the satisfied codes in the list of a part's first item.
    let satisfied_words = |part: &forms::definition::Part| -> String {
        let item = part
            .criteria
            .iter()
            .filter_map(|c| rule.criteria.iter().find(|x| &x.id == c))
            .flat_map(|c| c.items.iter())
            .find_map(|id| form.question(id));
        let labels: Vec<String> = item
            .and_then(|q| q.choices.as_ref())
            .and_then(|list| form.definition.choice_lists.get(list))
            .map(|choices| {
                rule.satisfied_codes
                    .iter()
                    .filter_map(|code| choices.iter().find(|c| c.code == *code))
                    .map(|c| format!("«{}»", c.label.vi))
                    .collect()
            })
            .unwrap_or_default();
        if labels.is_empty() {
            format!(
                "mã {}",
                rule.satisfied_codes
                    .iter()
                    .map(|c| c.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        } else {
            labels.join(" hoặc ")
        }
    };
    let mut text = String::from(
        "Mỗi câu hỏi được tính bằng tỷ lệ phần trăm câu trả lời đạt yêu cầu trên các câu trả lời hợp lệ \
         (không tính câu bỏ trống, không đọc được, \"không áp dụng\", \"không trả lời\" và câu không áp dụng với người trả lời); \
         mỗi tiêu chí là trung bình các câu hỏi của nó, mỗi phần là trung bình các tiêu chí. ",
    );
    for part in &rule.parts {
        text.push_str(&format!(
            "Phần «{}»: câu trả lời {} được tính là đạt. ",
            part.label.vi,
            satisfied_words(part)
        ));
    }
    let label = |id: &String| {
        rule.parts
            .iter()
            .find(|p| &p.id == id)
            .map(|p| format!("«{}»", p.label.vi))
            .unwrap_or_else(|| id.clone())
    };
    let inside: Vec<String> = rule.overall.iter().map(label).collect();
    let outside: Vec<String> = rule
        .parts
        .iter()
        .filter(|p| !rule.overall.contains(&p.id))
        .map(|p| format!("«{}»", p.label.vi))
        .collect();
    text.push_str(&format!(
        "Chỉ số chung là trung bình của {} {}. ",
        if inside.len() == 1 {
            "phần"
        } else {
            "các phần"
        },
        inside.join(", ")
    ));
    if !outside.is_empty() {
        text.push_str(&format!(
            "{} không tính vào chỉ số chung. ",
            outside.join(", ")
        ));
    }
    text.push_str(INTERVAL_AND_MINIMUM);
    text
}

/// What every published method says of the interval and of what is withheld (docs/statistics.md:
/// the estimator and its interval; disclosure control).
pub const INTERVAL_AND_MINIMUM: &str = "Khoảng tin cậy 95 % cho biết chỉ số thật của địa bàn có thể nằm trong khoảng nào, do chỉ khảo sát một mẫu hộ gia đình; \
     đó là khoảng Wilson tính theo cỡ mẫu hiệu dụng của địa bàn (trung bình số câu trả lời hợp lệ của các tiêu chí), coi các hộ như \
     một mẫu ngẫu nhiên đơn giản, nên chỉ là khoảng gần đúng và hẹp hơn khoảng thật khi hộ được chọn theo từng thôn. \
     «Số phiếu» là mọi phiếu đã mở của địa bàn; mức tối thiểu để công bố tính theo số phiếu có ít nhất một câu trả lời được tính. \
     Địa bàn có ít phiếu hơn mức tối thiểu, và địa bàn mà từ số liệu của nó có thể suy ra địa bàn nhỏ, không được công bố, \
     để số liệu đủ tin cậy và không làm lộ ý kiến của từng hộ.";

/// The campaign's sampled areas: each (level, id) with its parent's id (none for a province).
#[derive(Clone, Debug, Default)]
pub struct Sample {
    pub areas: Vec<(Level, String, Option<String>)>,
}

fn level_name(level: Level) -> &'static str {
    match level {
        Level::Province => "province",
        Level::District => "district",
        Level::Commune => "commune",
        Level::Village => "village",
    }
}

/// Parses a level as a form posts it. Villages are never published: a village's sample is a
/// handful of known households, whose answers its figure would all but name.
pub fn parse_level(s: &str) -> Option<Level> {
    [Level::Province, Level::District, Level::Commune]
        .into_iter()
        .find(|l| level_name(*l) == s)
}

type Cell = (Level, String);

/// The hierarchy as equations: each area with children is one, parent = sum of children.
struct Tree {
    parent: HashMap<Cell, Cell>,
    children: BTreeMap<Cell, Vec<Cell>>,
    forms: HashMap<Cell, u64>,
    /// The sheets that count in each area's figure (a sheet of "no answer" codes does not).
    counted: HashMap<Cell, u64>,
}

impl Tree {
    fn new(sample: &Sample, report: &IndexReport) -> Tree {
        let mut parent = HashMap::new();
        let mut children: BTreeMap<Cell, Vec<Cell>> = BTreeMap::new();
        let mut forms = HashMap::new();
        let mut counted = HashMap::new();
        let up = |l: Level| match l {
            Level::Village => Some(Level::Commune),
            Level::Commune => Some(Level::District),
            Level::District => Some(Level::Province),
            Level::Province => None,
        };
        for (level, id, p) in &sample.areas {
            let cell = (*level, id.clone());
            let area = report.areas.get(level).and_then(|m| m.get(id));
            forms.insert(cell.clone(), area.map_or(0, |a| a.forms));
            counted.insert(cell.clone(), area.map_or(0, |a| a.counted_forms));
            if let (Some(p), Some(pl)) = (p, up(*level)) {
                let pc = (pl, p.clone());
                parent.insert(cell.clone(), pc.clone());
                children.entry(pc).or_default().push(cell);
            }
        }
        Tree {
            parent,
            children,
            forms,
            counted,
        }
    }

    fn forms(&self, c: &Cell) -> u64 {
        self.forms.get(c).copied().unwrap_or(0)
    }

    fn counted(&self, c: &Cell) -> u64 {
        self.counted.get(c).copied().unwrap_or(0)
    }

    /// Every cell the shown ones give away by subtraction, each with the equation (parent)
    /// that gave it.
    fn derivable(&self, shown: &BTreeSet<Cell>) -> Vec<(Cell, Cell)> {
        let mut known: BTreeSet<Cell> = shown.clone();
        known.extend(
            self.forms
                .iter()
                .filter(|(_, n)| **n == 0)
                .map(|(c, _)| c.clone()),
        );
        let mut found = Vec::new();
        loop {
            let mut progress = false;
            for (p, kids) in &self.children {
                let unknown: Vec<&Cell> = std::iter::once(p)
                    .chain(kids.iter())
                    .filter(|c| !known.contains(*c))
                    .collect();
                if let [one] = unknown[..] {
                    let one = one.clone();
                    known.insert(one.clone());
                    if !shown.contains(&one) {
                        found.push((one, p.clone()));
                    }
                    progress = true;
                }
            }
            if !progress {
                return found;
            }
        }
    }
}

/// The figures to publish: every level from the province down to `finest`, each area with
/// at least `min_forms` forms (never fewer than [`MIN_FORMS_FLOOR`]), none that equals a
/// village's, and none that lets a withheld area be derived; each with its coverage, marked
/// where fewer than `min_coverage_percent` of the areas beneath have forms.
pub fn figures(
    campaign: &str,
    report: &IndexReport,
    finest: Level,
    min_forms: u64,
    min_coverage_percent: u32,
    names: &HashMap<String, String>,
    sample: &Sample,
) -> Published {
    let min_forms_asked = (min_forms < MIN_FORMS_FLOOR).then_some(min_forms);
    let min_forms = min_forms.max(MIN_FORMS_FLOOR);
    let tree = Tree::new(sample, report);
    let levels: Vec<Level> = [Level::Province, Level::District, Level::Commune]
        .into_iter()
        .filter(|l| *l >= finest)
        .collect();
    // An area whose counted sheets all come from one area beneath is that area: down to a
    // village, it is a village's figure (sheets that count for nothing change no figure).
    let is_a_village = |c: &Cell| {
        let mut at = c.clone();
        loop {
            if at.0 == Level::Village {
                return true;
            }
            let with_forms: Vec<&Cell> = tree
                .children
                .get(&at)
                .into_iter()
                .flatten()
                .filter(|k| tree.counted(k) > 0)
                .collect();
            match with_forms[..] {
                [only] => at = only.clone(),
                _ => return false,
            }
        }
    };
    // Sensitive: what must never be derived. The minimum is on the sheets the figure rests on.
    let sensitive = |c: &Cell| {
        let n = tree.counted(c);
        tree.forms(c) > 0 && (c.0 == Level::Village || n < min_forms || is_a_village(c))
    };
    let mut shown: BTreeSet<Cell> = tree
        .forms
        .keys()
        .filter(|c| levels.contains(&c.0) && tree.forms(c) > 0 && !sensitive(c))
        .cloned()
        .collect();
    let first_choice = shown.len();
    loop {
        let leaks: Vec<(Cell, Cell)> = tree
            .derivable(&shown)
            .into_iter()
            .filter(|(c, _)| sensitive(c))
            .collect();
        let Some((_, equation)) = leaks.first() else {
            break;
        };
        // Withhold the smallest shown area of that equation (a sibling before the parent);
        // if it has none, the smallest shown area anywhere (the loop ends: fewer every time).
        let members: Vec<Cell> = tree.children[equation]
            .iter()
            .chain(std::iter::once(equation))
            .filter(|c| shown.contains(*c))
            .cloned()
            .collect();
        let pick = members
            .iter()
            .min_by_key(|c| (*c == equation, tree.forms(c), (*c).clone()))
            .cloned()
            .or_else(|| shown.iter().min_by_key(|c| tree.forms(c)).cloned());
        match pick {
            Some(c) => {
                shown.remove(&c);
            }
            None => break,
        }
    }
    let withheld_to_protect = first_choice - shown.len();
    let mut areas = Vec::new();
    let mut suppressed = 0;
    for level in &levels {
        let mut cells: Vec<&Cell> = tree.forms.keys().filter(|c| c.0 == *level).collect();
        cells.sort();
        for cell in cells {
            if !shown.contains(cell) {
                suppressed += 1;
                continue;
            }
            let Some(a) = report.areas.get(level).and_then(|m| m.get(&cell.1)) else {
                suppressed += 1;
                continue;
            };
            let pct = |x: Option<f64>| x.map(|v| (v * 1000.0).round() / 10.0);
            let coverage = coverage(&tree, cell);
            let low_coverage = coverage.first().is_some_and(|c| {
                u64::from(c.with_forms) * 100
                    < u64::from(c.sampled) * u64::from(min_coverage_percent)
            });
            let name = |id: &str| names.get(id).cloned().unwrap_or_else(|| id.to_string());
            areas.push(PublishedArea {
                level: level_name(*level).into(),
                code: cell.1.clone(),
                name: name(&cell.1),
                parent: tree.parent.get(cell).map(|p| name(&p.1)),
                forms: a.forms,
                // Rounded once from the exact fraction: 27/80 is 33.8, not a float's 33.7.
                value: a.overall.rounded(3).map(|units| units as f64 / 10.0),
                low: pct(a.overall.low),
                high: pct(a.overall.high),
                coverage,
                low_coverage,
            });
        }
    }
    Published {
        campaign: campaign.into(),
        level: level_name(finest).into(),
        min_forms,
        min_forms_asked,
        min_coverage_percent,
        method: String::new(),
        areas,
        suppressed,
        withheld_to_protect,
    }
}

/// For each level beneath `cell` down to villages: sampled areas, and those with forms.
fn coverage(tree: &Tree, cell: &Cell) -> Vec<Coverage> {
    let mut out = Vec::new();
    let mut layer: Vec<Cell> = vec![cell.clone()];
    loop {
        let below: Vec<Cell> = layer
            .iter()
            .flat_map(|c| tree.children.get(c).into_iter().flatten().cloned())
            .collect();
        let Some(first) = below.first() else {
            return out;
        };
        out.push(Coverage {
            level: level_name(first.0).into(),
            with_forms: below.iter().filter(|c| tree.forms(c) > 0).count() as u32,
            sampled: below.len() as u32,
        });
        layer = below;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use forms::index::{AreaIndex, Share};

    fn area(forms: u64, value: f64) -> AreaIndex {
        let s = Share {
            value: Some(value),
            n: forms,
            effective_n: forms as f64,
            low: Some(value - 0.1),
            high: Some(value + 0.1),
            rounded: None,
        };
        AreaIndex {
            forms,
            counted_forms: forms,
            overall: s,
            parts: BTreeMap::new(),
            criteria: BTreeMap::new(),
            items: BTreeMap::new(),
        }
    }

    /// (level, id, parent, forms) → the report and the sample.
    fn campaign(rows: &[(Level, &str, Option<&str>, u64)]) -> (IndexReport, Sample) {
        let mut areas: BTreeMap<Level, BTreeMap<String, AreaIndex>> = BTreeMap::new();
        let mut sample = Sample::default();
        for (level, id, parent, forms) in rows {
            if *forms > 0 {
                areas
                    .entry(*level)
                    .or_default()
                    .insert(id.to_string(), area(*forms, 0.5));
            }
            sample
                .areas
                .push((*level, id.to_string(), parent.map(String::from)));
        }
        let national = area(0, 0.5);
        (IndexReport { areas, national }, sample)
    }

    fn shown(p: &Published) -> Vec<&str> {
        p.areas.iter().map(|a| a.code.as_str()).collect()
    }

    #[test]
    fn small_areas_stay_out_and_so_does_whatever_would_give_them_away() {
        use Level::*;
        // The outside pass's case: a district of 19 forms, one commune of 10 published, the
        // other of 9 withheld — published as it was, 19 − 10 gave the 9 away.
        let (report, sample) = campaign(&[
            (Province, "qt", None, 120),
            (District, "dh", Some("qt"), 101),
            (District, "gl", Some("qt"), 19),
            (Commune, "dh-a", Some("dh"), 50),
            (Commune, "dh-b", Some("dh"), 51),
            (Commune, "gl-a", Some("gl"), 10),
            (Commune, "gl-b", Some("gl"), 9),
            (Village, "dh-a-1", Some("dh-a"), 25),
            (Village, "dh-a-2", Some("dh-a"), 25),
            (Village, "dh-b-1", Some("dh-b"), 26),
            (Village, "dh-b-2", Some("dh-b"), 25),
            (Village, "gl-a-1", Some("gl-a"), 5),
            (Village, "gl-a-2", Some("gl-a"), 5),
            (Village, "gl-b-1", Some("gl-b"), 4),
            (Village, "gl-b-2", Some("gl-b"), 5),
        ]);
        let names = HashMap::new();
        let p = figures("qt", &report, Commune, 10, 0, &names, &sample);
        assert!(!shown(&p).contains(&"gl-b"));
        assert!(
            !(shown(&p).contains(&"gl") && shown(&p).contains(&"gl-a")),
            "{:?}",
            shown(&p)
        );
        assert!(p.withheld_to_protect >= 1);
        // Nothing withheld falls out of the shown figures by subtraction.
        let tree = Tree::new(&sample, &report);
        let shown: BTreeSet<Cell> = p
            .areas
            .iter()
            .map(|a| (parse_level(&a.level).unwrap(), a.code.clone()))
            .collect();
        assert!(tree
            .derivable(&shown)
            .iter()
            .all(|(c, _)| c.0 != Village && tree.forms(c) >= 10));
    }

    /// The outside audit's case: a second village whose only sheet counts for nothing (all "no
    /// answer") made a one-village commune publishable, with the village's own figure.
    #[test]
    fn sheets_that_count_for_nothing_do_not_hide_a_village() {
        use Level::*;
        let (mut report, sample) = campaign(&[
            (Province, "p", None, 7),
            (District, "d", Some("p"), 7),
            (Commune, "c", Some("d"), 7),
            (Village, "v1", Some("c"), 6),
            (Village, "v2", Some("c"), 1),
        ]);
        for level in [Province, District, Commune] {
            for a in report.areas.get_mut(&level).unwrap().values_mut() {
                a.counted_forms = 6;
            }
        }
        report
            .areas
            .get_mut(&Village)
            .unwrap()
            .get_mut("v2")
            .unwrap()
            .counted_forms = 0;
        let p = figures("x", &report, Commune, 5, 0, &HashMap::new(), &sample);
        assert!(
            shown(&p).is_empty(),
            "every level is village v1: {:?}",
            shown(&p)
        );
    }

    #[test]
    fn an_area_made_of_one_village_is_that_village() {
        use Level::*;
        let (report, sample) = campaign(&[
            (Province, "p", None, 60),
            (District, "d", Some("p"), 60),
            (Commune, "c1", Some("d"), 30),
            (Commune, "c2", Some("d"), 30),
            (Village, "v1", Some("c1"), 30),
            (Village, "v2", Some("c2"), 20),
            (Village, "v3", Some("c2"), 10),
        ]);
        let p = figures("x", &report, Commune, 5, 0, &HashMap::new(), &sample);
        assert!(
            !shown(&p).contains(&"c1"),
            "c1 is village v1: {:?}",
            shown(&p)
        );
        assert!(
            !shown(&p).contains(&"c2") || !shown(&p).contains(&"d"),
            "else c1 = d − c2: {:?}",
            shown(&p)
        );
    }

    #[test]
    fn coverage_counts_empty_areas_and_marks_a_thin_province() {
        use Level::*;
        // The province's figure comes from one district of three.
        let (report, sample) = campaign(&[
            (Province, "qt", None, 23),
            (District, "d1", Some("qt"), 23),
            (District, "d2", Some("qt"), 0),
            (District, "d3", Some("qt"), 0),
            (Commune, "c1", Some("d1"), 12),
            (Commune, "c2", Some("d1"), 11),
            (Commune, "c3", Some("d2"), 0),
            (Commune, "c4", Some("d3"), 0),
            (Village, "v1", Some("c1"), 12),
            (Village, "v2", Some("c2"), 11),
            (Village, "v3", Some("c3"), 0),
            (Village, "v4", Some("c4"), 0),
        ]);
        let p = figures("qt", &report, District, 5, 50, &HashMap::new(), &sample);
        let qt = p.areas.iter().find(|a| a.code == "qt").unwrap();
        assert_eq!(
            qt.coverage[0],
            Coverage {
                level: "district".into(),
                with_forms: 1,
                sampled: 3
            }
        );
        assert!(qt.low_coverage);
        assert_eq!(p.suppressed, 2, "d2 and d3 have no forms: {:?}", shown(&p));
        assert_eq!(
            figures("x", &report, District, 1, 0, &HashMap::new(), &sample).min_forms_asked,
            Some(1),
            "the owner is told their minimum was raised"
        );
        assert_eq!(parse_level("district"), Some(Level::District));
        assert_eq!(parse_level("village"), None, "villages are not published");
    }

    /// An attacker's checker, written apart from [`Tree`]: from the published table and the
    /// sampled hierarchy, solve every "parent = sum of children" with one unknown, again and
    /// again; report every area so derived that has forms and is a village or under the
    /// minimum.
    fn derived_by_subtraction(
        p: &Published,
        rows: &[(Level, String, Option<String>, u64)],
    ) -> Vec<String> {
        let mut known: HashMap<String, u64> =
            p.areas.iter().map(|a| (a.code.clone(), a.forms)).collect();
        // An attacker may also take every area with no forms as known (zero).
        for (_, id, _, n) in rows {
            if *n == 0 {
                known.insert(id.clone(), 0);
            }
        }
        let mut found = Vec::new();
        loop {
            let mut progress = false;
            for (_, parent, _, _) in rows {
                let kids: Vec<&String> = rows
                    .iter()
                    .filter(|r| r.2.as_ref() == Some(parent))
                    .map(|r| &r.1)
                    .collect();
                if kids.is_empty() {
                    continue;
                }
                let unknown: Vec<&String> = std::iter::once(parent)
                    .chain(kids.iter().copied())
                    .filter(|c| !known.contains_key(*c))
                    .collect();
                if unknown.len() == 1 {
                    let sum: u64 = kids.iter().filter_map(|k| known.get(*k)).sum();
                    let value = if unknown[0] == parent {
                        sum
                    } else {
                        known[parent] - sum
                    };
                    known.insert(unknown[0].clone(), value);
                    found.push(unknown[0].clone());
                    progress = true;
                }
            }
            if !progress {
                break;
            }
        }
        found
            .into_iter()
            .filter(|id| {
                let (level, n) = rows
                    .iter()
                    .find(|r| &r.1 == id)
                    .map(|r| (r.0, r.3))
                    .unwrap();
                n > 0 && (level == Level::Village || n < p.min_forms)
            })
            .collect()
    }

    #[test]
    fn the_method_is_written_from_the_forms_own_index_rule() {
        let sipas = method_text(&crate::demo::sipas_2024());
        assert!(!sipas.contains("không tính vào chỉ số chung"), "{sipas}");
        assert!(sipas.contains("«Hài lòng» hoặc «Rất hài lòng»"), "{sipas}");
        // How the interval is made, and what the minimum counts, as statistics.md says.
        assert!(
            sipas.contains("khoảng Wilson tính theo cỡ mẫu hiệu dụng")
                && sipas.contains("số phiếu có ít nhất một câu trả lời được tính"),
            "{sipas}"
        );
        let stored = crate::demo::binh_duong_form();
        let bd = forms::Form::from_json(std::str::from_utf8(&stored.definition).unwrap()).unwrap();
        let text = method_text(&bd);
        let rule = bd.definition.index.as_ref().unwrap();
        let outside: Vec<&forms::definition::Part> = rule
            .parts
            .iter()
            .filter(|p| !rule.overall.contains(&p.id))
            .collect();
        assert_eq!(outside.len(), 1, "the needs group stands apart");
        assert!(
            text.contains(&format!(
                "«{}» không tính vào chỉ số chung",
                outside[0].label.vi
            )),
            "{text}"
        );
        for part in &rule.parts {
            assert!(
                text.contains(&format!("Phần «{}»", part.label.vi)),
                "{text}"
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn no_withheld_area_of_a_random_campaign_can_be_derived(
            shape in proptest::collection::vec(
                proptest::collection::vec(proptest::collection::vec(0u64..20, 1..4), 1..4),
                1..4,
            ),
            min in 1u64..15,
            finest in 0usize..3,
        ) {
            use Level::*;
            // shape[d][c][v]: forms of village v of commune c of district d of one province.
            let mut rows: Vec<(Level, String, Option<String>, u64)> = Vec::new();
            let total: u64 = shape.iter().flatten().flatten().sum();
            rows.push((Province, "p".into(), None, total));
            for (d, communes) in shape.iter().enumerate() {
                let dn: u64 = communes.iter().flatten().sum();
                rows.push((District, format!("d{d}"), Some("p".into()), dn));
                for (c, villages) in communes.iter().enumerate() {
                    let cn: u64 = villages.iter().sum();
                    rows.push((Commune, format!("d{d}c{c}"), Some(format!("d{d}")), cn));
                    for (v, n) in villages.iter().enumerate() {
                        rows.push((Village, format!("d{d}c{c}v{v}"), Some(format!("d{d}c{c}")), *n));
                    }
                }
            }
            let borrowed: Vec<(Level, &str, Option<&str>, u64)> =
                rows.iter().map(|(l, i, p, n)| (*l, i.as_str(), p.as_deref(), *n)).collect();
            let (report, sample) = campaign(&borrowed);
            let finest = [Province, District, Commune][finest];
            let p = figures("x", &report, finest, min, 0, &HashMap::new(), &sample);
            let leaks = derived_by_subtraction(&p, &rows);
            proptest::prop_assert!(leaks.is_empty(), "{leaks:?} from {:?}", shown(&p));
            for a in &p.areas {
                proptest::prop_assert!(a.forms >= p.min_forms);
            }
        }
    }
}
