//! moto's server on 127.0.0.1 for the tests that talk to AWS: real HTTP, real SDK, real
//! request signing, dummy credentials. `.ci/run` installs moto in `.venv`.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::repo;

/// The dummy credentials and region everything here uses.
pub const REGION: &str = "us-east-1";
pub const ACCOUNT: &str = "123456789012";

/// A running `moto_server`, stopped when dropped.
pub struct Moto {
    child: Child,
    pub endpoint: String,
}

impl Moto {
    /// Starts moto on a free loopback port and waits (at most 60 s) until it answers.
    pub fn start() -> Moto {
        Moto::start_with(&[])
    }

    /// `start` with moto's own settings in its environment (e.g.
    /// `MOTO_IAM_LOAD_MANAGED_POLICIES`, for AWS managed policies such as AdministratorAccess).
    pub fn start_with(env: &[(&str, &str)]) -> Moto {
        let server = moto_server();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(&server)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", server.display()));
        let mut moto = Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            if let Ok(Some(status)) = moto.child.try_wait() {
                panic!("moto_server exited at start: {status}");
            }
            assert!(
                Instant::now() < deadline,
                "moto_server did not answer in 60 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        moto
    }

    /// An SDK configuration pointing at this server, with dummy credentials.
    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(Provider::Rustls(CryptoMode::Ring))
            .build_https();
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .http_client(http)
            .region(aws_config::Region::new(REGION))
            .endpoint_url(&self.endpoint)
            .credentials_provider(aws_sdk_s3::config::Credentials::new(
                "testing", "testing", None, None, "tests",
            ))
            .load()
            .await
    }

    /// An S3 client (path-style, as the daemon uses with an endpoint override).
    pub async fn s3(&self) -> aws_sdk_s3::Client {
        let sdk = self.sdk_config().await;
        aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&sdk)
                .force_path_style(true)
                .build(),
        )
    }

    /// The `[aws]` table for a trailwarden config: moto's account is trailwarden's own.
    pub fn aws_toml(&self) -> String {
        format!(
            "[aws]\nendpoint_url = \"{}\"\nregion = \"{REGION}\"\nplatform_account = \"{ACCOUNT}\"\n",
            self.endpoint
        )
    }

    /// Environment for a child process that talks to this server: dummy credentials, no
    /// profile files, no instance metadata lookups.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
            ("AWS_REGION", REGION.into()),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
            ("AWS_CONFIG_FILE", "/nonexistent".into()),
            ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent".into()),
        ]
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn moto_server() -> PathBuf {
    let path = repo().join(".venv/bin/moto_server");
    assert!(
        path.is_file(),
        "{} is missing: `python3 -m venv .venv && .venv/bin/pip install \"moto[server]==5.2.5\"` \
         (.ci/run does it)",
        path.display()
    );
    path
}
