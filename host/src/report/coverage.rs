//! `report coverage`: the ATT&CK techniques the loaded rules claim, as a matrix by tactic,
//! with the rules behind each technique and how often each fired in the period.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::attack;
use super::queries::FindingFacts;
use super::Period;
use crate::rule_row::RuleRow;

/// A rule behind a technique.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct RuleRef {
    pub id: String,
    pub plugin: String,
    pub title: String,
    pub severity: String,
    /// Findings it raised in the period.
    pub fired: u64,
}

/// One technique in the matrix.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct TechniqueCell {
    pub id: String,
    pub name: String,
    pub rules: Vec<RuleRef>,
    /// Findings of all its rules in the period.
    pub fired: u64,
}

/// One tactic column.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct TacticColumn {
    /// ATT&CK id (`TA0001`), empty where the table does not know it.
    pub id: String,
    pub short_name: String,
    pub name: String,
    pub techniques: Vec<TechniqueCell>,
}

/// `report coverage`.
#[derive(Debug, Clone, Serialize)]
pub struct CoverageReport {
    pub period: Period,
    pub account: Option<String>,
    pub generated_at: String,
    /// Active rules loaded.
    pub rules_active: usize,
    /// Rules the plugins refused (they never fire), not in the matrix.
    pub rules_refused: usize,
    pub techniques_claimed: usize,
    pub techniques_fired: usize,
    pub tactics: Vec<TacticColumn>,
    /// Techniques claimed that the shipped ATT&CK table does not know.
    pub unmapped: Vec<TechniqueCell>,
    /// Active rules that claim no technique.
    pub rules_without_technique: Vec<RuleRef>,
    /// Plugins whose catalog could not be read (their rules are not counted).
    pub plugins_without_catalog: Vec<String>,
}

/// The technique ids of a rule row (`"T1078.004, T1110"`).
pub fn techniques_of(rule: &RuleRow) -> Vec<String> {
    rule.technique
        .split(',')
        .map(|t| t.trim().to_ascii_uppercase())
        .filter(|t| !t.is_empty())
        .collect()
}

/// Builds the coverage matrix from the loaded catalog and the period's findings.
pub fn build(
    period: &Period,
    account: Option<&str>,
    rules: &[RuleRow],
    plugins_without_catalog: Vec<String>,
    findings: &[FindingFacts],
) -> CoverageReport {
    let mut fired: HashMap<(&str, &str), u64> = HashMap::new();
    for f in findings {
        *fired
            .entry((f.finding.plugin.as_str(), f.finding.rule_id.as_str()))
            .or_default() += 1;
    }
    let active: Vec<&RuleRow> = rules.iter().filter(|r| r.reason.is_none()).collect();
    let reference = |rule: &RuleRow| RuleRef {
        id: rule.id.clone(),
        plugin: rule.plugin.clone(),
        title: rule.title.clone(),
        severity: rule.severity.clone(),
        fired: fired
            .get(&(rule.plugin.as_str(), rule.id.as_str()))
            .copied()
            .unwrap_or(0),
    };
    let mut by_technique: BTreeMap<String, Vec<RuleRef>> = BTreeMap::new();
    let mut rules_without_technique = Vec::new();
    for rule in &active {
        let techniques = techniques_of(rule);
        if techniques.is_empty() {
            rules_without_technique.push(reference(rule));
        }
        for technique in techniques {
            by_technique
                .entry(technique)
                .or_default()
                .push(reference(rule));
        }
    }
    let cell = |id: &str, name: &str, refs: &[RuleRef]| TechniqueCell {
        id: id.to_string(),
        name: name.to_string(),
        fired: refs.iter().map(|r| r.fired).sum(),
        rules: refs.to_vec(),
    };
    let mut tactics: Vec<TacticColumn> = attack::TACTICS
        .iter()
        .map(|(id, short, name)| TacticColumn {
            id: id.to_string(),
            short_name: short.to_string(),
            name: name.to_string(),
            techniques: Vec::new(),
        })
        .collect();
    let mut unmapped = Vec::new();
    for (technique, refs) in &by_technique {
        match attack::technique(technique) {
            Some((name, technique_tactics)) => {
                for column in tactics
                    .iter_mut()
                    .filter(|c| technique_tactics.contains(&c.short_name.as_str()))
                {
                    column.techniques.push(cell(technique, name, refs));
                }
            }
            None => unmapped.push(cell(technique, "", refs)),
        }
    }
    let techniques_fired = by_technique
        .values()
        .filter(|refs| refs.iter().any(|r| r.fired > 0))
        .count();
    CoverageReport {
        period: period.clone(),
        account: account.map(str::to_string),
        generated_at: crate::audit::now_rfc3339(),
        rules_active: active.len(),
        rules_refused: rules.len() - active.len(),
        techniques_claimed: by_technique.len(),
        techniques_fired,
        tactics,
        unmapped,
        rules_without_technique,
        plugins_without_catalog,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(id: &str, technique: &str) -> RuleRow {
        RuleRow {
            id: id.into(),
            plugin: "p".into(),
            severity: "high".into(),
            technique: technique.into(),
            response: "report only".into(),
            title: id.into(),
            panther: Vec::new(),
            cis: Vec::new(),
            status: "active",
            reason: None,
        }
    }

    #[test]
    fn a_technique_appears_under_each_of_its_tactics_and_unknown_ones_apart() {
        let period = Period {
            since: "2024-01-01T00:00:00Z".into(),
            until: "2024-02-01T00:00:00Z".into(),
        };
        let rules = vec![
            rule("a", "T1078.004"),
            rule("b", "T1562.008, T9999"),
            rule("c", ""),
        ];
        let report = build(&period, None, &rules, vec![], &[]);
        let columns_with = |t: &str| {
            report
                .tactics
                .iter()
                .filter(|c| c.techniques.iter().any(|cell| cell.id == t))
                .map(|c| c.short_name.as_str())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            columns_with("T1078.004"),
            vec![
                "initial-access",
                "persistence",
                "privilege-escalation",
                "defense-evasion"
            ]
        );
        assert_eq!(columns_with("T1562.008"), vec!["defense-evasion"]);
        assert_eq!(report.unmapped[0].id, "T9999");
        assert_eq!(report.rules_without_technique[0].id, "c");
        assert_eq!((report.techniques_claimed, report.techniques_fired), (3, 0));
    }
}
