//! Pattern JSON to branches, with AWS's validation rules and messages.
//!
//! Error texts follow AWS EventBridge (`Reason: ...` part of its
//! `InvalidEventPatternException`) wherever its behaviour is known.

use crate::cidr::{parse_ip, Cidr};
use crate::error::{err, PatternError};
use crate::flatten::join;
use crate::matcher::{AnythingBut, Bound, Branch, Field, Matcher, NumRange, Scalar};
use crate::value::{fold, NumKey};
use crate::wildcard::Wildcard;
use serde_json::{Map, Value};

/// `$or` expands into one branch per combination; cap it so a small pattern
/// cannot blow up memory (AWS has a similar, unpublished, limit).
pub(crate) const MAX_BRANCHES: usize = 1024;

/// Field names that would be mistaken for operators inside `$or`.
const RESERVED_IN_OR: [&str; 9] = [
    "anything-but",
    "exists",
    "prefix",
    "suffix",
    "numeric",
    "cidr",
    "equals-ignore-case",
    "wildcard",
    "exactly",
];

/// Compiles a pattern into its branches (an OR of ANDs).
pub(crate) fn compile(pattern: &Value) -> Result<Vec<Branch>, PatternError> {
    let Value::Object(obj) = pattern else {
        return err("Filter is not an object");
    };
    // Start with one empty branch; `$or` replaces the list with its expansion.
    let mut branches = vec![Vec::new()];
    parse_object(obj, "", &mut branches, false)?;
    Ok(branches
        .into_iter()
        .map(|fields| Branch { fields })
        .collect())
}

fn parse_object(
    obj: &Map<String, Value>,
    prefix: &str,
    branches: &mut Vec<Vec<Field>>,
    in_or: bool,
) -> Result<(), PatternError> {
    if obj.is_empty() {
        return err("Empty objects are not allowed");
    }
    for (key, value) in obj {
        if key == "$or" {
            parse_or(value, prefix, branches)?;
            continue;
        }
        if in_or && RESERVED_IN_OR.contains(&key.as_str()) {
            return err(format!(
                "{key} is Ruler reserved fieldName which cannot be used inside $or."
            ));
        }
        let path = join(prefix, key);
        match value {
            Value::Object(inner) => parse_object(inner, &path, branches, in_or)?,
            Value::Array(items) => {
                let field = parse_field(path, items)?;
                for fields in branches.iter_mut() {
                    if fields.iter().any(|f| f.path == field.path) {
                        return err(format!(
                            "Path `{}` cannot be allowed multiple times",
                            field.path
                        ));
                    }
                    fields.push(field.clone());
                }
            }
            _ => return err(format!("\"{key}\" must be an object or an array")),
        }
    }
    Ok(())
}

fn parse_or(
    value: &Value,
    prefix: &str,
    branches: &mut Vec<Vec<Field>>,
) -> Result<(), PatternError> {
    let Value::Array(alternatives) = value else {
        return err("It must be an Array followed with $or.");
    };
    let current = std::mem::take(branches);
    for alt in alternatives {
        let Value::Object(alt) = alt else {
            return err("Only JSON object is allowed in array of $or relationship.");
        };
        let mut forked = current.clone();
        parse_object(alt, prefix, &mut forked, true)?;
        branches.extend(forked);
        if branches.len() > MAX_BRANCHES {
            return err(format!(
                "Too many $or combinations: the pattern expands to more than {MAX_BRANCHES} alternatives"
            ));
        }
    }
    if alternatives.len() < 2 {
        return err("There must have at least 2 Objects in $or relationship.");
    }
    Ok(())
}

fn parse_field(path: String, items: &[Value]) -> Result<Field, PatternError> {
    if items.is_empty() {
        return err("Empty arrays are not allowed");
    }
    let mut matchers = Vec::new();
    let mut absent_ok = false;
    for item in items {
        match item {
            Value::Object(expr) => match parse_expression(expr)? {
                Some(m) => matchers.push(m),
                None => absent_ok = true,
            },
            Value::String(s) => {
                matchers.push(Matcher::Exact(Scalar::Str(s.clone())));
                if let Some(ip) = parse_ip(s) {
                    matchers.push(Matcher::Ip(ip));
                }
            }
            Value::Number(n) => matchers.push(Matcher::Exact(Scalar::Num(NumKey::of(n)))),
            Value::Bool(b) => matchers.push(Matcher::Exact(Scalar::Bool(*b))),
            Value::Null => matchers.push(Matcher::Exact(Scalar::Null)),
            Value::Array(_) => {
                return err("Match value must be String, number, true, false, or null")
            }
        }
    }
    Ok(Field::new(path, matchers, absent_ok))
}

/// The text AWS quotes for an offending JSON token.
fn token_text(v: Option<&Value>) -> String {
    match v {
        None => "]".to_string(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

fn only_key(expr: &Map<String, Value>, missing: &str) -> Result<(String, Value), PatternError> {
    let mut it = expr.iter();
    let Some((k, v)) = it.next() else {
        return err(missing.to_string());
    };
    if it.next().is_some() {
        return err("Only one key allowed in match expression");
    }
    Ok((k.clone(), v.clone()))
}

/// Parses one `{operator: operand}` object. `Ok(None)` is `{"exists": false}`.
fn parse_expression(expr: &Map<String, Value>) -> Result<Option<Matcher>, PatternError> {
    let (op, operand) = only_key(expr, "Match expression name not found")?;
    let m = match op.as_str() {
        "prefix" | "suffix" => {
            let is_prefix = op == "prefix";
            match &operand {
                Value::String(s) if is_prefix => Matcher::Prefix(s.clone()),
                Value::String(s) => Matcher::Suffix(s.clone()),
                Value::Object(inner) => {
                    let name = if is_prefix { "Prefix" } else { "Suffix" };
                    let (k, v) = only_key(inner, &format!("{name} expression name not found"))?;
                    if k != "equals-ignore-case" {
                        return err(format!("Unsupported {op} pattern: {k}"));
                    }
                    let Value::String(s) = v else {
                        return err("equals-ignore-case match pattern must be a string");
                    };
                    if is_prefix {
                        Matcher::PrefixIgnoreCase(fold(&s))
                    } else {
                        Matcher::SuffixIgnoreCase(fold(&s))
                    }
                }
                _ => return err(format!("{op} match pattern must be a string")),
            }
        }
        "equals-ignore-case" => match &operand {
            Value::String(s) => Matcher::EqualsIgnoreCase(fold(s)),
            _ => return err("equals-ignore-case match pattern must be a string"),
        },
        "wildcard" => match &operand {
            Value::String(s) => Matcher::Wildcard(Wildcard::parse(s)?),
            _ => return err("wildcard match pattern must be a string"),
        },
        "numeric" => match &operand {
            Value::Array(items) => Matcher::Numeric(parse_numeric(items)?),
            _ => return err("Value of numeric must be an array."),
        },
        "exists" => match operand {
            Value::Bool(true) => Matcher::Exists,
            Value::Bool(false) => return Ok(None),
            _ => return err("exists match pattern must be either true or false."),
        },
        // AWS really does say "prefix" here.
        "cidr" => match &operand {
            Value::String(s) => Matcher::Cidr(Cidr::parse(s)?),
            _ => return err("prefix match pattern must be a string"),
        },
        "anything-but" => Matcher::AnythingBut(parse_anything_but(&operand)?),
        _ => return err(format!("Unrecognized match type {op}")),
    };
    Ok(Some(m))
}

fn parse_numeric(items: &[Value]) -> Result<NumRange, PatternError> {
    let num = |i: usize, op: &str| -> Result<f64, PatternError> {
        match items.get(i) {
            Some(Value::Number(n)) => Ok(n.as_f64().unwrap_or(0.0)),
            _ => err(format!("Value of {op} must be numeric")),
        }
    };
    let Some(Value::String(op)) = items.first() else {
        return err(format!(
            "Invalid member in numeric match: {}",
            token_text(items.first())
        ));
    };
    let bound = |value, inclusive| Some(Bound { value, inclusive });
    let too_many = || err("Too many elements in numeric expression");
    match op.as_str() {
        "=" => {
            let v = num(1, "equals")?;
            if items.len() > 2 {
                return too_many();
            }
            Ok(NumRange {
                low: bound(v, true),
                high: bound(v, true),
            })
        }
        "<" | "<=" => {
            let v = num(1, op)?;
            if items.len() > 2 {
                return too_many();
            }
            Ok(NumRange {
                low: None,
                high: bound(v, op == "<="),
            })
        }
        ">" | ">=" => {
            let low = num(1, op)?;
            let low = bound(low, op == ">=");
            if items.len() == 2 {
                return Ok(NumRange { low, high: None });
            }
            let Some(Value::String(op2)) = items.get(2) else {
                return err(format!(
                    "Bad value in numeric range: {}",
                    token_text(items.get(2))
                ));
            };
            if op2 != "<" && op2 != "<=" {
                return err(format!("Bad numeric range operator: {op2}"));
            }
            let high = num(3, op2)?;
            if items.len() > 4 {
                return err("Too many terms in numeric range expression");
            }
            if low.is_some_and(|l| l.value >= high) {
                return err("Bottom must be less than top");
            }
            Ok(NumRange {
                low,
                high: bound(high, op2 == "<="),
            })
        }
        _ => err(format!("Unrecognized numeric range operator: {op}")),
    }
}

#[derive(Clone, Copy, PartialEq)]
enum AbKind {
    Plain,
    IgnoreCase,
    Prefix,
    Suffix,
    Wildcard,
}

fn parse_anything_but(operand: &Value) -> Result<AnythingBut, PatternError> {
    let (kind, inner) = match operand {
        Value::Object(obj) => {
            let (k, v) = only_key(obj, "Anything-But expression name not found")?;
            let kind = match k.as_str() {
                "equals-ignore-case" => AbKind::IgnoreCase,
                "prefix" => AbKind::Prefix,
                "suffix" => AbKind::Suffix,
                "wildcard" => AbKind::Wildcard,
                _ => return err(format!("Unsupported anything-but pattern: {k}")),
            };
            (kind, v)
        }
        other => (AbKind::Plain, other.clone()),
    };
    let values: Vec<Value> = match inner {
        Value::Array(items) => items,
        v @ (Value::String(_) | Value::Number(_)) => vec![v],
        _ => return err("Value of anything-but must be an array or single string/number value."),
    };
    if kind == AbKind::Plain {
        return plain_anything_but(&values);
    }
    let mut strings = Vec::with_capacity(values.len());
    for v in values {
        let Value::String(s) = v else {
            return err(match kind {
                AbKind::IgnoreCase => "Inside anything-but/equals-ignore-case list, number|start|null|boolean is not supported.",
                AbKind::Wildcard => "wildcard match pattern must be a string",
                _ => "prefix/suffix match pattern must be a string",
            });
        };
        if matches!(kind, AbKind::Prefix | AbKind::Suffix) && s.is_empty() {
            return err("Null prefix/suffix not allowed");
        }
        strings.push(s);
    }
    Ok(match kind {
        AbKind::IgnoreCase => AnythingBut::IgnoreCase(strings.iter().map(|s| fold(s)).collect()),
        AbKind::Prefix => AnythingBut::Prefix(strings),
        AbKind::Suffix => AnythingBut::Suffix(strings),
        _ => AnythingBut::Wildcard(
            strings
                .iter()
                .map(|s| Wildcard::parse(s))
                .collect::<Result<_, _>>()?,
        ),
    })
}

fn plain_anything_but(values: &[Value]) -> Result<AnythingBut, PatternError> {
    let mut strings = Vec::new();
    let mut numbers = Vec::new();
    for v in values {
        match v {
            Value::String(s) => strings.push(s.clone()),
            Value::Number(n) => numbers.push(NumKey::of(n)),
            _ => return err("Inside anything but list, start|null|boolean is not supported."),
        }
    }
    match (strings.is_empty(), numbers.is_empty()) {
        (false, true) => Ok(AnythingBut::Strings(strings)),
        (true, false) => Ok(AnythingBut::Numbers(numbers)),
        _ => err("Inside anything but list, either all values are number or string, mixed type is not supported"),
    }
}
