//! YAML text to JSON values: the documents of a Sigma rule file. Also compiled into
//! `build.rs`, which converts the shipped rules at build time with this same code.

use serde_json::{Map, Value};
use yaml_rust2::{Yaml, YamlLoader};

/// How deeply a rule's values may nest: Sigma rules use a handful of levels; a fuzzed
/// `- - - ...` line of thousands overflowed the stack converting it (and, in the plugin,
/// the 512 KiB wasm stack).
pub const MAX_DEPTH: usize = 64;

/// The documents of a YAML text as JSON values (empty documents left out). Integers stay
/// numbers; floats become their text (`1.10` stays `1.10`, as Sigma compares text).
///
/// # Errors
/// The text is not YAML, uses aliases, has a key that is not a scalar, or nests deeper
/// than [`MAX_DEPTH`].
pub fn documents(text: &str) -> Result<Vec<Value>, String> {
    // The YAML loader itself recurses on nesting: measure it on the text first.
    if nesting_of(text) > MAX_DEPTH {
        return Err(format!("values nested deeper than {MAX_DEPTH} levels"));
    }
    let docs = YamlLoader::load_from_str(text).map_err(|e| format!("not YAML: {e}"))?;
    docs.iter()
        .filter(|d| !matches!(d, Yaml::Null))
        .map(|d| to_json(d, 0))
        .collect()
}

/// An upper bound on how deeply `text` nests: the deepest run of flow brackets (`[`, `{`
/// not yet closed, quotes ignored, so it may overcount), or the most block indicators
/// (`- `, `? `, `: `) at the start of one line.
fn nesting_of(text: &str) -> usize {
    let mut flow: usize = 0;
    let mut deepest = 0;
    for byte in text.bytes() {
        match byte {
            b'[' | b'{' => {
                flow += 1;
                deepest = deepest.max(flow);
            }
            b']' | b'}' => flow = flow.saturating_sub(1),
            _ => {}
        }
    }
    for line in text.lines() {
        let lead = line
            .bytes()
            .take_while(|b| matches!(b, b' ' | b'\t' | b'-' | b'?' | b':'))
            .filter(|b| matches!(b, b'-' | b'?' | b':'))
            .count();
        deepest = deepest.max(lead);
    }
    deepest
}

fn to_json(y: &Yaml, depth: usize) -> Result<Value, String> {
    if depth > MAX_DEPTH {
        return Err(format!("values nested deeper than {MAX_DEPTH} levels"));
    }
    Ok(match y {
        Yaml::Real(text) | Yaml::String(text) => Value::String(text.clone()),
        Yaml::Integer(i) => Value::from(*i),
        Yaml::Boolean(b) => Value::Bool(*b),
        Yaml::Null => Value::Null,
        Yaml::Array(items) => Value::Array(
            items
                .iter()
                .map(|item| to_json(item, depth + 1))
                .collect::<Result<_, _>>()?,
        ),
        Yaml::Hash(hash) => {
            let mut map = Map::new();
            for (k, v) in hash {
                let key = match k {
                    Yaml::String(s) | Yaml::Real(s) => s.clone(),
                    Yaml::Integer(i) => i.to_string(),
                    Yaml::Boolean(b) => b.to_string(),
                    Yaml::Null => "null".to_owned(),
                    _ => return Err("a YAML mapping key that is not a scalar".to_owned()),
                };
                map.insert(key, to_json(v, depth + 1)?);
            }
            Value::Object(map)
        }
        Yaml::Alias(_) => return Err("YAML aliases are not supported".to_owned()),
        Yaml::BadValue => return Err("an invalid YAML value".to_owned()),
    })
}
