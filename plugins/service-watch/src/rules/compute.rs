//! EC2, VPC, Lambda and CodeBuild: network paths, images, instances, function code.

use trailwarden_plugin_sdk::Severity;

use crate::spec::{always, Facts, Kind, Names, Spec};

const EC2: &[&str] = &["ec2.amazonaws.com"];
const LAMBDA: &[&str] = &["lambda.amazonaws.com"];

/// The function now runs with at least one layer.
fn with_layers(f: &Facts) -> bool {
    f.by_person()
        && f.response("layers")
            .and_then(|l| l.as_array())
            .is_some_and(|l| !l.is_empty())
}

fn by_person(f: &Facts) -> bool {
    f.by_person()
}

fn not_a_read(f: &Facts) -> bool {
    !f.name().starts_with("Describe")
}

fn made_public(f: &Facts) -> bool {
    f.param_str("projectVisibility") == Some("PUBLIC_READ")
}

pub const RULES: &[Spec] = &[
    Spec {
        id: "aws.ec2.gateway-modified",
        severity: Severity::Info,
        title: "EC2 network gateway changed",
        technique: "T1599",
        sources: EC2,
        names: Names::Exact(&[
            "AttachInternetGateway",
            "CreateCustomerGateway",
            "CreateInternetGateway",
            "DeleteCustomerGateway",
            "DeleteInternetGateway",
            "DetachInternetGateway",
        ]),
        kind: Kind::ApiCall,
        attempts: false,
        when: always,
        why: "Gateways decide what reaches a VPC from the internet or a remote network.",
        runbook: "Check the change is part of a reviewed network change; undo it if not.",
    },
    Spec {
        id: "aws.ec2.network-acl-modified",
        severity: Severity::Info,
        title: "EC2 network ACL changed",
        technique: "T1562.007",
        sources: EC2,
        names: Names::Exact(&[
            "CreateNetworkAcl",
            "CreateNetworkAclEntry",
            "DeleteNetworkAcl",
            "DeleteNetworkAclEntry",
            "ReplaceNetworkAclAssociation",
            "ReplaceNetworkAclEntry",
        ]),
        kind: Kind::ApiCall,
        attempts: false,
        when: always,
        why: "Network ACLs are a subnet's firewall; an opened entry lets traffic in or out.",
        runbook: "Check the entry against the network's intended rules; remove it if not reviewed.",
    },
    Spec {
        id: "aws.ec2.route-table-modified",
        severity: Severity::Info,
        title: "EC2 route table changed",
        technique: "T1599",
        sources: EC2,
        names: Names::Exact(&[
            "CreateRoute",
            "CreateRouteTable",
            "DeleteRoute",
            "DeleteRouteTable",
            "DisassociateRouteTable",
            "ReplaceRoute",
            "ReplaceRouteTableAssociation",
        ]),
        kind: Kind::ApiCall,
        attempts: false,
        when: always,
        why: "Routes decide where a subnet's traffic goes; a new route can send it through a host an attacker controls.",
        runbook: "Check the route's target is expected; delete or replace it if not.",
    },
    Spec {
        id: "aws.ec2.security-group-modified",
        severity: Severity::Info,
        title: "EC2 security group changed",
        technique: "T1562.007",
        sources: EC2,
        names: Names::Exact(&[
            "AuthorizeSecurityGroupEgress",
            "AuthorizeSecurityGroupIngress",
            "CreateSecurityGroup",
            "DeleteSecurityGroup",
            "RevokeSecurityGroupEgress",
            "RevokeSecurityGroupIngress",
        ]),
        kind: Kind::ApiCall,
        attempts: false,
        when: always,
        why: "Security groups are instances' firewalls; changes open or close paths to them.",
        runbook: "Check the rule against the intended exposure (network-exposure reports the world-open ones); revoke it if not reviewed.",
    },
    Spec {
        id: "aws.ec2.vpc-modified",
        severity: Severity::Info,
        title: "VPC changed",
        technique: "T1599",
        sources: EC2,
        names: Names::Exact(&[
            "AcceptVpcPeeringConnection",
            "AttachClassicLinkVpc",
            "CreateVpc",
            "CreateVpcPeeringConnection",
            "DeleteVpc",
            "DeleteVpcPeeringConnection",
            "DetachClassicLinkVpc",
            "DisableVpcClassicLink",
            "EnableVpcClassicLink",
            "ModifyVpcAttribute",
            "RejectVpcPeeringConnection",
        ]),
        kind: Kind::ApiCall,
        attempts: false,
        when: always,
        why: "VPCs and peerings bound which networks can talk to each other.",
        runbook: "Check the change is part of a reviewed network change; a peering with an unknown account is to be rejected or deleted.",
    },
    Spec {
        id: "aws.ec2.instances-stopped",
        severity: Severity::Info,
        title: "EC2 instances stopped",
        technique: "T1529",
        sources: EC2,
        names: Names::Exact(&["StopInstances"]),
        kind: Kind::ApiCall,
        attempts: false,
        when: always,
        why: "Stopped instances stop serving; a stop also allows changing their user data or volumes before restart.",
        runbook: "Check the stop was planned; if not, look for ModifyInstanceAttribute (user data) or volume changes before the instances restart.",
    },
    Spec {
        id: "aws.ec2.traffic-mirroring",
        severity: Severity::Medium,
        title: "EC2 traffic mirroring changed",
        technique: "T1040",
        sources: EC2,
        names: Names::Prefix(&[
            "CreateTrafficMirror",
            "DeleteTrafficMirror",
            "ModifyTrafficMirror",
        ]),
        kind: Kind::ApiCall,
        attempts: true,
        when: not_a_read,
        why: "Traffic mirroring copies an interface's packets to another target: a way to sniff traffic, attempts included.",
        runbook: "Check the mirror session's target belongs to a monitoring team; delete the session and target if not.",
    },
    Spec {
        id: "aws.ec2.image-activity",
        severity: Severity::Info,
        title: "EC2 machine image created, copied or shared",
        technique: "T1578",
        sources: EC2,
        names: Names::Exact(&[
            "CopyImage",
            "CreateImage",
            "CreateRestoreImageTask",
            "CreateStoreImageTask",
            "ExportImage",
            "ImportImage",
            "ModifyImageAttribute",
            "RegisterImage",
        ]),
        kind: Kind::ApiCall,
        attempts: false,
        when: always,
        why: "An image holds an instance's disks; copying, exporting or sharing it moves that data.",
        runbook: "Check who uses the image and where it went (launch permissions, export bucket); deregister it if unexplained.",
    },
    Spec {
        id: "aws.lambda.code-updated-by-person",
        severity: Severity::High,
        title: "Lambda function code updated by a person",
        technique: "T1648",
        sources: LAMBDA,
        names: Names::Prefix(&["UpdateFunctionCode"]),
        kind: Kind::ApiCall,
        attempts: false,
        when: by_person,
        why: "Function code changed outside the deployment pipeline (an IAM user, federated or SSO session): stolen credentials or a bypass of review.",
        runbook: "Compare the deployed code with the repository; roll back to the last reviewed version if they differ.",
    },
    Spec {
        id: "aws.lambda.layer-added-by-person",
        severity: Severity::High,
        title: "Lambda function given layers by a person",
        technique: "T1648",
        sources: LAMBDA,
        names: Names::Prefix(&["UpdateFunctionConfiguration"]),
        kind: Kind::ApiCall,
        attempts: false,
        when: with_layers,
        why: "Layers (and extensions in them) run code before the function's own, unseen in its source: a quiet persistence.",
        runbook: "Check every layer ARN is one of the organisation's; remove unknown layers and review the caller.",
    },
    Spec {
        id: "aws.lambda.permission-added",
        severity: Severity::Low,
        title: "Permission added to a Lambda function",
        technique: "T1098",
        sources: LAMBDA,
        names: Names::Prefix(&["AddPermission"]),
        kind: Kind::ApiCall,
        attempts: false,
        when: always,
        why: "The function's resource policy lets another principal, service or account invoke it: a backdoor if unexpected.",
        runbook: "Read the added statement (principal, source ARN); remove it (remove-permission) if not expected.",
    },
    Spec {
        id: "aws.codebuild.project-made-public",
        severity: Severity::High,
        title: "CodeBuild project made public",
        technique: "T1530",
        sources: &["codebuild.amazonaws.com"],
        names: Names::Exact(&["UpdateProjectVisibility"]),
        kind: Kind::ApiCall,
        attempts: false,
        when: made_public,
        why: "Anyone can now read the project's build logs and artifacts, which often hold secrets.",
        runbook: "Make it private again (update-project-visibility --project-visibility PRIVATE) and rotate secrets its builds printed.",
    },
    Spec {
        id: "aws.account.region-enabled",
        severity: Severity::Medium,
        title: "Opt-in AWS region enabled",
        technique: "T1535",
        sources: &["account.amazonaws.com", "cloudtrail.amazonaws.com"],
        names: Names::Exact(&["EnableRegion"]),
        kind: Kind::ApiCall,
        attempts: false,
        when: always,
        why: "Intruders enable regions nobody watches to run resources (often miners) out of sight.",
        runbook: "Check the region is to be used; if not, disable it (aws account disable-region) and look for resources created there.",
    },
];
