//! What outside rule sets each shipped rule corresponds to, for `rules list`: the Panther
//! rules it is mapped to (each shipped plugin's `panther.json`, built into the binary so an
//! installed copy answers without the checkout) and the CIS monitoring controls it
//! implements (`report::cis::CONTROLS`).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Deserialize;

use crate::report::cis::CONTROLS;

/// `(name, the text of plugins/<name>/panther.json)`.
macro_rules! panther {
    ($plugin:literal) => {
        (
            $plugin,
            include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../plugins/",
                $plugin,
                "/panther.json"
            )),
        )
    };
}

/// The shipped plugins' Panther maps: (plugin name, `panther.json` text). A unit test checks
/// that every `plugins/**/panther.json` is here.
const PANTHER_MAPS: &[(&str, &str)] = &[
    panther!("access-key-other-user"),
    panther!("admin-policy-attached"),
    panther!("cloudtrail-tampering"),
    panther!("console-no-mfa"),
    panther!("identity-changes"),
    panther!("keys-secrets"),
    panther!("monitoring-disabled"),
    panther!("network-exposure"),
    panther!("organization-guard"),
    panther!("resource-exposure"),
    panther!("root-usage"),
    panther!("s3-exposure"),
    panther!("s3-public-access-block"),
    panther!("service-watch"),
    panther!("sigma"),
    panther!("storage-exposure"),
];

#[derive(Deserialize)]
struct PantherMap {
    rules: BTreeMap<String, OneOrMany>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

/// (plugin, our rule id) -> the Panther rule ids mapped to it, sorted.
fn panther_index() -> &'static BTreeMap<(String, String), Vec<String>> {
    static INDEX: OnceLock<BTreeMap<(String, String), Vec<String>>> = OnceLock::new();
    INDEX.get_or_init(|| {
        let mut index: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
        for (plugin, text) in PANTHER_MAPS {
            // The shipped maps are checked by a unit test; a bad one maps nothing.
            let Ok(map) = serde_json::from_str::<PantherMap>(text) else {
                continue;
            };
            for (panther_id, ours) in &map.rules {
                let ids: Vec<&str> = match ours {
                    OneOrMany::One(id) => vec![id],
                    OneOrMany::Many(ids) => ids.iter().map(String::as_str).collect(),
                };
                for id in ids {
                    index
                        .entry(((*plugin).to_owned(), id.to_owned()))
                        .or_default()
                        .push(panther_id.clone());
                }
            }
        }
        index
    })
}

/// The Panther rules `plugin`'s rule `rule_id` is mapped to (none for a plugin not shipped).
pub fn panther_rules(plugin: &str, rule_id: &str) -> Vec<String> {
    panther_index()
        .get(&(plugin.to_owned(), rule_id.to_owned()))
        .cloned()
        .unwrap_or_default()
}

/// The CIS monitoring controls (v1.4.0-v5.0.0 numbering, e.g. `4.8`) `rule_id` implements.
pub fn cis_controls(rule_id: &str) -> Vec<String> {
    CONTROLS
        .iter()
        .filter(|c| c.rules.contains(&rule_id))
        .map(|c| c.id.to_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// Every plugin folder with a `panther.json` (any language) is embedded, and each parses.
    #[test]
    fn every_shipped_panther_map_is_embedded_and_parses() {
        let plugins = Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins");
        let mut on_disk: Vec<String> = ["", "python", "js"]
            .iter()
            .filter_map(|sub| std::fs::read_dir(plugins.join(sub)).ok())
            .flatten()
            .map(|e| e.unwrap().path())
            .filter(|p| p.join("panther.json").is_file())
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        on_disk.sort();
        let embedded: Vec<String> = PANTHER_MAPS.iter().map(|(p, _)| p.to_string()).collect();
        assert_eq!(
            embedded, on_disk,
            "update PANTHER_MAPS in host/src/rule_refs.rs"
        );
        for (plugin, text) in PANTHER_MAPS {
            serde_json::from_str::<PantherMap>(text).unwrap_or_else(|e| panic!("{plugin}: {e}"));
        }
    }

    #[test]
    fn rules_are_found_with_their_panther_rules_and_cis_controls() {
        assert_eq!(
            panther_rules("s3-exposure", "aws.s3.versioning-suspended"),
            [
                "AWS.S3.SecurityControlDisabling",
                "AWS.S3.SuspendVersioning"
            ]
        );
        assert_eq!(
            panther_rules("resource-exposure", "aws.kms.key-policy-public"),
            ["AWS.CloudTrail.ResourceMadePublic"]
        );
        assert!(panther_rules("someone-elses", "aws.kms.key-policy-public").is_empty());
        assert_eq!(cis_controls("aws.s3.bucket-policy-public"), ["4.8"]);
        assert!(cis_controls("aws.kms.key-policy-public").is_empty());
    }
}
