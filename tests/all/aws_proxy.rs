//! A tiny HTTP proxy on 127.0.0.1 in front of moto: it counts the AWS calls that pass
//! (by query-protocol `Action` and the access key they name) and can answer the next calls
//! with injected faults (500 `ServiceFailure`, 400 `Throttling`) instead of forwarding.
//! One request per connection (`Connection: close` both ways), which the SDK handles.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the proxy answers instead of forwarding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    ServerError,
    Throttling,
}

#[derive(Default)]
struct State {
    faults: VecDeque<Fault>,
    /// Every call seen: its `Action`, its `AccessKeyId` (if any), and whether it was
    /// forwarded (false: answered with a fault).
    calls: Vec<(String, Option<String>, bool)>,
}

pub(crate) struct AwsProxy {
    pub(crate) endpoint: String,
    state: Arc<Mutex<State>>,
}

impl AwsProxy {
    /// Listens on a free port and forwards to `upstream` (`http://127.0.0.1:PORT`).
    pub(crate) fn start(upstream: &str) -> AwsProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let upstream = upstream.trim_start_matches("http://").to_string();
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { break };
                let (state, upstream) = (shared.clone(), upstream.clone());
                std::thread::spawn(move || {
                    let _ = serve(stream, &upstream, &state);
                });
            }
        });
        AwsProxy { endpoint, state }
    }

    /// The next calls get these faults, in order.
    pub(crate) fn inject(&self, faults: &[Fault]) {
        self.state.lock().unwrap().faults.extend(faults);
    }

    /// Faults not yet used.
    pub(crate) fn faults_left(&self) -> usize {
        self.state.lock().unwrap().faults.len()
    }

    /// Calls of `action` forwarded to moto, per access key named.
    pub(crate) fn forwarded(&self, action: &str) -> std::collections::BTreeMap<String, usize> {
        let mut counts = std::collections::BTreeMap::new();
        for (a, key, forwarded) in &self.state.lock().unwrap().calls {
            if a == action && *forwarded {
                *counts.entry(key.clone().unwrap_or_default()).or_insert(0) += 1;
            }
        }
        counts
    }

    /// Calls of `action` answered with a fault.
    pub(crate) fn refused(&self, action: &str) -> usize {
        let state = self.state.lock().unwrap();
        state
            .calls
            .iter()
            .filter(|(a, _, forwarded)| a == action && !forwarded)
            .count()
    }

    /// The `[aws]` table pointing the daemon at this proxy.
    pub(crate) fn aws_toml(&self) -> String {
        format!(
            "[aws]\nendpoint_url = \"{}\"\nregion = \"us-east-1\"\nplatform_account = \"{}\"\n",
            self.endpoint,
            crate::moto::ACCOUNT
        )
    }
}

/// Reads one request: its head (without the final blank line) and body.
fn read_request(stream: &mut TcpStream) -> std::io::Result<(String, Vec<u8>)> {
    let mut bytes = Vec::new();
    let mut buf = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        bytes.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&bytes[..head_end]).into_owned();
    let length = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = bytes[head_end + 4..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&buf[..n]);
    }
    Ok((head, body))
}

/// The head with any `Connection` header replaced by `Connection: close`.
fn closing(head: &str) -> String {
    let mut lines: Vec<&str> = head
        .split("\r\n")
        .filter(|l| {
            !l.split_once(':')
                .is_some_and(|(k, _)| k.trim().eq_ignore_ascii_case("connection"))
        })
        .collect();
    lines.push("Connection: close");
    lines.join("\r\n") + "\r\n\r\n"
}

fn form_value(body: &str, key: &str) -> Option<String> {
    body.split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v.to_string())
}

fn serve(mut client: TcpStream, upstream: &str, state: &Mutex<State>) -> std::io::Result<()> {
    client.set_read_timeout(Some(Duration::from_secs(30)))?;
    let (head, body) = read_request(&mut client)?;
    let text = String::from_utf8_lossy(&body);
    let action = form_value(&text, "Action").unwrap_or_default();
    let key = form_value(&text, "AccessKeyId");
    let fault = {
        let mut state = state.lock().unwrap();
        let fault = state.faults.pop_front();
        state.calls.push((action, key, fault.is_none()));
        fault
    };
    if let Some(fault) = fault {
        let (status, kind, code) = match fault {
            Fault::ServerError => ("500 Internal Server Error", "Receiver", "ServiceFailure"),
            Fault::Throttling => ("400 Bad Request", "Sender", "Throttling"),
        };
        let xml = format!(
            "<ErrorResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><Error>\
             <Type>{kind}</Type><Code>{code}</Code><Message>injected by the test</Message>\
             </Error><RequestId>injected</RequestId></ErrorResponse>"
        );
        let answer = format!(
            "HTTP/1.1 {status}\r\nContent-Type: text/xml\r\nContent-Length: {}\r\n\
             Connection: close\r\n\r\n{xml}",
            xml.len()
        );
        return client.write_all(answer.as_bytes());
    }
    let mut server = TcpStream::connect(upstream)?;
    server.set_read_timeout(Some(Duration::from_secs(30)))?;
    server.write_all(&[closing(&head).as_bytes(), &body].concat())?;
    let mut answer = Vec::new();
    server.read_to_end(&mut answer)?;
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(answer.len());
    let head = String::from_utf8_lossy(&answer[..split]).into_owned();
    let rest = answer.get(split + 4..).unwrap_or(&[]);
    client.write_all(&[closing(&head).as_bytes(), rest].concat())
}
