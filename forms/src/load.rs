//! Loading a definition: every check, every problem reported with its place, then a compiled
//! [`Form`] whose expressions are parsed and resolved once.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::{
    definition::{FormDefinition, Item, Kind, Text, FORMAT},
    error::{FormError, Problem},
    expr::{self, Expr},
};

/// What a question accepts.
#[derive(Clone, Debug, PartialEq)]
pub enum Accepts {
    /// One code of the list (single choice, likert, grid row).
    Code(Vec<i64>),
    /// Several codes of the list.
    Codes(Vec<i64>),
    Integer {
        min: i64,
        max: i64,
    },
    Text {
        max_length: usize,
    },
}

/// One answerable question (a grid contributes one per row).
#[derive(Clone, Debug)]
pub struct Question {
    pub id: String,
    pub number: String,
    pub label: Text,
    pub section: usize,
    /// The grid it is a row of.
    pub grid: Option<String>,
    pub accepts: Accepts,
    /// Name of its choice list, for labels.
    pub choices: Option<String>,
    pub required: bool,
    pub relevant: Option<Expr>,
    pub constraint: Option<Expr>,
    pub constraint_message: Option<Text>,
    pub not_applicable: Option<i64>,
    pub no_answer: Option<i64>,
}

/// A checked, compiled form.
#[derive(Clone, Debug)]
pub struct Form {
    pub definition: FormDefinition,
    pub questions: Vec<Question>,
    index_of: HashMap<String, usize>,
}

impl Form {
    /// `id@version`, as batches and sealed answers name the form.
    pub fn reference(&self) -> String {
        format!("{}@{}", self.definition.id, self.definition.version)
    }
    /// The question ids in definition order: the order sealed answers are written in.
    pub fn question_order(&self) -> Vec<&str> {
        self.questions.iter().map(|q| q.id.as_str()).collect()
    }
    pub fn slot(&self, id: &str) -> Option<usize> {
        self.index_of.get(id).copied()
    }
    pub fn question(&self, id: &str) -> Option<&Question> {
        self.slot(id).map(|i| &self.questions[i])
    }

    pub fn from_json(text: &str) -> Result<Form, FormError> {
        let definition: FormDefinition =
            serde_json::from_str(text).map_err(|e| FormError::Json {
                line: e.line(),
                column: e.column(),
                message: e.to_string(),
            })?;
        Form::load(definition)
    }

    /// Checks a definition completely and compiles it.
    pub fn load(definition: FormDefinition) -> Result<Form, FormError> {
        let mut problems = Vec::new();
        let mut p = |at: String, message: String| problems.push(Problem { at, message });
        let d = &definition;

        if d.format != FORMAT {
            p(
                "format".into(),
                format!("expected {FORMAT:?}, found {:?}", d.format),
            );
        }
        if d.id.trim().is_empty() || d.id.contains('@') {
            p("id".into(), "must be non-empty and without '@'".into());
        }
        let specials: Vec<i64> = [d.special_codes.not_applicable, d.special_codes.no_answer]
            .into_iter()
            .flatten()
            .collect();
        if specials.len() == 2 && specials[0] == specials[1] {
            p(
                "special_codes".into(),
                "not_applicable and no_answer must differ".into(),
            );
        }
        for (name, list) in &d.choice_lists {
            let at = format!("choice_lists.{name}");
            if list.is_empty() {
                p(at.clone(), "a choice list needs at least one choice".into());
            }
            let mut seen = HashSet::new();
            for (i, c) in list.iter().enumerate() {
                if !seen.insert(c.code) {
                    p(
                        format!("{at}[{i}]"),
                        format!("code {} appears twice", c.code),
                    );
                }
                if specials.contains(&c.code) {
                    p(
                        format!("{at}[{i}]"),
                        format!(
                            "code {} is also a special code (not applicable / no answer)",
                            c.code
                        ),
                    );
                }
                if c.label.vi.trim().is_empty() {
                    p(format!("{at}[{i}]"), "the Vietnamese label is empty".into());
                }
            }
        }

        // First pass: the questions, their ids and what they accept.
        let mut questions: Vec<Question> = Vec::new();
        let mut raw_exprs: Vec<(String, Option<String>, Option<String>, Option<String>)> =
            Vec::new(); // (at, grid relevant, own relevant, constraint)
        let mut ids: HashMap<String, String> = HashMap::new();
        let mut claim = |id: &str, at: &str, problems: &mut Vec<(String, String)>| {
            if id.is_empty()
                || !id
                    .chars()
                    .all(|c| c.is_alphanumeric() || c == '_' || c == '-' || c == '.')
            {
                problems.push((
                    at.into(),
                    format!("id {id:?} must be letters, digits, '_', '-' or '.'"),
                ));
            }
            if let Some(first) = ids.insert(id.to_string(), at.to_string()) {
                problems.push((at.into(), format!("id {id:?} is already used at {first}")));
            }
        };
        let mut later: Vec<(String, String)> = Vec::new();
        // Items whose own definition failed: references to them are not reported again.
        let mut broken: HashSet<String> = HashSet::new();
        // Sections have their own namespace: expressions name questions only.
        let mut section_ids: HashMap<&str, usize> = HashMap::new();
        for (si, section) in d.sections.iter().enumerate() {
            if let Some(first) = section_ids.insert(section.id.as_str(), si) {
                later.push((
                    format!("sections[{si}]"),
                    format!(
                        "section id {:?} is already used at sections[{first}]",
                        section.id
                    ),
                ));
            }
            if section.items.is_empty() {
                later.push((format!("sections[{si}]"), "a section needs items".into()));
            }
            for (ii, item) in section.items.iter().enumerate() {
                let at = format!("sections[{si}].items[{ii}] ({})", item.id);
                claim(&item.id, &at, &mut later);
                let accepts = accepts(d, item, &at, &specials, &mut later);
                let base = |id: &str,
                            number: &str,
                            label: &Text,
                            grid: Option<String>,
                            accepts: Accepts| Question {
                    id: id.to_string(),
                    number: number.to_string(),
                    label: label.clone(),
                    section: si,
                    grid,
                    accepts,
                    choices: item.choices.clone(),
                    required: item.required,
                    relevant: None,
                    constraint: None,
                    constraint_message: item.constraint_message.clone(),
                    not_applicable: if item.allow_not_applicable {
                        d.special_codes.not_applicable
                    } else {
                        None
                    },
                    no_answer: if item.allow_no_answer {
                        d.special_codes.no_answer
                    } else {
                        None
                    },
                };
                if (item.allow_not_applicable && d.special_codes.not_applicable.is_none())
                    || (item.allow_no_answer && d.special_codes.no_answer.is_none())
                {
                    later.push((
                        at.clone(),
                        "allows a special answer, but special_codes does not define its code"
                            .into(),
                    ));
                }
                match (item.kind, accepts) {
                    (Kind::Note, _) => {}
                    (Kind::Grid, Some(accepts)) => {
                        if item.rows.is_empty() {
                            later.push((at.clone(), "a grid needs rows".into()));
                        }
                        for (ri, row) in item.rows.iter().enumerate() {
                            let row_at = format!("{at}.rows[{ri}] ({})", row.id);
                            claim(&row.id, &row_at, &mut later);
                            questions.push(base(
                                &row.id,
                                &row.number,
                                &row.label,
                                Some(item.id.clone()),
                                accepts.clone(),
                            ));
                            raw_exprs.push((
                                row_at,
                                item.relevant.clone(),
                                row.relevant.clone(),
                                item.constraint.clone(),
                            ));
                        }
                    }
                    (_, Some(accepts)) => {
                        questions.push(base(&item.id, &item.number, &item.label, None, accepts));
                        raw_exprs.push((
                            at.clone(),
                            None,
                            item.relevant.clone(),
                            item.constraint.clone(),
                        ));
                    }
                    (_, None) => {
                        broken.insert(item.id.clone());
                    }
                }
                if item.kind == Kind::Note && (item.required || item.constraint.is_some()) {
                    later.push((
                        at.clone(),
                        "a note takes no answer: it cannot be required or constrained".into(),
                    ));
                }
                if item.kind != Kind::Grid && !item.rows.is_empty() {
                    later.push((at, "only a grid has rows".into()));
                }
            }
        }
        for (at, m) in later {
            p(at, m);
        }

        // Second pass: expressions, now that every id is known.
        let index_of: HashMap<String, usize> = questions
            .iter()
            .enumerate()
            .map(|(i, q)| (q.id.clone(), i))
            .collect();
        let find = |id: &str| index_of.get(id).copied();
        for (q, (at, grid_relevant, relevant, constraint)) in questions.iter_mut().zip(raw_exprs) {
            let compile =
                |src: &str, field: &str, p: &mut dyn FnMut(String, String)| -> Option<Expr> {
                    match expr::parse(src) {
                        Err(e) => {
                            p(format!("{at}.{field}"), format!("{src:?}: {e}"));
                            None
                        }
                        Ok(mut e) => {
                            let mut unknown = Vec::new();
                            e.resolve(&find, &mut unknown);
                            for u in unknown.into_iter().filter(|u| !broken.contains(u)) {
                                p(
                                    format!("{at}.{field}"),
                                    format!("refers to unknown question ${{{u}}}"),
                                );
                            }
                            Some(e)
                        }
                    }
                };
            let grid = grid_relevant
                .as_deref()
                .and_then(|s| compile(s, "relevant (grid)", &mut p));
            let own = relevant
                .as_deref()
                .and_then(|s| compile(s, "relevant", &mut p));
            q.relevant = match (grid, own) {
                (Some(g), Some(o)) => Some(Expr::And(Box::new(g), Box::new(o))),
                (g, o) => g.or(o),
            };
            if let Some(e) = &q.relevant {
                if e.uses_current() {
                    p(
                        format!("{at}.relevant"),
                        "'.' (the answer itself) has no meaning in a relevance condition".into(),
                    );
                }
            }
            q.constraint = constraint
                .as_deref()
                .and_then(|s| compile(s, "constraint", &mut p));
        }
        for (at, cycle) in relevance_cycles(&questions) {
            p(at, format!("relevance conditions form a cycle: {cycle}"));
        }
        if let Some(rule) = &d.index {
            check_index(rule, &questions, &index_of, &mut p);
        }

        if problems.is_empty() {
            Ok(Form {
                definition,
                questions,
                index_of,
            })
        } else {
            Err(FormError::Invalid(problems))
        }
    }
}

fn accepts(
    d: &FormDefinition,
    item: &Item,
    at: &str,
    specials: &[i64],
    problems: &mut Vec<(String, String)>,
) -> Option<Accepts> {
    let mut problem = |m: String| problems.push((at.to_string(), m));
    let list = |problem: &mut dyn FnMut(String)| -> Option<Vec<i64>> {
        let Some(name) = &item.choices else {
            problem(format!("a {:?} item needs `choices`", item.kind).to_lowercase());
            return None;
        };
        match d.choice_lists.get(name) {
            None => {
                problem(format!("choice list {name:?} does not exist"));
                None
            }
            Some(list) if list.is_empty() => None,
            Some(list) => Some(list.iter().map(|c| c.code).collect()),
        }
    };
    let scale_ok = |codes: &[i64], problem: &mut dyn FnMut(String)| {
        if let Some(levels) = item.scale {
            if !(levels == 4 || levels == 5) {
                problem(format!("scale must be 4 or 5, not {levels}"));
            } else if codes != (1..=levels as i64).collect::<Vec<_>>() {
                problem(format!("a {levels}-level scale needs choices coded 1 to {levels} in order, found {codes:?}"));
            }
        }
    };
    let stray = |field: &str, present: bool, problem: &mut dyn FnMut(String)| {
        if present {
            problem(format!("`{field}` does not apply to a {:?} item", item.kind).to_lowercase());
        }
    };
    match item.kind {
        Kind::Note => {
            stray("choices", item.choices.is_some(), &mut problem);
            None
        }
        Kind::Single | Kind::Multiple | Kind::Grid | Kind::Likert => {
            stray(
                "min/max",
                item.min.is_some() || item.max.is_some(),
                &mut problem,
            );
            if item.kind == Kind::Likert && item.scale.is_none() {
                problem("a likert item needs `scale` (4 or 5)".into());
            }
            let codes = list(&mut problem)?;
            scale_ok(&codes, &mut problem);
            Some(if item.kind == Kind::Multiple {
                Accepts::Codes(codes)
            } else {
                Accepts::Code(codes)
            })
        }
        Kind::Integer => {
            stray("choices", item.choices.is_some(), &mut problem);
            match (item.min, item.max) {
                (Some(min), Some(max)) if min <= max => {
                    for s in specials {
                        let allowed = (item.allow_not_applicable
                            && Some(*s) == d.special_codes.not_applicable)
                            || (item.allow_no_answer && Some(*s) == d.special_codes.no_answer);
                        if allowed && (min..=max).contains(s) {
                            problem(format!(
                                "special code {s} falls inside the range {min}–{max}"
                            ));
                        }
                    }
                    Some(Accepts::Integer { min, max })
                }
                (Some(min), Some(max)) => {
                    problem(format!("min {min} is above max {max}"));
                    None
                }
                _ => {
                    problem("an integer item needs `min` and `max`".into());
                    None
                }
            }
        }
        Kind::Text => {
            stray("choices", item.choices.is_some(), &mut problem);
            Some(Accepts::Text {
                max_length: item.max_length.unwrap_or(500) as usize,
            })
        }
    }
}

/// Relevance cycles (a needs b, b needs a), one report per cycle.
fn relevance_cycles(questions: &[Question]) -> Vec<(String, String)> {
    let deps: Vec<Vec<usize>> = questions
        .iter()
        .map(|q| {
            let mut v = Vec::new();
            if let Some(e) = &q.relevant {
                e.slots(&mut v);
            }
            v
        })
        .collect();
    // 0 = unvisited, 1 = on the stack, 2 = done
    let mut state = vec![0u8; questions.len()];
    let mut found = Vec::new();
    let mut reported: HashSet<Vec<usize>> = HashSet::new();
    for start in 0..questions.len() {
        if state[start] != 0 {
            continue;
        }
        let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
        state[start] = 1;
        while let Some(&mut (node, ref mut next)) = stack.last_mut() {
            if *next < deps[node].len() {
                let dep = deps[node][*next];
                *next += 1;
                match state[dep] {
                    0 => {
                        state[dep] = 1;
                        stack.push((dep, 0));
                    }
                    1 => {
                        let from = stack.iter().position(|(n, _)| *n == dep).unwrap();
                        let mut cycle: Vec<usize> = stack[from..].iter().map(|(n, _)| *n).collect();
                        let mut key = cycle.clone();
                        key.sort();
                        if reported.insert(key) {
                            cycle.push(dep);
                            let names: Vec<&str> =
                                cycle.iter().map(|i| questions[*i].id.as_str()).collect();
                            found.push((
                                format!("question {}", questions[dep].id),
                                names.join(" → "),
                            ));
                        }
                    }
                    _ => {}
                }
            } else {
                state[node] = 2;
                stack.pop();
            }
        }
    }
    found
}

fn check_index(
    rule: &crate::definition::IndexRule,
    questions: &[Question],
    index_of: &HashMap<String, usize>,
    p: &mut dyn FnMut(String, String),
) {
    if rule.satisfied_codes.is_empty() {
        p(
            "index.satisfied_codes".into(),
            "name at least one code".into(),
        );
    }
    let mut criteria: BTreeMap<&str, usize> = BTreeMap::new();
    for (ci, c) in rule.criteria.iter().enumerate() {
        let at = format!("index.criteria[{ci}] ({})", c.id);
        if criteria.insert(&c.id, ci).is_some() {
            p(at.clone(), format!("criterion {:?} is defined twice", c.id));
        }
        if c.items.is_empty() {
            p(at.clone(), "a criterion needs items".into());
        }
        for item in &c.items {
            match index_of.get(item).map(|i| &questions[*i]) {
                None => p(
                    at.clone(),
                    format!("item {item:?} is not a question of this form"),
                ),
                Some(q) => match &q.accepts {
                    Accepts::Code(codes) => {
                        for s in &rule.satisfied_codes {
                            if !codes.contains(s) {
                                p(
                                    at.clone(),
                                    format!("item {item:?} has no code {s} to count as satisfied"),
                                );
                            }
                        }
                    }
                    _ => p(
                        at.clone(),
                        format!("item {item:?} is not a single-choice (scale) question"),
                    ),
                },
            }
        }
    }
    let mut parts = HashSet::new();
    for (pi, part) in rule.parts.iter().enumerate() {
        let at = format!("index.parts[{pi}] ({})", part.id);
        if !parts.insert(part.id.as_str()) {
            p(at.clone(), format!("part {:?} is defined twice", part.id));
        }
        if part.criteria.is_empty() {
            p(at.clone(), "a part needs criteria".into());
        }
        for c in &part.criteria {
            if !criteria.contains_key(c.as_str()) {
                p(at.clone(), format!("criterion {c:?} is not defined"));
            }
        }
    }
    if rule.overall.is_empty() {
        p(
            "index.overall".into(),
            "name the parts whose mean is the index".into(),
        );
    }
    for part in &rule.overall {
        if !parts.contains(part.as_str()) {
            p(
                "index.overall".into(),
                format!("part {part:?} is not defined"),
            );
        }
    }
}
