//! A small MITRE ATT&CK (Enterprise) table: the tactics in matrix order, and for each
//! technique our rules claim, its name and tactics. Taken from ATT&CK's technique pages;
//! a technique missing here is shown as "unmapped", never guessed. T1685/T1686 are
//! placed under "Defense Impairment" as the SigmaHQ rules that claim them tag it.

/// Tactics in the matrix's order: (ATT&CK id, short name, display name).
pub const TACTICS: &[(&str, &str, &str)] = &[
    ("TA0043", "reconnaissance", "Reconnaissance"),
    ("TA0042", "resource-development", "Resource Development"),
    ("TA0001", "initial-access", "Initial Access"),
    ("TA0002", "execution", "Execution"),
    ("TA0003", "persistence", "Persistence"),
    ("TA0004", "privilege-escalation", "Privilege Escalation"),
    ("TA0005", "defense-evasion", "Defense Evasion"),
    // Its ATT&CK id is not in our table; the SigmaHQ rules name only the short name.
    ("", "defense-impairment", "Defense Impairment"),
    ("TA0006", "credential-access", "Credential Access"),
    ("TA0007", "discovery", "Discovery"),
    ("TA0008", "lateral-movement", "Lateral Movement"),
    ("TA0009", "collection", "Collection"),
    ("TA0011", "command-and-control", "Command and Control"),
    ("TA0010", "exfiltration", "Exfiltration"),
    ("TA0040", "impact", "Impact"),
];

const IA: &str = "initial-access";
const EX: &str = "execution";
const PE: &str = "persistence";
const PR: &str = "privilege-escalation";
const DE: &str = "defense-evasion";
const DI: &str = "defense-impairment";
const CA: &str = "credential-access";
const DS: &str = "discovery";
const LM: &str = "lateral-movement";
const CO: &str = "collection";
const XF: &str = "exfiltration";
const IM: &str = "impact";
const RD: &str = "resource-development";

/// (technique id, name, tactics). Sub-techniques inherit their parent's tactics.
pub const TECHNIQUES: &[(&str, &str, &[&str])] = &[
    ("T1003", "OS Credential Dumping", &[CA]),
    ("T1005", "Data from Local System", &[CO]),
    ("T1020", "Automated Exfiltration", &[XF]),
    ("T1021.007", "Remote Services: Cloud Services", &[LM]),
    ("T1037", "Boot or Logon Initialization Scripts", &[PE, PR]),
    ("T1059", "Command and Scripting Interpreter", &[EX]),
    (
        "T1059.001",
        "Command and Scripting Interpreter: PowerShell",
        &[EX],
    ),
    (
        "T1059.003",
        "Command and Scripting Interpreter: Windows Command Shell",
        &[EX],
    ),
    (
        "T1059.004",
        "Command and Scripting Interpreter: Unix Shell",
        &[EX],
    ),
    (
        "T1059.009",
        "Command and Scripting Interpreter: Cloud API",
        &[EX],
    ),
    ("T1070", "Indicator Removal", &[DE]),
    ("T1078", "Valid Accounts", &[IA, PE, PR, DE]),
    (
        "T1078.002",
        "Valid Accounts: Domain Accounts",
        &[IA, PE, PR, DE],
    ),
    (
        "T1078.004",
        "Valid Accounts: Cloud Accounts",
        &[IA, PE, PR, DE],
    ),
    ("T1087.004", "Account Discovery: Cloud Account", &[DS]),
    ("T1098", "Account Manipulation", &[PE, PR]),
    (
        "T1098.001",
        "Account Manipulation: Additional Cloud Credentials",
        &[PE, PR],
    ),
    (
        "T1098.003",
        "Account Manipulation: Additional Cloud Roles",
        &[PE, PR],
    ),
    ("T1110", "Brute Force", &[CA]),
    ("T1110.001", "Brute Force: Password Guessing", &[CA]),
    ("T1110.003", "Brute Force: Password Spraying", &[CA]),
    ("T1110.004", "Brute Force: Credential Stuffing", &[CA]),
    ("T1136", "Create Account", &[PE]),
    ("T1136.003", "Create Account: Cloud Account", &[PE]),
    ("T1190", "Exploit Public-Facing Application", &[IA]),
    ("T1199", "Trusted Relationship", &[IA]),
    (
        "T1484.002",
        "Domain or Tenant Policy Modification: Trust Modification",
        &[DE, PR],
    ),
    ("T1485", "Data Destruction", &[IM]),
    ("T1486", "Data Encrypted for Impact", &[IM]),
    ("T1490", "Inhibit System Recovery", &[IM]),
    ("T1525", "Implant Internal Image", &[PE]),
    ("T1530", "Data from Cloud Storage", &[CO]),
    ("T1531", "Account Access Removal", &[IM]),
    ("T1537", "Transfer Data to Cloud Account", &[XF]),
    ("T1548", "Abuse Elevation Control Mechanism", &[PR, DE]),
    ("T1550", "Use Alternate Authentication Material", &[DE, LM]),
    (
        "T1550.001",
        "Use Alternate Authentication Material: Application Access Token",
        &[DE, LM],
    ),
    (
        "T1552.001",
        "Unsecured Credentials: Credentials In Files",
        &[CA],
    ),
    ("T1555", "Credentials from Password Stores", &[CA]),
    (
        "T1555.006",
        "Credentials from Password Stores: Cloud Secrets Management Stores",
        &[CA],
    ),
    ("T1556", "Modify Authentication Process", &[CA, DE, PE]),
    (
        "T1556.006",
        "Modify Authentication Process: Multi-Factor Authentication",
        &[CA, DE, PE],
    ),
    ("T1562", "Impair Defenses", &[DE]),
    (
        "T1562.001",
        "Impair Defenses: Disable or Modify Tools",
        &[DE],
    ),
    (
        "T1562.007",
        "Impair Defenses: Disable or Modify Cloud Firewall",
        &[DE],
    ),
    (
        "T1562.008",
        "Impair Defenses: Disable or Modify Cloud Logs",
        &[DE],
    ),
    ("T1565", "Data Manipulation", &[IM]),
    ("T1566", "Phishing", &[IA]),
    ("T1566.002", "Phishing: Spearphishing Link", &[IA]),
    ("T1578", "Modify Cloud Compute Infrastructure", &[DE]),
    (
        "T1578.002",
        "Modify Cloud Compute Infrastructure: Create Cloud Instance",
        &[DE],
    ),
    ("T1580", "Cloud Infrastructure Discovery", &[DS]),
    ("T1606.002", "Forge Web Credentials: SAML Tokens", &[CA]),
    (
        "T1608.003",
        "Stage Capabilities: Install Digital Certificate",
        &[RD],
    ),
    ("T1619", "Cloud Storage Object Discovery", &[DS]),
    ("T1666", "Modify Cloud Resource Hierarchy", &[DE]),
    (
        "T1685",
        "Defense impairment technique (name not in this table; tagged by SigmaHQ)",
        &[DI],
    ),
    (
        "T1685.002",
        "Defense impairment sub-technique (name not in this table; tagged by SigmaHQ)",
        &[DI],
    ),
    (
        "T1686.001",
        "Defense impairment sub-technique (name not in this table; tagged by SigmaHQ)",
        &[DI],
    ),
];

/// A technique's name and tactics, if the table has it.
pub fn technique(id: &str) -> Option<(&'static str, &'static [&'static str])> {
    TECHNIQUES
        .iter()
        .find(|(tid, _, _)| tid.eq_ignore_ascii_case(id))
        .map(|(_, name, tactics)| (*name, *tactics))
}

/// The display name and ATT&CK id of a tactic's short name.
pub fn tactic(short: &str) -> Option<(&'static str, &'static str)> {
    TACTICS
        .iter()
        .find(|(_, s, _)| *s == short)
        .map(|(id, _, name)| (*id, *name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_technique_names_known_tactics_and_is_listed_once() {
        for (id, _, tactics) in TECHNIQUES {
            assert!(!tactics.is_empty(), "{id}");
            for t in *tactics {
                assert!(tactic(t).is_some(), "{id}: {t}");
            }
            assert_eq!(
                TECHNIQUES
                    .iter()
                    .filter(|(other, _, _)| other == id)
                    .count(),
                1,
                "{id}"
            );
        }
        assert_eq!(technique("t1078.004").unwrap().1.len(), 4);
        assert!(technique("T9999").is_none());
    }
}
