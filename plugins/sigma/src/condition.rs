//! Sigma conditions: `and`, `or`, `not`, parentheses, `1 of X*`, `all of X*`, `1 of them`,
//! `all of them` over the search identifiers of a rule. Aggregations (`| count() ...`),
//! `near` and anything else are refused with the reason.

use crate::matcher::Wildcard;

/// A condition over the searches of one rule, by index.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Search(usize),
    Not(Box<Expr>),
    And(Vec<Expr>),
    Or(Vec<Expr>),
}

impl Expr {
    /// Evaluates the condition, asking `search` for the value of each search it reaches
    /// (`and`/`or` stop at the first deciding operand).
    pub fn eval(&self, search: &mut dyn FnMut(usize) -> bool) -> bool {
        match self {
            Expr::Search(i) => search(*i),
            Expr::Not(e) => !e.eval(search),
            Expr::And(es) => es.iter().all(|e| e.eval(search)),
            Expr::Or(es) => es.iter().any(|e| e.eval(search)),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Open,
    Close,
    And,
    Or,
    Not,
    Of,
    Them,
    One,
    All,
    Word(String),
}

fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' => {
                chars.next();
                tokens.push(Token::Open);
            }
            ')' => {
                chars.next();
                tokens.push(Token::Close);
            }
            '|' => {
                return Err(
                    "aggregations in the condition (`| count() ...` and the like) are not \
                     supported: this plugin matches single events"
                        .to_owned(),
                )
            }
            c if is_word_char(c) => {
                let mut word = String::new();
                while let Some(&c) = chars.peek() {
                    if !is_word_char(c) {
                        break;
                    }
                    word.push(c);
                    chars.next();
                }
                tokens.push(match word.to_ascii_lowercase().as_str() {
                    "and" => Token::And,
                    "or" => Token::Or,
                    "not" => Token::Not,
                    "of" => Token::Of,
                    "them" => Token::Them,
                    "1" | "any" => Token::One,
                    "all" => Token::All,
                    "near" => {
                        return Err("the `near` operator is not supported".to_owned());
                    }
                    _ => Token::Word(word),
                });
            }
            other => return Err(format!("unexpected `{other}` in the condition")),
        }
    }
    Ok(tokens)
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '-' | '*' | '.')
}

/// Parses `text` against the rule's search identifiers (`names`, in their order).
///
/// # Errors
/// Why the condition cannot be run: an unsupported construct, a syntax error, or an
/// identifier (or pattern) that names no search.
pub fn parse(text: &str, names: &[String]) -> Result<Expr, String> {
    let tokens = tokenize(text)?;
    if tokens.is_empty() {
        return Err("the condition is empty".to_owned());
    }
    // The parser recurses on `(` and `not` (`and`/`or` are loops): bound it before parsing.
    if nesting_of(&tokens) > MAX_NESTING {
        return Err(format!(
            "the condition nests `(` and `not` deeper than {MAX_NESTING} levels"
        ));
    }
    let mut p = Parser {
        tokens,
        pos: 0,
        names,
    };
    let expr = p.or()?;
    if p.pos != p.tokens.len() {
        return Err(format!(
            "unexpected {} in the condition",
            describe(&p.tokens[p.pos])
        ));
    }
    Ok(expr)
}

/// How deeply a condition may nest parentheses and `not`s: real rules use a few; a fuzzed
/// condition of 3,800 `(` overflowed the stack.
pub const MAX_NESTING: usize = 64;

/// An upper bound on the parser's recursion: the deepest parenthesis plus every `not`.
fn nesting_of(tokens: &[Token]) -> usize {
    let mut depth: usize = 0;
    let mut deepest = 0;
    let mut nots = 0;
    for token in tokens {
        match token {
            Token::Open => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            Token::Close => depth = depth.saturating_sub(1),
            Token::Not => nots += 1,
            _ => {}
        }
    }
    deepest + nots
}

fn describe(t: &Token) -> String {
    match t {
        Token::Open => "`(`".to_owned(),
        Token::Close => "`)`".to_owned(),
        Token::And => "`and`".to_owned(),
        Token::Or => "`or`".to_owned(),
        Token::Not => "`not`".to_owned(),
        Token::Of => "`of`".to_owned(),
        Token::Them => "`them`".to_owned(),
        Token::One => "`1`".to_owned(),
        Token::All => "`all`".to_owned(),
        Token::Word(w) => format!("`{w}`"),
    }
}

struct Parser<'a> {
    tokens: Vec<Token>,
    pos: usize,
    names: &'a [String],
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn or(&mut self) -> Result<Expr, String> {
        let mut items = vec![self.and()?];
        while self.peek() == Some(&Token::Or) {
            self.pos += 1;
            items.push(self.and()?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Expr::Or(items)
        })
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut items = vec![self.not()?];
        while self.peek() == Some(&Token::And) {
            self.pos += 1;
            items.push(self.not()?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Expr::And(items)
        })
    }

    fn not(&mut self) -> Result<Expr, String> {
        if self.peek() == Some(&Token::Not) {
            self.pos += 1;
            return Ok(Expr::Not(Box::new(self.not()?)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr, String> {
        match self.next() {
            Some(Token::Open) => {
                let e = self.or()?;
                match self.next() {
                    Some(Token::Close) => Ok(e),
                    _ => Err("a `(` without its `)` in the condition".to_owned()),
                }
            }
            Some(quantifier @ (Token::One | Token::All)) => {
                if self.next() != Some(Token::Of) {
                    return Err(format!(
                        "{} must be followed by `of` in the condition",
                        describe(&quantifier)
                    ));
                }
                let (what, indices) = match self.next() {
                    // Every search but those whose name starts with `_` (Sigma spec 1.0.4).
                    Some(Token::Them) => (
                        "them".to_owned(),
                        (0..self.names.len())
                            .filter(|&i| !self.names[i].starts_with('_'))
                            .collect(),
                    ),
                    Some(Token::Word(pattern)) => {
                        let w = Wildcard::new(&pattern, false);
                        let found: Vec<usize> = (0..self.names.len())
                            .filter(|&i| w.is_match(&self.names[i]))
                            .collect();
                        (pattern, found)
                    }
                    _ => {
                        return Err(
                            "`of` must be followed by a search identifier pattern or `them`"
                                .to_owned(),
                        )
                    }
                };
                if indices.is_empty() {
                    return Err(format!("`{what}` in the condition names no search"));
                }
                let items = indices.into_iter().map(Expr::Search).collect();
                Ok(if quantifier == Token::All {
                    Expr::And(items)
                } else {
                    Expr::Or(items)
                })
            }
            Some(Token::Word(word)) => {
                if let Some(i) = self.names.iter().position(|n| *n == word) {
                    return Ok(Expr::Search(i));
                }
                if word.chars().all(|c| c.is_ascii_digit()) {
                    return Err(format!(
                        "`{word} of` is not supported (only `1 of` and `all of`)"
                    ));
                }
                Err(format!(
                    "the condition names `{word}`, which is not a search of the rule"
                ))
            }
            Some(other) => Err(format!("unexpected {} in the condition", describe(&other))),
            None => Err("the condition ends too early".to_owned()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn precedence_and_quantifiers() {
        let n = names(&["selection", "filter_a", "filter_b"]);
        assert_eq!(
            parse("selection and not 1 of filter_*", &n).unwrap(),
            Expr::And(vec![
                Expr::Search(0),
                Expr::Not(Box::new(Expr::Or(vec![Expr::Search(1), Expr::Search(2)])))
            ])
        );
        assert_eq!(
            parse("selection or filter_a and filter_b", &n).unwrap(),
            Expr::Or(vec![
                Expr::Search(0),
                Expr::And(vec![Expr::Search(1), Expr::Search(2)])
            ])
        );
        assert_eq!(
            parse("(selection or filter_a) and not not filter_b", &n).unwrap(),
            Expr::And(vec![
                Expr::Or(vec![Expr::Search(0), Expr::Search(1)]),
                Expr::Not(Box::new(Expr::Not(Box::new(Expr::Search(2)))))
            ])
        );
        assert_eq!(
            parse("all of them", &n).unwrap(),
            Expr::And(vec![Expr::Search(0), Expr::Search(1), Expr::Search(2)])
        );
        let underscored = names(&["a", "_helper", "b"]);
        assert_eq!(
            parse("1 of them", &underscored).unwrap(),
            Expr::Or(vec![Expr::Search(0), Expr::Search(2)])
        );
        assert_eq!(
            parse("1 of them or _helper", &underscored).unwrap(),
            Expr::Or(vec![
                Expr::Or(vec![Expr::Search(0), Expr::Search(2)]),
                Expr::Search(1)
            ])
        );
        assert_eq!(
            parse("1 of selection", &n).unwrap(),
            Expr::Or(vec![Expr::Search(0)])
        );
    }

    #[test]
    fn refusals_say_why() {
        let n = names(&["selection", "filter"]);
        for (cond, why) in [
            ("selection | count() > 5", "aggregations"),
            ("selection near filter", "near"),
            ("selection and missing", "`missing`"),
            ("1 of nothing*", "names no search"),
            ("2 of selection", "`2 of`"),
            ("(selection", "`(`"),
            ("selection filter", "unexpected"),
            ("", "empty"),
            ("selection and", "ends too early"),
            ("selection = 1", "unexpected `=`"),
        ] {
            let err = parse(cond, &n).unwrap_err();
            assert!(err.contains(why), "{cond}: {err}");
        }
    }
}
