//! Test harness: a private moto server (AWS emulator) on 127.0.0.1, for tests that make
//! real HTTP calls with real SigV4 signing through the real SDK.
//!
//! Enabled by the `test-support` feature. Each [`Moto`] is its own process with its own
//! state; dropping it kills and reaps the process.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_iam::config::{Credentials, SharedCredentialsProvider};

use crate::clients::{sdk_http_client, AwsSettings};

/// The account moto puts resources in for credentials it did not issue.
pub const MOTO_ACCOUNT: &str = "123456789012";
/// The region the harness configures.
pub const MOTO_REGION: &str = "us-east-1";
/// Environment variable naming the `moto_server` executable.
pub const MOTO_SERVER_ENV: &str = "TRAILWARDEN_MOTO_SERVER";

const START_TIMEOUT: Duration = Duration::from_secs(20);

/// A running `moto_server`, killed on drop.
#[derive(Debug)]
pub struct Moto {
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    child: Child,
    log: PathBuf,
}

/// SDK clients pointed at a [`Moto`], for setting up and checking state in tests.
#[derive(Debug, Clone)]
pub struct SdkClients {
    pub config: SdkConfig,
    pub iam: aws_sdk_iam::Client,
    pub cloudtrail: aws_sdk_cloudtrail::Client,
    pub s3: aws_sdk_s3::Client,
    pub events: aws_sdk_eventbridge::Client,
    pub sts: aws_sdk_sts::Client,
}

impl SdkClients {
    fn new(config: SdkConfig) -> Self {
        let s3 = aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(true)
            .build();
        SdkClients {
            iam: aws_sdk_iam::Client::new(&config),
            cloudtrail: aws_sdk_cloudtrail::Client::new(&config),
            s3: aws_sdk_s3::Client::from_conf(s3),
            events: aws_sdk_eventbridge::Client::new(&config),
            sts: aws_sdk_sts::Client::new(&config),
            config,
        }
    }
}

impl Moto {
    /// Starts `moto_server` on a free port of 127.0.0.1 and waits (at most 20 s) until it
    /// answers HTTP.
    ///
    /// # Panics
    /// When `moto_server` cannot be found (the message says how to install it), or does not
    /// come up in time. Tests that need AWS never skip silently.
    pub fn start() -> Moto {
        let server = find_moto_server();
        let mut last_error = String::new();
        // A port picked free can be taken before moto binds it; try a few.
        for _ in 0..3 {
            let port = free_port();
            let log = std::env::temp_dir().join(format!(
                "trailwarden-moto-{}-{port}.log",
                std::process::id()
            ));
            let log_file = std::fs::File::create(&log)
                .unwrap_or_else(|e| panic!("creating {}: {e}", log.display()));
            let child = Command::new(&server)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log_file)
                .spawn()
                .unwrap_or_else(|e| panic!("spawning {}: {e}", server.display()));
            let mut moto = Moto {
                endpoint: format!("http://127.0.0.1:{port}"),
                child,
                log,
            };
            match moto.wait_until_ready(port) {
                Ok(()) => return moto,
                Err(why) => last_error = why,
            }
        }
        panic!("moto_server did not start: {last_error}");
    }

    fn wait_until_ready(&mut self, port: u16) -> Result<(), String> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                let log = std::fs::read_to_string(&self.log).unwrap_or_default();
                return Err(format!("it exited with {status}; its log:\n{log}"));
            }
            if answers_http(port) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "no HTTP answer on port {port} within {} s (log: {})",
                    START_TIMEOUT.as_secs(),
                    self.log.display()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Settings for an [`Executor`](crate::Executor) that talks to this server with dummy
    /// credentials, as the platform account [`MOTO_ACCOUNT`] in [`MOTO_REGION`].
    pub fn settings(&self) -> AwsSettings {
        AwsSettings {
            endpoint_url: Some(self.endpoint.clone()),
            region: Some(MOTO_REGION.to_owned()),
            assume_role_by_account: Default::default(),
            platform_account: Some(MOTO_ACCOUNT.to_owned()),
            credentials: Some(dummy_credentials()),
        }
    }

    /// SDK configuration for this server with dummy credentials (nothing is read from the
    /// process environment, so tests in parallel threads do not interfere).
    pub fn sdk_config(&self) -> SdkConfig {
        SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::from_static(MOTO_REGION))
            .endpoint_url(&self.endpoint)
            .credentials_provider(dummy_credentials())
            .http_client(sdk_http_client())
            .build()
    }

    /// Clients in [`MOTO_ACCOUNT`], for setting up and checking state.
    pub fn clients(&self) -> SdkClients {
        SdkClients::new(self.sdk_config())
    }

    /// Clients in another account: moto puts what credentials from an AssumeRole create in
    /// the role's account (the role need not exist).
    ///
    /// # Panics
    /// When moto refuses the AssumeRole.
    pub async fn clients_in_account(&self, account: &str) -> SdkClients {
        let role_arn = format!("arn:aws:iam::{account}:role/trailwarden-test-setup");
        let out = self
            .clients()
            .sts
            .assume_role()
            .role_arn(&role_arn)
            .role_session_name("trailwarden-test-setup")
            .send()
            .await
            .unwrap_or_else(|e| panic!("sts:AssumeRole {role_arn}: {e:?}"));
        let creds = out.credentials().expect("AssumeRole returned credentials");
        let provider = SharedCredentialsProvider::new(Credentials::new(
            creds.access_key_id(),
            creds.secret_access_key(),
            Some(creds.session_token().to_owned()),
            None,
            "moto-assume-role",
        ));
        SdkClients::new(
            self.sdk_config()
                .to_builder()
                .credentials_provider(provider)
                .build(),
        )
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if !std::thread::panicking() {
            let _ = std::fs::remove_file(&self.log);
        }
    }
}

/// Dummy static credentials: moto checks signatures' shape, not their secret.
pub fn dummy_credentials() -> SharedCredentialsProvider {
    SharedCredentialsProvider::new(Credentials::new(
        "testing",
        "testing",
        None,
        None,
        "trailwarden-moto-harness",
    ))
}

/// `$TRAILWARDEN_MOTO_SERVER`, else `.venv/bin/moto_server` in the nearest ancestor of this
/// crate (or of the running test's package) that has one.
fn find_moto_server() -> PathBuf {
    if let Some(path) = std::env::var_os(MOTO_SERVER_ENV) {
        let path = PathBuf::from(path);
        if path.is_file() {
            return path;
        }
        panic!(
            "{MOTO_SERVER_ENV}={} is not a file; point it at moto's `moto_server` script",
            path.display()
        );
    }
    let mut roots = vec![PathBuf::from(env!("CARGO_MANIFEST_DIR"))];
    if let Some(dir) = std::env::var_os("CARGO_MANIFEST_DIR") {
        roots.push(PathBuf::from(dir));
    }
    for root in &roots {
        for dir in root.ancestors() {
            let candidate = dir.join(".venv/bin/moto_server");
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    panic!(
        "moto_server not found: these tests run AWS calls against moto's server on 127.0.0.1.\n\
         Install it in the repository's root (as .ci/run does):\n    \
         python3 -m venv .venv && .venv/bin/pip install \"moto[server]==5.2.5\"\n\
         or set {MOTO_SERVER_ENV} to a moto_server executable. Looked in the ancestors of {}.",
        roots
            .iter()
            .map(|r| r.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("binding 127.0.0.1:0 for a free port")
}

/// True when something on the port answers an HTTP request with a status line.
fn answers_http(port: u16) -> bool {
    let attempt = || -> std::io::Result<bool> {
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        let mut stream = TcpStream::connect_timeout(&addr, Duration::from_millis(500))?;
        stream.set_read_timeout(Some(Duration::from_secs(2)))?;
        stream.write_all(
            b"GET /moto-api/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
        )?;
        let mut head = [0u8; 12];
        stream.read_exact(&mut head)?;
        Ok(head.starts_with(b"HTTP/1."))
    };
    attempt().unwrap_or(false)
}
