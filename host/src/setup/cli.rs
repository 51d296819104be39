//! `trailwarden setup ...`: arguments, and the glue from them to the AWS calls.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Subcommand;

use super::trail::{self, Management, Place, TrailSpec};
use crate::aws::AwsTarget;
use crate::output::Format;

#[derive(Subcommand)]
pub enum SetupCommand {
    /// An EventBridge rule for CloudTrail events, targeting the daemon through an API
    /// destination whose connection sends the ingest token (--url, --role-arn), or an SQS
    /// queue the daemon consumes (--to-sqs).
    Eventbridge {
        /// Config file (default: ./trailwarden.toml, else every plugin in plugins/dist).
        #[arg(long)]
        config: Option<PathBuf>,
        /// The daemon's public base URL; events go to URL/v1/events.
        #[arg(long, required_unless_present = "to_sqs", conflicts_with = "to_sqs")]
        url: Option<String>,
        /// IAM role EventBridge assumes to invoke the API destination.
        #[arg(long, required_unless_present = "to_sqs", conflicts_with = "to_sqs")]
        role_arn: Option<String>,
        /// Target this SQS queue (ARN, or name in the region) instead; its policy gets a
        /// statement letting the rule send.
        #[arg(long, value_name = "QUEUE_ARN_OR_NAME")]
        to_sqs: Option<String>,
        /// AWS region (default: the config's [aws] region, else the SDK's).
        #[arg(long)]
        region: Option<String>,
        /// Name of the rule (and of the connection and API destination).
        #[arg(long, default_value = "trailwarden")]
        name: String,
        /// Print what would change; change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Create or update a CloudTrail trail, its S3 bucket (CloudTrail's bucket policy, public
    /// access blocked) and event selectors, with log file validation on, and start logging.
    /// Idempotent. With --check: report drift and the CIS logging controls instead.
    Trail(Box<TrailArgs>),
    /// Print a CloudFormation template for the least-privilege role trailwarden assumes in
    /// each account: the IAM actions of the capabilities the config grants (in enforce or
    /// approve mode) and of their undo, on the resources the grants name.
    #[command(after_long_help = super::responder_role::STACKSET_INSTRUCTIONS)]
    ResponderRole {
        /// Config file (default: ./trailwarden.toml, else every plugin in plugins/dist).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value = "yaml")]
        format: TemplateFormat,
        /// Also allow what dry-run grants would do once switched to enforce.
        #[arg(long)]
        include_dry_run: bool,
    },
    /// List the organisation's accounts (Organizations ListAccounts, run in the management
    /// or a delegated administrator account) with the role trailwarden would assume in
    /// each: the config's entry, else its `[aws.assume_role] "*"` pattern. What
    /// `[aws] discover_accounts = true` makes the daemon act in.
    Accounts {
        /// Config file (default: ./trailwarden.toml, else every plugin in plugins/dist).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
}

/// Output of `setup responder-role`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TemplateFormat {
    Yaml,
    Json,
}

#[derive(clap::Args)]
pub struct TrailArgs {
    /// Config file (default: ./trailwarden.toml, else every plugin in plugins/dist).
    #[arg(long)]
    config: Option<PathBuf>,
    /// AWS region (default: the config's [aws] region, else the SDK's).
    #[arg(long)]
    region: Option<String>,
    /// The trail's name (with --check: default every trail of the region).
    #[arg(long, required_unless_present = "check")]
    name: Option<String>,
    /// The S3 bucket for the log files; created if missing.
    #[arg(long, required_unless_present = "check")]
    bucket: Option<String>,
    /// Record every region (CIS 3.1).
    #[arg(long)]
    multi_region: bool,
    /// An organisation trail (run in the management or delegated administrator account).
    #[arg(long)]
    organization: bool,
    /// Encrypt log files with this KMS key: its key ARN (an alias ARN reads back as the key's,
    /// so it would show as a change on every run). Its key policy must let CloudTrail use it.
    #[arg(long)]
    kms_key: Option<String>,
    /// Also deliver to this CloudWatch Logs log group (name or ARN).
    #[arg(long, requires = "role_arn")]
    cloudwatch_logs: Option<String>,
    /// The role CloudTrail assumes to write to the log group.
    #[arg(long, requires = "cloudwatch_logs")]
    role_arn: Option<String>,
    /// Management events to record (basic selectors).
    #[arg(long, value_enum, conflicts_with = "selectors")]
    management: Option<Management>,
    /// Data events (basic selectors): s3:BUCKET[/PREFIX], lambda:* or lambda:FUNCTION_ARN.
    #[arg(long, conflicts_with = "selectors")]
    data: Vec<String>,
    /// Advanced event selectors: a JSON file as AWS takes them.
    #[arg(long)]
    selectors: Option<PathBuf>,
    /// Print what would change; change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Report drift and the CIS logging controls; exit status 1 when one fails.
    #[arg(long, conflicts_with_all = ["bucket", "multi_region", "organization", "kms_key",
        "cloudwatch_logs", "role_arn", "management", "data", "selectors", "dry_run"])]
    check: bool,
    /// Output of --check.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
}

/// Runs a `setup` subcommand.
///
/// # Errors
/// The config cannot be loaded, an argument is invalid, or an AWS call fails.
pub fn run(command: SetupCommand) -> Result<ExitCode> {
    match command {
        SetupCommand::Eventbridge {
            config,
            url,
            role_arn,
            to_sqs,
            region,
            name,
            dry_run,
        } => match (to_sqs, url, role_arn) {
            (Some(queue), _, _) => {
                setup_eventbridge_sqs(config.as_deref(), &queue, region, &name, dry_run)
            }
            (None, Some(url), Some(role_arn)) => {
                setup_eventbridge(config.as_deref(), &url, &role_arn, region, &name, dry_run)
            }
            _ => anyhow::bail!("give --url and --role-arn, or --to-sqs"),
        },
        SetupCommand::ResponderRole {
            config,
            format,
            include_dry_run,
        } => responder_role(config.as_deref(), format, include_dry_run),
        SetupCommand::Accounts { config, format } => accounts(config.as_deref(), format),
        SetupCommand::Trail(args) if args.check => trail_check(&args),
        SetupCommand::Trail(args) => setup_trail(&args),
    }
}

fn accounts(config: Option<&Path>, format: Format) -> Result<ExitCode> {
    let (config, target) = aws_target(config, None)?;
    let accounts = runtime()?.block_on(crate::organizations::list_accounts(&target))?;
    let roles = crate::organizations::roles_for(&config.response, &accounts);
    let role_of = |id: &str| roles.get(id).cloned().flatten();
    match format {
        Format::Json => {
            let rows: Vec<serde_json::Value> = accounts
                .iter()
                .map(|a| {
                    let mut row = serde_json::to_value(a).unwrap_or_default();
                    row["role"] = serde_json::json!(role_of(&a.id));
                    row
                })
                .collect();
            println!("{}", serde_json::to_string_pretty(&rows)?);
        }
        Format::Table => {
            println!("{:<12}  {:<24}  {:<9}  ROLE", "ACCOUNT", "NAME", "STATUS");
            for a in &accounts {
                let role = if config.response.platform_account.as_deref() == Some(a.id.as_str())
                    && role_of(&a.id).is_none()
                {
                    "(platform account: own credentials)".to_string()
                } else {
                    role_of(&a.id).unwrap_or_else(|| "-".to_string())
                };
                println!(
                    "{:<12}  {}  {:<9}  {role}",
                    a.id,
                    crate::output::fit(&a.name, 24),
                    a.status
                );
            }
            println!("{} accounts", accounts.len());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The config's `[aws]` target, with `--region` over it.
fn aws_target(
    config: Option<&Path>,
    region: Option<String>,
) -> Result<(crate::config::Config, AwsTarget)> {
    let config = crate::config::load_config(config)?;
    let mut target = AwsTarget::of(&config);
    if region.is_some() {
        target.region = region;
    }
    Ok((config, target))
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

async fn trail_clients(target: &AwsTarget) -> (aws_config::SdkConfig, trail::Clients) {
    let sdk = target.sdk_config().await;
    let clients = trail::Clients {
        cloudtrail: aws_sdk_cloudtrail::Client::new(&sdk),
        s3: target.s3(&sdk),
    };
    (sdk, clients)
}

/// The account of our credentials and the region of the SDK configuration.
async fn place(sdk: &aws_config::SdkConfig) -> Result<Place> {
    let region = sdk
        .region()
        .map(|r| r.to_string())
        .context("no AWS region: set [aws] region in the config, AWS_REGION, or --region")?;
    let identity = aws_sdk_sts::Client::new(sdk)
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| super::sdk_error("sts:GetCallerIdentity", e))?;
    let account = identity
        .account()
        .context("sts:GetCallerIdentity returned no account")?
        .to_string();
    Ok(Place { account, region })
}

fn setup_trail(args: &TrailArgs) -> Result<ExitCode> {
    let (_, target) = aws_target(args.config.as_deref(), args.region.clone())?;
    let (Some(name), Some(bucket)) = (&args.name, &args.bucket) else {
        anyhow::bail!("--name and --bucket are required");
    };
    let selectors_text = match &args.selectors {
        Some(path) => Some(read_bounded(path, trail::MAX_SELECTORS_BYTES)?),
        None => None,
    };
    runtime()?.block_on(async {
        let (sdk, clients) = trail_clients(&target).await;
        let place = place(&sdk).await?;
        let selectors = match &selectors_text {
            Some(text) => trail::advanced_selectors(text).with_context(|| {
                format!("--selectors {}", args.selectors.as_ref().unwrap().display())
            })?,
            None => trail::basic_selectors(
                args.management.unwrap_or(Management::All),
                &args.data,
                place.partition(),
            )?,
        };
        let spec = TrailSpec {
            name: name.clone(),
            bucket: bucket.clone(),
            multi_region: args.multi_region.then_some(true),
            organization: args.organization.then_some(true),
            kms_key: args.kms_key.clone(),
            cloudwatch_logs: args.cloudwatch_logs.clone().zip(args.role_arn.clone()),
            selectors,
        };
        let changes = trail::converge(&clients, &spec, &place, args.dry_run).await?;
        super::print_changes(&changes, args.dry_run, &format!("trail {name}"));
        Ok(ExitCode::SUCCESS)
    })
}

fn trail_check(args: &TrailArgs) -> Result<ExitCode> {
    let (_, target) = aws_target(args.config.as_deref(), args.region.clone())?;
    let report = runtime()?.block_on(async {
        let (_, clients) = trail_clients(&target).await;
        super::check::check(&clients, args.name.as_deref()).await
    })?;
    match args.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        Format::Table => print!("{}", super::check::table(&report)),
    }
    Ok(if report.passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Reads a file of at most `max` bytes.
fn read_bounded(path: &Path, max: u64) -> Result<String> {
    let size = std::fs::metadata(path)
        .with_context(|| format!("cannot read {}", path.display()))?
        .len();
    anyhow::ensure!(
        size <= max,
        "{} is {size} bytes, more than the {max} allowed",
        path.display()
    );
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

fn setup_eventbridge(
    config: Option<&Path>,
    url: &str,
    role_arn: &str,
    region: Option<String>,
    name: &str,
    dry_run: bool,
) -> Result<ExitCode> {
    let (config, target) = aws_target(config, region)?;
    anyhow::ensure!(
        url.starts_with("https://") || url.starts_with("http://"),
        "--url must be the daemon's public http(s) base URL"
    );
    let token_path = config.intake.daemon.token_path(&config.database);
    if dry_run {
        // The token is not read: the plan does not need it, and a dry run creates nothing.
        let changes = runtime()?.block_on(async {
            let sdk = target.sdk_config().await;
            let place = place(&sdk).await?;
            let client = aws_sdk_eventbridge::Client::new(&sdk);
            super::eventbridge::plan_api_destination(
                &client,
                &super::eventbridge::ApiDestinationPlan {
                    url,
                    name,
                    role_arn,
                    api_key_header: &config.intake.daemon.api_key_header,
                },
                &place,
            )
            .await
        })?;
        if !token_path.exists() {
            println!(
                "would create a new ingest token in {}",
                token_path.display()
            );
        }
        super::print_changes(&changes, true, &format!("EventBridge rule {name}"));
        return Ok(ExitCode::SUCCESS);
    }
    let (token, created) = crate::token::load_or_create(&token_path)?;
    if created {
        eprintln!(
            "created a new ingest token in {} (the daemon will use it)",
            token_path.display()
        );
    }
    let created = runtime()?.block_on(async {
        let sdk = target.sdk_config().await;
        let client = aws_sdk_eventbridge::Client::new(&sdk);
        super::eventbridge(
            &client,
            &super::EventBridgeSetup {
                url,
                name,
                role_arn,
                api_key_header: &config.intake.daemon.api_key_header,
                token: &token,
            },
        )
        .await
    })?;
    println!("{}", serde_json::to_string_pretty(&created)?);
    Ok(ExitCode::SUCCESS)
}

fn setup_eventbridge_sqs(
    config: Option<&Path>,
    queue: &str,
    region: Option<String>,
    name: &str,
    dry_run: bool,
) -> Result<ExitCode> {
    let (_, target) = aws_target(config, region)?;
    let changes = runtime()?.block_on(async {
        let sdk = target.sdk_config().await;
        let place = place(&sdk).await?;
        let events = aws_sdk_eventbridge::Client::new(&sdk);
        let sqs = aws_sdk_sqs::Client::new(&sdk);
        let queue = super::eventbridge::find_queue(&sqs, queue).await?;
        super::eventbridge::to_sqs(&events, &sqs, name, &queue, &place, dry_run).await
    })?;
    super::print_changes(&changes, dry_run, &format!("EventBridge rule {name}"));
    Ok(ExitCode::SUCCESS)
}

fn responder_role(
    config: Option<&Path>,
    format: TemplateFormat,
    include_dry_run: bool,
) -> Result<ExitCode> {
    use super::responder_role::{template, to_yaml, STACKSET_INSTRUCTIONS};
    let config = crate::config::load_config(config)?;
    let template = template(&config, include_dry_run)?;
    match format {
        TemplateFormat::Json => println!("{}", serde_json::to_string_pretty(&template)?),
        TemplateFormat::Yaml => {
            for line in STACKSET_INSTRUCTIONS.lines() {
                println!("# {line}");
            }
            print!("{}", to_yaml(&template));
        }
    }
    Ok(ExitCode::SUCCESS)
}
