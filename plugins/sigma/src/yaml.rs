//! YAML text to JSON values: the documents of a Sigma rule file. Also compiled into
//! `build.rs`, which converts the shipped rules at build time with this same code.

use serde_json::{Map, Value};
use yaml_rust2::{Yaml, YamlLoader};

/// The documents of a YAML text as JSON values (empty documents left out). Integers stay
/// numbers; floats become their text (`1.10` stays `1.10`, as Sigma compares text).
///
/// # Errors
/// The text is not YAML, uses aliases, or has a key that is not a scalar.
pub fn documents(text: &str) -> Result<Vec<Value>, String> {
    let docs = YamlLoader::load_from_str(text).map_err(|e| format!("not YAML: {e}"))?;
    docs.iter()
        .filter(|d| !matches!(d, Yaml::Null))
        .map(to_json)
        .collect()
}

fn to_json(y: &Yaml) -> Result<Value, String> {
    Ok(match y {
        Yaml::Real(text) | Yaml::String(text) => Value::String(text.clone()),
        Yaml::Integer(i) => Value::from(*i),
        Yaml::Boolean(b) => Value::Bool(*b),
        Yaml::Null => Value::Null,
        Yaml::Array(items) => Value::Array(items.iter().map(to_json).collect::<Result<_, _>>()?),
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
                map.insert(key, to_json(v)?);
            }
            Value::Object(map)
        }
        Yaml::Alias(_) => return Err("YAML aliases are not supported".to_owned()),
        Yaml::BadValue => return Err("an invalid YAML value".to_owned()),
    })
}
