//! Keying as a hurried keyer does it: whole random, valid answer sheets turned into the exact
//! keys a keyer presses for them (a digit settles a one-digit code; everything else is typed and
//! Enter pressed; a question the screen skips gets no key; an optional question left blank on
//! the paper gets a bare Enter).

use forms::{load::Accepts, validate::validate, Form};
use rand::{seq::SliceRandom, Rng};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// One key press.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Key {
    Char(char),
    Enter,
    /// Shift+Tab: back to the question before.
    BackTab,
}

/// Which letters free-text answers are drawn from: Vietnamese through WebDriver, plain ASCII
/// through X key events (xdotool maps only the keyboard's own keysyms reliably).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Alphabet {
    Vietnamese,
    Ascii,
}

impl Alphabet {
    fn letters(self) -> Vec<char> {
        let ascii = "abcdefghijklmnopqrstuvwxyz0123456789";
        match self {
            Alphabet::Ascii => ascii.chars().collect(),
            Alphabet::Vietnamese => format!("{ascii}ăâđêôơưàáảãạệộớừữỳ").chars().collect(),
        }
    }
}

fn random_text(rng: &mut impl Rng, max_length: usize, alphabet: Alphabet) -> String {
    let letters = alphabet.letters();
    let length = rng.gen_range(1..=max_length.min(30));
    let mut text: String = (0..length).map(|_| *letters.choose(rng).unwrap()).collect();
    // Spaces inside (never at the ends: the screen trims what is typed).
    if text.chars().count() > 4 {
        let at = text.char_indices().nth(2).unwrap().0;
        text.insert(at, ' ');
    }
    text
}

fn random_value(form: &Form, index: usize, rng: &mut impl Rng, alphabet: Alphabet) -> Value {
    let q = &form.questions[index];
    let specials: Vec<i64> = [q.not_applicable, q.no_answer]
        .into_iter()
        .flatten()
        .collect();
    // A list's answer is a list: the screen keys special codes only where one code is asked for.
    if !specials.is_empty() && !matches!(q.accepts, Accepts::Codes(_)) && rng.gen_bool(0.08) {
        return json!(*specials.choose(rng).unwrap());
    }
    match &q.accepts {
        Accepts::Code(codes) => json!(*codes.choose(rng).unwrap()),
        Accepts::Codes(codes) => {
            let how_many = rng.gen_range(1..=codes.len().min(4));
            let mut picked: Vec<i64> = codes.choose_multiple(rng, how_many).copied().collect();
            picked.shuffle(rng);
            json!(picked)
        }
        Accepts::Integer { min, max } => json!(rng.gen_range(*min..=*max)),
        Accepts::Text { max_length } => json!(random_text(rng, *max_length, alphabet)),
    }
}

/// A random sheet the form accepts as complete: every question that applies answered (optional
/// ones now and then left blank), with random codes, lists, numbers, special codes and text.
pub fn random_answers(
    form: &Form,
    rng: &mut impl Rng,
    alphabet: Alphabet,
) -> BTreeMap<String, Value> {
    let mut answers = BTreeMap::new();
    for (i, q) in form.questions.iter().enumerate() {
        if validate(form, &answers).not_relevant.contains(&q.id)
            || (!q.required && rng.gen_bool(0.2))
        {
            continue;
        }
        for _ in 0..50 {
            answers.insert(q.id.clone(), random_value(form, i, rng, alphabet));
            if !validate(form, &answers)
                .errors
                .iter()
                .any(|e| e.question == q.id)
            {
                break;
            }
            answers.remove(&q.id);
        }
    }
    let v = validate(form, &answers);
    assert!(
        v.complete,
        "random answers do not complete {}: {v:?}",
        form.reference()
    );
    answers
}

/// Whether the keying screen settles this question with one digit (its codes, special codes
/// included, are all single digits).
fn one_digit(form: &Form, index: usize) -> bool {
    let q = &form.questions[index];
    let Accepts::Code(codes) = &q.accepts else {
        return false;
    };
    codes
        .iter()
        .chain(q.not_applicable.iter())
        .chain(q.no_answer.iter())
        .all(|c| (0..=9).contains(c))
}

/// The keys that transcribe `answers`, in the paper's order.
pub fn keystrokes(form: &Form, answers: &BTreeMap<String, Value>) -> Vec<Key> {
    let not_relevant = validate(form, answers).not_relevant;
    let mut keys = Vec::new();
    let typed = |text: &str, keys: &mut Vec<Key>| {
        keys.extend(text.chars().map(Key::Char));
        keys.push(Key::Enter);
    };
    for (i, q) in form.questions.iter().enumerate() {
        if not_relevant.contains(&q.id) {
            continue;
        }
        match answers.get(&q.id) {
            None => keys.push(Key::Enter),
            Some(Value::Number(n)) if one_digit(form, i) => keys.push(Key::Char(
                char::from_digit(n.as_u64().unwrap() as u32, 10).unwrap(),
            )),
            Some(Value::Number(n)) => typed(&n.to_string(), &mut keys),
            Some(Value::Array(codes)) => typed(
                &codes
                    .iter()
                    .map(|c| c.to_string())
                    .collect::<Vec<_>>()
                    .join(" "),
                &mut keys,
            ),
            Some(Value::String(t)) => typed(t, &mut keys),
            Some(other) => panic!("no keys for {other}"),
        }
    }
    keys
}

/// The keys as WebDriver chords (Enter is U+E007; Shift+Tab is Shift U+E008 held over Tab
/// U+E004).
pub fn webdriver_chords(keys: &[Key]) -> Vec<Vec<String>> {
    keys.iter()
        .map(|k| match k {
            Key::Char(c) => vec![c.to_string()],
            Key::Enter => vec![crate::webdriver::ENTER.to_string()],
            Key::BackTab => vec!["\u{E008}".to_string(), "\u{E004}".to_string()],
        })
        .collect()
}

/// The keys as X keysym names for `xdotool key`.
pub fn keysyms(keys: &[Key]) -> Vec<String> {
    keys.iter()
        .map(|k| match k {
            Key::Enter => "Return".to_string(),
            Key::BackTab => "shift+Tab".to_string(),
            Key::Char(' ') => "space".to_string(),
            Key::Char(c) if c.is_ascii_alphanumeric() => c.to_string(),
            Key::Char(c) => {
                panic!("{c:?} has no plain keysym: use Alphabet::Ascii for X key events")
            }
        })
        .collect()
}
