//! The load generator of `make bench-daemon`: offers request bodies to the daemon's
//! `POST /v1/events` at a fixed rate, open loop, and prints each request's latency counted
//! from its scheduled send time (so a slow answer cannot hide the queueing behind it).
//!
//! It replaced a Python client that spent a third of one of this machine's two cores at
//! 1,000 requests/s and, with its threads taking turns on the interpreter, sent requests
//! up to tens of milliseconds late: both counted in the daemon's latency.
//!
//! usage: offer_load PORT TOKEN_FILE BODIES RATE SECONDS [CONNECTIONS]
//!   BODIES: request bodies, each as a line with its length in bytes, then the body.
//!   Request n (from 0) sends body n mod the number of bodies at start + n / RATE, on
//!   connection n mod CONNECTIONS (default 64, each kept alive, on a thread of its own).
//!   Prints `{"latencies_ms": [...], "late_ms": [...], "errors": [...]}`.
//!
//! Bounded: RATE x SECONDS requests, each read with a 30 s timeout; loopback only.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

const TIMEOUT: Duration = Duration::from_secs(30);
/// The most a response's head may take: the daemon's are a few hundred bytes.
const MAX_HEAD_BYTES: usize = 16 * 1024;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if !(5..=6).contains(&args.len()) {
        eprintln!("usage: offer_load PORT TOKEN_FILE BODIES RATE SECONDS [CONNECTIONS]");
        std::process::exit(2);
    }
    let port: u16 = parse(&args[0], "PORT");
    let token = read(&args[1]);
    let bodies =
        Arc::new(split_bodies(&std::fs::read(&args[2]).unwrap_or_else(|e| {
            fail(&format!("cannot read {}: {e}", args[2]))
        })));
    let rate: f64 = parse(&args[3], "RATE");
    let seconds: f64 = parse(&args[4], "SECONDS");
    let connections: usize = args.get(5).map_or(64, |c| parse(c, "CONNECTIONS"));
    if bodies.is_empty() || rate <= 0.0 || seconds <= 0.0 || connections == 0 {
        fail("need at least one body, and a positive rate, duration and connection count");
    }
    let total = (rate * seconds) as usize;
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let head = Arc::new(format!(
        "POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\n",
        token.trim()
    ));
    let start = Instant::now() + Duration::from_millis(200);
    let threads: Vec<_> = (0..connections.min(total))
        .map(|k| {
            let (bodies, head) = (bodies.clone(), head.clone());
            std::thread::spawn(move || {
                let mut results = Results::default();
                let mut connection: Option<TcpStream> = None;
                for n in (k..total).step_by(connections) {
                    let scheduled = start + Duration::from_secs_f64(n as f64 / rate);
                    let now = Instant::now();
                    if scheduled > now {
                        std::thread::sleep(scheduled - now);
                    }
                    results.late_ms.push(ms(scheduled.elapsed()));
                    let body = &bodies[n % bodies.len()];
                    match send(&mut connection, address, &head, body) {
                        Ok(200) => results.latencies_ms.push(ms(scheduled.elapsed())),
                        Ok(status) => results.errors.push(format!("HTTP {status}")),
                        Err(e) => {
                            connection = None;
                            results.errors.push(e.to_string());
                        }
                    }
                }
                results
            })
        })
        .collect();
    let mut all = Results::default();
    for thread in threads {
        let results = thread.join().expect("a sender thread panicked");
        all.latencies_ms.extend(results.latencies_ms);
        all.late_ms.extend(results.late_ms);
        all.errors.extend(results.errors);
    }
    let report = serde_json::json!({
        "latencies_ms": all.latencies_ms,
        "late_ms": all.late_ms,
        "errors": all.errors,
    });
    println!("{report}");
}

#[derive(Default)]
struct Results {
    latencies_ms: Vec<f64>,
    late_ms: Vec<f64>,
    errors: Vec<String>,
}

/// Sends one request on `connection` (opened if there is none) and reads the whole
/// response; returns its status.
fn send(
    connection: &mut Option<TcpStream>,
    address: SocketAddr,
    head: &str,
    body: &[u8],
) -> std::io::Result<u16> {
    if connection.is_none() {
        let stream = TcpStream::connect_timeout(&address, TIMEOUT)?;
        stream.set_read_timeout(Some(TIMEOUT))?;
        stream.set_write_timeout(Some(TIMEOUT))?;
        stream.set_nodelay(true)?;
        *connection = Some(stream);
    }
    let stream = connection.as_mut().expect("connected above");
    let mut request = Vec::with_capacity(head.len() + 32 + body.len());
    request.extend_from_slice(head.as_bytes());
    request.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
    request.extend_from_slice(body);
    stream.write_all(&request)?;
    read_response(stream)
}

/// Reads a response's head and its `Content-Length` body; returns its status.
fn read_response(stream: &mut TcpStream) -> std::io::Result<u16> {
    let invalid =
        |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned());
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    let mut head_bytes = 0;
    let mut status = None;
    let mut length = None;
    loop {
        line.clear();
        let n = reader.read_line(&mut line)?;
        head_bytes += n;
        if n == 0 || head_bytes > MAX_HEAD_BYTES {
            return Err(invalid("the response ended or its head ran past 16 KiB"));
        }
        let text = line.trim_end();
        if status.is_none() {
            status = text.split(' ').nth(1).and_then(|s| s.parse::<u16>().ok());
            if status.is_none() {
                return Err(invalid("no status line"));
            }
            continue;
        }
        if text.is_empty() {
            break;
        }
        if let Some((name, value)) = text.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse::<u64>().ok();
            }
        }
    }
    let length = length.ok_or_else(|| invalid("no Content-Length"))?;
    // The body is read to its end so the next request starts on a clean connection; a
    // BufReader holds nothing past it (HTTP/1.1 without pipelining).
    std::io::copy(&mut reader.by_ref().take(length), &mut std::io::sink())?;
    if !reader.buffer().is_empty() {
        return Err(invalid("bytes past the response's body"));
    }
    Ok(status.expect("read above"))
}

/// Bodies written as `<length>\n<body>`, one after another.
fn split_bodies(data: &[u8]) -> Vec<Vec<u8>> {
    let mut bodies = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let Some(newline) = rest.iter().position(|b| *b == b'\n') else {
            fail("BODIES: a length line without its newline");
        };
        let length: usize = parse(&String::from_utf8_lossy(&rest[..newline]), "a body length");
        rest = &rest[newline + 1..];
        if rest.len() < length {
            fail("BODIES: a body shorter than its length");
        }
        bodies.push(rest[..length].to_vec());
        rest = &rest[length..];
    }
    bodies
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| fail(&format!("cannot read {path}: {e}")))
}

fn parse<T: std::str::FromStr>(text: &str, what: &str) -> T {
    text.trim()
        .parse()
        .unwrap_or_else(|_| fail(&format!("{what}: not a number: {text:?}")))
}

fn fail(message: &str) -> ! {
    eprintln!("offer_load: {message}");
    std::process::exit(2);
}
