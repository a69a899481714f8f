//! The small expression language of relevance conditions and constraints.
//!
//! ```text
//! ${q8_1} = 1                         a relevance: question q8_1 was answered 1
//! selected(${q2}, 7)                  multiple choice q2 includes code 7
//! . >= 1 and . <= 30                  a constraint on the question's own answer (`.`)
//! not(${a_ethnicity} = 1) or count_selected(${q2}) > 2
//! ```
//! Grammar (XLSForm-like, so imported forms keep their conditions):
//! `or` < `and` < comparison (`= != < <= > >=`) < `+ -` < atom; atoms are integers,
//! `'text'`, `${id}`, `.`, `( … )`, `not(e)`, `selected(e, code)`, `count_selected(e)`
//! (also `count-selected`), `answered(e)`. Comparing with an unanswered question is false.
//!
//! An expression is parsed once ([`parse`]), its references resolved to question indices
//! ([`Expr::resolve`]), and evaluated many times without allocation ([`Expr::eval`]).

use std::fmt;

#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    Int(i64),
    Text(String),
    /// `${id}` before resolution.
    Ref(String),
    /// A resolved reference: index of the question in the form.
    Slot(usize),
    /// `.`: the answer being constrained.
    Current,
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Cmp(CmpOp, Box<Expr>, Box<Expr>),
    Add(Box<Expr>, Box<Expr>),
    Sub(Box<Expr>, Box<Expr>),
    Selected(Box<Expr>, i64),
    CountSelected(Box<Expr>),
    Answered(Box<Expr>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// A syntax error with its character position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyntaxError {
    pub at: usize,
    pub message: String,
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at character {}: {}", self.at + 1, self.message)
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Int(i64),
    Text(String),
    Ref(String),
    Dot,
    Word(String),
    Op(&'static str),
    LParen,
    RParen,
    Comma,
}

fn lex(src: &str) -> Result<Vec<(usize, Tok)>, SyntaxError> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let err = |at: usize, m: &str| SyntaxError {
        at,
        message: m.to_string(),
    };
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        match c {
            ' ' | '\t' | '\n' | '\r' => i += 1,
            '(' => (out.push((start, Tok::LParen)), i += 1).1,
            ')' => (out.push((start, Tok::RParen)), i += 1).1,
            ',' => (out.push((start, Tok::Comma)), i += 1).1,
            '+' => (out.push((start, Tok::Op("+"))), i += 1).1,
            '-' if chars.get(i + 1).is_some_and(|d| d.is_ascii_digit())
                && !matches!(
                    out.last(),
                    Some((_, Tok::Int(_) | Tok::Ref(_) | Tok::Dot | Tok::RParen))
                ) =>
            {
                i += 1;
                while i < chars.len() && chars[i].is_ascii_digit() {
                    i += 1;
                }
                let s: String = chars[start..i].iter().collect();
                out.push((
                    start,
                    Tok::Int(s.parse().map_err(|_| err(start, "number too large"))?),
                ));
            }
            '-' => (out.push((start, Tok::Op("-"))), i += 1).1,
            '=' => (out.push((start, Tok::Op("="))), i += 1).1,
            '!' if chars.get(i + 1) == Some(&'=') => (out.push((start, Tok::Op("!="))), i += 2).1,
            '<' | '>' => {
                let eq = chars.get(i + 1) == Some(&'=');
                let op = match (c, eq) {
                    ('<', true) => "<=",
                    ('<', false) => "<",
                    ('>', true) => ">=",
                    _ => ">",
                };
                out.push((start, Tok::Op(op)));
                i += if eq { 2 } else { 1 };
            }
            '.' => (out.push((start, Tok::Dot)), i += 1).1,
            '$' => {
                if chars.get(i + 1) != Some(&'{') {
                    return Err(err(start, "expected ${question_id}"));
                }
                let close = chars[i..]
                    .iter()
                    .position(|&c| c == '}')
                    .ok_or_else(|| err(start, "unclosed ${"))?;
                let id: String = chars[i + 2..i + close].iter().collect();
                if id.is_empty()
                    || !id
                        .chars()
                        .all(|c| c.is_alphanumeric() || c == '_' || c == '-' || c == '.')
                {
                    return Err(err(start, &format!("{id:?} is not a question id")));
                }
                out.push((start, Tok::Ref(id)));
                i += close + 1;
            }
            '\'' | '"' => {
                let close = chars[i + 1..]
                    .iter()
                    .position(|&q| q == c)
                    .ok_or_else(|| err(start, "unclosed text"))?;
                out.push((
                    start,
                    Tok::Text(chars[i + 1..i + 1 + close].iter().collect()),
                ));
                i += close + 2;
            }
            d if d.is_ascii_digit() => {
                while i < chars.len() && chars[i].is_ascii_digit() {
                    i += 1;
                }
                let s: String = chars[start..i].iter().collect();
                out.push((
                    start,
                    Tok::Int(s.parse().map_err(|_| err(start, "number too large"))?),
                ));
            }
            a if a.is_ascii_alphabetic() => {
                while i < chars.len()
                    && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == '-')
                {
                    i += 1;
                }
                out.push((start, Tok::Word(chars[start..i].iter().collect())));
            }
            other => return Err(err(start, &format!("unexpected {other:?}"))),
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<(usize, Tok)>,
    pos: usize,
    end: usize,
    depth: usize,
    operators: usize,
}

/// Nesting deeper than this is refused (no stack overflow on hostile input).
const MAX_DEPTH: usize = 64;
/// More binary operators than this are refused. A chain such as `a and b and …` parses in a
/// loop but builds a tree as deep as it is long, and resolving, evaluating and dropping an
/// expression walk the tree recursively: this bounds that depth (with [`MAX_DEPTH`]) where a
/// real rule never goes — a choice among 200 codes, `${q} = 1 or ${q} = 2 or …`, uses 399.
const MAX_OPERATORS: usize = 500;

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|(_, t)| t)
    }
    fn at(&self) -> usize {
        self.toks.get(self.pos).map(|(a, _)| *a).unwrap_or(self.end)
    }
    fn err<T>(&self, m: impl Into<String>) -> Result<T, SyntaxError> {
        Err(SyntaxError {
            at: self.at(),
            message: m.into(),
        })
    }
    fn eat(&mut self, t: &Tok) -> bool {
        if self.peek() == Some(t) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
    fn expect(&mut self, t: &Tok, what: &str) -> Result<(), SyntaxError> {
        if self.eat(t) {
            Ok(())
        } else {
            self.err(format!("expected {what}"))
        }
    }
    /// Counts one more binary operator, refusing the expression past [`MAX_OPERATORS`].
    fn operator(&mut self) -> Result<(), SyntaxError> {
        self.operators += 1;
        if self.operators > MAX_OPERATORS {
            return self.err(format!(
                "the expression has more than {MAX_OPERATORS} operators"
            ));
        }
        Ok(())
    }
    fn word(&mut self, w: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Word(x)) if x == w) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
    fn or(&mut self) -> Result<Expr, SyntaxError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return self.err("the expression is nested too deeply");
        }
        let mut left = self.and()?;
        while self.word("or") {
            self.operator()?;
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        self.depth -= 1;
        Ok(left)
    }
    fn and(&mut self) -> Result<Expr, SyntaxError> {
        let mut left = self.cmp()?;
        while self.word("and") {
            self.operator()?;
            left = Expr::And(Box::new(left), Box::new(self.cmp()?));
        }
        Ok(left)
    }
    fn cmp(&mut self) -> Result<Expr, SyntaxError> {
        let left = self.sum()?;
        let op = match self.peek() {
            Some(Tok::Op("=")) => CmpOp::Eq,
            Some(Tok::Op("!=")) => CmpOp::Ne,
            Some(Tok::Op("<")) => CmpOp::Lt,
            Some(Tok::Op("<=")) => CmpOp::Le,
            Some(Tok::Op(">")) => CmpOp::Gt,
            Some(Tok::Op(">=")) => CmpOp::Ge,
            _ => return Ok(left),
        };
        self.pos += 1;
        self.operator()?;
        Ok(Expr::Cmp(op, Box::new(left), Box::new(self.sum()?)))
    }
    fn sum(&mut self) -> Result<Expr, SyntaxError> {
        let mut left = self.atom()?;
        loop {
            if self.eat(&Tok::Op("+")) {
                self.operator()?;
                left = Expr::Add(Box::new(left), Box::new(self.atom()?));
            } else if self.eat(&Tok::Op("-")) {
                self.operator()?;
                left = Expr::Sub(Box::new(left), Box::new(self.atom()?));
            } else {
                return Ok(left);
            }
        }
    }
    fn atom(&mut self) -> Result<Expr, SyntaxError> {
        let Some((_, tok)) = self.toks.get(self.pos).cloned() else {
            return self.err("the expression ends too early");
        };
        self.pos += 1;
        match tok {
            Tok::Int(n) => Ok(Expr::Int(n)),
            Tok::Text(s) => Ok(Expr::Text(s)),
            Tok::Ref(id) => Ok(Expr::Ref(id)),
            Tok::Dot => Ok(Expr::Current),
            Tok::LParen => {
                let e = self.or()?;
                self.expect(&Tok::RParen, "')'")?;
                Ok(e)
            }
            Tok::Word(w) => {
                let name = w.replace('-', "_");
                if !["not", "count_selected", "answered", "selected"].contains(&name.as_str()) {
                    self.pos -= 1;
                    return self.err(format!("unknown function {w}"));
                }
                self.expect(&Tok::LParen, &format!("'(' after {w}"))?;
                let e = match name.as_str() {
                    "not" => Expr::Not(Box::new(self.or()?)),
                    "count_selected" => Expr::CountSelected(Box::new(self.or()?)),
                    "answered" => Expr::Answered(Box::new(self.or()?)),
                    "selected" => {
                        let what = self.or()?;
                        self.expect(&Tok::Comma, "',' in selected(question, code)")?;
                        let code = match self.atom()? {
                            Expr::Int(n) => n,
                            Expr::Text(s) => match s.trim().parse() {
                                Ok(n) => n,
                                Err(_) => return self.err("selected() takes a numeric code"),
                            },
                            _ => return self.err("selected() takes a numeric code"),
                        };
                        Expr::Selected(Box::new(what), code)
                    }
                    _ => unreachable!("checked above"),
                };
                self.expect(&Tok::RParen, "')'")?;
                Ok(e)
            }
            _ => {
                self.pos -= 1;
                self.err("expected a value")
            }
        }
    }
}

/// Parses an expression.
pub fn parse(src: &str) -> Result<Expr, SyntaxError> {
    let toks = lex(src)?;
    let mut p = Parser {
        toks,
        pos: 0,
        end: src.chars().count(),
        depth: 0,
        operators: 0,
    };
    let e = p.or()?;
    if p.pos != p.toks.len() {
        return p.err("unexpected text after the expression");
    }
    Ok(e)
}

/// A value during evaluation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value<'a> {
    Missing,
    Int(i64),
    Text(&'a str),
    Codes(&'a [i64]),
    Bool(bool),
}

/// Where evaluation reads answers from.
pub trait Answers {
    fn value(&self, slot: usize) -> Value<'_>;
}

impl Expr {
    /// Replaces every `${id}` with its slot; returns the ids that could not be found.
    pub fn resolve(&mut self, find: &dyn Fn(&str) -> Option<usize>, unknown: &mut Vec<String>) {
        match self {
            Expr::Ref(id) => match find(id) {
                Some(slot) => *self = Expr::Slot(slot),
                None => unknown.push(id.clone()),
            },
            Expr::Not(e) | Expr::CountSelected(e) | Expr::Answered(e) | Expr::Selected(e, _) => {
                e.resolve(find, unknown)
            }
            Expr::And(a, b)
            | Expr::Or(a, b)
            | Expr::Cmp(_, a, b)
            | Expr::Add(a, b)
            | Expr::Sub(a, b) => {
                a.resolve(find, unknown);
                b.resolve(find, unknown);
            }
            _ => {}
        }
    }

    /// The slots this expression reads.
    pub fn slots(&self, out: &mut Vec<usize>) {
        match self {
            Expr::Slot(s) => out.push(*s),
            Expr::Not(e) | Expr::CountSelected(e) | Expr::Answered(e) | Expr::Selected(e, _) => {
                e.slots(out)
            }
            Expr::And(a, b)
            | Expr::Or(a, b)
            | Expr::Cmp(_, a, b)
            | Expr::Add(a, b)
            | Expr::Sub(a, b) => {
                a.slots(out);
                b.slots(out);
            }
            _ => {}
        }
    }

    pub fn uses_current(&self) -> bool {
        match self {
            Expr::Current => true,
            Expr::Not(e) | Expr::CountSelected(e) | Expr::Answered(e) | Expr::Selected(e, _) => {
                e.uses_current()
            }
            Expr::And(a, b)
            | Expr::Or(a, b)
            | Expr::Cmp(_, a, b)
            | Expr::Add(a, b)
            | Expr::Sub(a, b) => a.uses_current() || b.uses_current(),
            _ => false,
        }
    }

    /// Evaluates to true or false; `current` is the answer a constraint checks.
    pub fn test<'a>(&'a self, answers: &'a dyn Answers, current: Value<'a>) -> bool {
        matches!(self.eval(answers, current), Value::Bool(true))
    }

    pub fn eval<'a>(&'a self, answers: &'a dyn Answers, current: Value<'a>) -> Value<'a> {
        match self {
            Expr::Int(n) => Value::Int(*n),
            Expr::Text(s) => Value::Text(s),
            Expr::Ref(_) => Value::Missing,
            Expr::Slot(s) => answers.value(*s),
            Expr::Current => current,
            Expr::Not(e) => Value::Bool(!e.test(answers, current)),
            Expr::And(a, b) => Value::Bool(a.test(answers, current) && b.test(answers, current)),
            Expr::Or(a, b) => Value::Bool(a.test(answers, current) || b.test(answers, current)),
            Expr::Add(a, b) | Expr::Sub(a, b) => {
                match (a.eval(answers, current), b.eval(answers, current)) {
                    (Value::Int(x), Value::Int(y)) => {
                        Value::Int(if matches!(self, Expr::Add(..)) {
                            x.saturating_add(y)
                        } else {
                            x.saturating_sub(y)
                        })
                    }
                    _ => Value::Missing,
                }
            }
            Expr::Cmp(op, a, b) => {
                use std::cmp::Ordering::Equal;
                let parse = |t: &str| t.trim().parse::<i64>().ok();
                let ordering = match (a.eval(answers, current), b.eval(answers, current)) {
                    (Value::Int(x), Value::Int(y)) => x.cmp(&y),
                    (Value::Text(x), Value::Text(y)) => x.cmp(y),
                    (Value::Bool(x), Value::Bool(y)) => x.cmp(&y),
                    // XLSForm writes "unanswered" as `${q} = ''`.
                    (Value::Missing, Value::Text("")) | (Value::Text(""), Value::Missing) => Equal,
                    (Value::Text(t), Value::Int(n)) => match parse(t) {
                        Some(v) => v.cmp(&n),
                        None => return Value::Bool(false),
                    },
                    (Value::Int(n), Value::Text(t)) => match parse(t) {
                        Some(v) => n.cmp(&v),
                        None => return Value::Bool(false),
                    },
                    // Anything compared with an unanswered question, or across kinds, is false.
                    _ => return Value::Bool(false),
                };
                Value::Bool(match op {
                    CmpOp::Eq => ordering.is_eq(),
                    CmpOp::Ne => ordering.is_ne(),
                    CmpOp::Lt => ordering.is_lt(),
                    CmpOp::Le => ordering.is_le(),
                    CmpOp::Gt => ordering.is_gt(),
                    CmpOp::Ge => ordering.is_ge(),
                })
            }
            Expr::Selected(e, code) => Value::Bool(match e.eval(answers, current) {
                Value::Codes(cs) => cs.contains(code),
                Value::Int(c) => c == *code,
                _ => false,
            }),
            Expr::CountSelected(e) => match e.eval(answers, current) {
                Value::Codes(cs) => Value::Int(cs.len() as i64),
                Value::Int(_) => Value::Int(1),
                _ => Value::Int(0),
            },
            Expr::Answered(e) => Value::Bool(!matches!(
                e.eval(answers, current),
                Value::Missing | Value::Text("")
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed(Vec<Value<'static>>);
    impl Answers for Fixed {
        fn value(&self, slot: usize) -> Value<'_> {
            self.0[slot]
        }
    }

    fn check(src: &str, answers: &Fixed, current: Value) -> bool {
        let mut e = parse(src).unwrap();
        let ids = ["a", "b", "c"];
        let mut unknown = vec![];
        e.resolve(&|id| ids.iter().position(|x| *x == id), &mut unknown);
        assert!(unknown.is_empty());
        e.test(answers, current)
    }

    #[test]
    fn evaluates_like_xlsform() {
        let a = Fixed(vec![Value::Int(1), Value::Codes(&[2, 7]), Value::Missing]);
        assert!(check("${a} = 1", &a, Value::Missing));
        assert!(!check("${a} != 1", &a, Value::Missing));
        assert!(check(
            "selected(${b}, 7) and not(selected(${b}, 3))",
            &a,
            Value::Missing
        ));
        assert!(check("selected(${b}, '7')", &a, Value::Missing));
        assert!(check("count-selected(${b}) = 2", &a, Value::Missing));
        assert!(
            !check("${c} = 1", &a, Value::Missing),
            "unanswered compares false"
        );
        assert!(
            !check("${c} != 1", &a, Value::Missing),
            "unanswered compares false either way"
        );
        assert!(
            check("${c} = ''", &a, Value::Missing),
            "XLSForm's empty test"
        );
        assert!(!check("answered(${c})", &a, Value::Missing));
        assert!(check(". >= 18 and . <= 120", &a, Value::Int(30)));
        assert!(check(". - 1 = ${a} + 1 or ${a} = -1", &a, Value::Int(3)));
        assert!(check(
            "(${a} = 2 or ${a} = 1) and ${a} < 5",
            &a,
            Value::Missing
        ));
    }

    #[test]
    fn syntax_errors_say_where() {
        for (src, at) in [
            ("${a} = ", 8),
            ("${a} == 1", 7),
            ("foo(${a})", 1),
            ("(${a} = 1", 10),
            ("${a b} = 1", 1),
            ("'open", 1),
        ] {
            let e = parse(src).unwrap_err();
            assert_eq!(e.at + 1, at, "{src}: {e}");
        }
        let deep = "(".repeat(200) + "1" + &")".repeat(200);
        assert!(parse(&deep).is_err());
    }
}
